"""All the benchmarks in one run (`make bench`): one table, and bench/RESULTS.md.

    make bench                                   # PostgreSQL, Redis and wrk set up as on CI
    .venv/bin/python bench/run.py [--clients 10000] [--duration 10] [--quick]

Runs, each in processes of its own: the pages under gunicorn with wrk
(bench/pages.py, which also times the PDFs), the billing run at 10k and 100k
services (bench/billing_run.py) and the outbox through real Redis and SMTP with
two workers (bench/messages.py). Each script hands its figures back as JSON.
The targets of issue 14 are printed beside the figures; they are goals to read,
not assertions: a benchmark never fails a build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"

PAGE_TARGET = 0.30  # of /healthz requests/s
P99_TARGET_MS = 50


def run_script(script: str, *args: str) -> dict:
    """Run bench/<script> with `args` and read the JSON it writes."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        command = [sys.executable, str(ROOT / "bench" / script), *args, "--json", str(out)]
        print(f"$ {' '.join(command[1:])}", file=sys.stderr, flush=True)
        subprocess.run(command, cwd=ROOT, check=True)  # noqa: S603 (our own scripts)
        return json.loads(out.read_text())


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{system}, {os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}"


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def rows(pages: dict | None, billing: dict | None, outbox: dict | None) -> list[tuple[str, str, str, str]]:
    """(what, figure, target, verdict) for the table."""
    table = []
    if pages:
        base = pages["pages"]["/healthz"]
        table.append(("/healthz", f"{base['rps']:.0f} req/s, p99 {base['p99'] * 1000:.1f} ms", "(the yardstick)", ""))
        for label, r in pages["pages"].items():
            if label == "/healthz" or "PDF" in label:
                continue
            ratio, p99 = r["rps"] / base["rps"], r["p99"] * 1000
            table.append(
                (
                    label,
                    f"{ratio:.3f} of /healthz ({r['rps']:.0f} req/s), p50 {r['p50'] * 1000:.1f} ms, p99 {p99:.1f} ms",
                    f">= {PAGE_TARGET} and p99 <= {P99_TARGET_MS} ms",
                    verdict(ratio >= PAGE_TARGET and p99 <= P99_TARGET_MS),
                )
            )
        cached = pages["pdf_cached"]
        table.append(
            (
                "invoice PDF, cached (one connection)",
                f"p50 {cached['p50'] * 1000:.1f} ms",
                "<= 5 ms",
                verdict(cached["p50"] * 1000 <= 5),
            )
        )
        table.append(
            (
                "invoice PDF, rendered fresh",
                f"{pages['pdf_fresh_ms']:.0f} ms",
                "<= 100 ms",
                verdict(pages["pdf_fresh_ms"] <= 100),
            )
        )
    if billing:
        for r in billing["runs"]:
            if r.get("users"):
                table.append(
                    (
                        f"billing run, {r['services']:,} services, an owner emailed per proforma",
                        f"{r['services_per_s']:,.0f} services/s ({r['seconds']:.1f} s)",
                        "",
                        "",
                    )
                )
        by_size = {r["services"]: r for r in billing["runs"] if not r.get("users")}
        for size, r in sorted(by_size.items()):
            table.append(
                (
                    f"billing run, {size:,} services",
                    f"{r['services_per_s']:,.0f} services/s ({r['seconds']:.1f} s, "
                    f"{r['statements_per_batch']:.0f} statements per batch)",
                    ">= 10,000 services/s at 100k" if size >= 100_000 else "",
                    verdict(r["services_per_s"] >= 10_000) if size >= 100_000 else "",
                )
            )
        if len(by_size) >= 2:
            small, large = min(by_size), max(by_size)
            growth = by_size[large]["seconds"] / by_size[small]["seconds"]
            scale = large / small
            table.append(
                (
                    f"billing run, time at {large:,} / at {small:,}",
                    f"{growth:.1f}x for {scale:.0f}x the services",
                    f"<= {1.1 * scale:.0f}x",
                    verdict(growth <= 1.1 * scale),
                )
            )
    if outbox:
        for r in outbox["runs"]:
            target = r["workers"] == 2 and not r.get("fork")
            table.append(
                (
                    f"outbox, {r['workers']} worker(s){' forking' if r.get('fork') else ''}",
                    f"{r['flowing_per_s']:,.0f} emails/s once running, {r['sent_per_s']:,.0f} with the workers' "
                    f"start-up ({r['sent']:,} sent, each exactly once: {'yes' if r['each_once'] else 'NO'})",
                    ">= 500 emails/s" if target else "",
                    verdict(r["flowing_per_s"] >= 500 and r["each_once"]) if target else "",
                )
            )
    return table


def render_markdown(table, pages: dict | None, args) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (bench/run.py) on {when}.",
        "",
        f"- Machine: {machine()}.",
    ]
    if pages:
        data = ", ".join(f"{n:,} {t}" for t, n in pages["data"].items())
        lines += [
            f"- Data (`flask seed-bench --clients {args.clients}`, PostgreSQL): {data}; the heavy client has "
            f"{pages['heavy_invoices']:,} documents.",
            f"- Load: {pages['load']}; everything (PostgreSQL, gunicorn, wrk) on the one machine.",
        ]
    lines += [
        "- The ratios compare each page with `/healthz` of the same server in the same run, so machines compare;",
        "  the targets are issue 14's, read here, never asserted by a test.",
        "",
        "| what | figure | target | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {what} | {figure} | {target} | {ok} |" for what, figure, target, ok in table]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per page")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--sizes", default="10000,100000", help="billing run sizes (services)")
    parser.add_argument("--messages", type=int, default=5000, help="outbox emails")
    parser.add_argument("--only", default="pages,billing,outbox", help="which benchmarks, comma separated")
    parser.add_argument("--no-write", action="store_true", help="print the table only, leave bench/RESULTS.md")
    args = parser.parse_args()
    only = set(args.only.split(","))

    pages = billing = outbox = None
    if "pages" in only:
        pages = run_script(
            "pages.py",
            f"--clients={args.clients}",
            f"--duration={args.duration}",
            f"--connections={args.connections}",
            f"--workers={args.workers}",
        )
    if "billing" in only:
        billing = run_script("billing_run.py", f"--sizes={args.sizes}")
        # The same run where every client has an owner who is emailed each proforma.
        with_users = run_script("billing_run.py", f"--sizes={args.sizes.split(',')[0]}", "--users")
        billing["runs"] += [{**r, "users": True} for r in with_users["runs"]]
    if "outbox" in only:
        outbox = run_script("messages.py", f"--messages={args.messages}", "--workers=2", "--modes=no-fork,fork")

    table = rows(pages, billing, outbox)
    width = max(len(what) for what, *_ in table)
    print()
    for what, figure, target, ok in table:
        print(f"{what:<{width}}  {figure:<78} {target:<32} {ok}")
    if not args.no_write:
        RESULTS.write_text(render_markdown(table, pages, args))
        print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
