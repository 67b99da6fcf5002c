"""Architecture figures for the note: imports inside functions, package cycles,
longest functions and views, and test fixtures defined in more than one module.

    .venv/bin/python scripts/arch_figures.py
"""

from __future__ import annotations

import ast
import collections
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules(base: str):
    for path in sorted((ROOT / base).rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def figures() -> dict:
    inner_imports = []
    graph: dict[str, set[str]] = collections.defaultdict(set)
    functions = []
    views = []
    for path, tree in _modules("app"):
        name = _module_name(path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                functions.append((length, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"))
                if any(_is_route(d) for d in node.decorator_list):
                    views.append((length, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"))
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)) and _is_app_import(inner):
                        inner_imports.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
            inner_module = isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app.")
            if inner_module and _package(node.module) != _package(name):
                graph[_package(name)].add(_package(node.module))
    return {
        "inner_imports": inner_imports,
        "cycles": _cycles(graph),
        "functions": sorted(functions, reverse=True),
        "views": sorted(views, reverse=True),
        "fixtures": _copied_fixtures(),
        "test_imports": _test_imports(),
    }


def _is_route(decorator) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr in {"route", "get", "post"}


def _is_app_import(node) -> bool:
    if isinstance(node, ast.ImportFrom):
        return bool(node.module) and (node.module == "app" or node.module.startswith("app."))
    return any(alias.name.startswith("app.") for alias in node.names)


def _cycles(graph) -> list[tuple[str, str]]:
    """Pairs of packages that reach each other (directly or through others)."""

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reached = {p: reach(p) for p in list(graph)}
    return sorted({tuple(sorted((a, b))) for a in reached for b in reached[a] if a != b and a in reached.get(b, ())})


def _copied_fixtures() -> dict[str, list[str]]:
    where = collections.defaultdict(list)
    for path, tree in _modules("tests"):
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list):
                where[node.name].append(str(path.relative_to(ROOT)))
    return {name: files for name, files in where.items() if len(files) > 1}


def _test_imports() -> list[str]:
    found = []
    for path, tree in _modules("tests"):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tests.test"):
                found.append(f"{path.relative_to(ROOT)} <- {node.module}")
            if isinstance(node, ast.ImportFrom) and node.module and ".test_" in node.module:
                found.append(f"{path.relative_to(ROOT)} <- {node.module}")
    return sorted(set(found))


def main() -> int:
    f = figures()
    print(f"imports of app inside functions: {len(f['inner_imports'])}")
    print(f"package cycles: {len(f['cycles'])}")
    for a, b in f["cycles"]:
        print(f"  {a} <-> {b}")
    print(f"functions over 60 lines: {sum(1 for n, _ in f['functions'] if n > 60)}")
    for n, where in f["functions"][:8]:
        print(f"  {n:4d} {where}")
    print(f"views over 30 lines: {sum(1 for n, _ in f['views'] if n > 30)}")
    for n, where in f["views"][:8]:
        print(f"  {n:4d} {where}")
    copies = sum(len(v) for v in f["fixtures"].values())
    print(f"test fixtures defined in more than one module: {len(f['fixtures'])} names, {copies} definitions")
    for name, files in sorted(f["fixtures"].items(), key=lambda kv: -len(kv[1]))[:10]:
        print(f"  {name}: {len(files)}")
    print(f"test modules importing another test module: {len(f['test_imports'])}")
    for line in f["test_imports"]:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
