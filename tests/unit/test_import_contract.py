"""The custom import-linter contract (tests/architecture/public_modules.py) refuses what it should."""

from __future__ import annotations

import grimp

from tests.architecture.public_modules import PublicModulesContract

MODULES = ["app", "app.cli", "app.wallet", "app.wallet.services", "app.wallet.views", "app.wallet.uploads"]
MODULES += ["app.admin", "app.admin.views", "app.invoices", "app.invoices.services", "app.invoices.views"]


def _graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for module in MODULES:
        graph.add_module(module)
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported, line_number=3, line_contents=f"from {imported} import x")
    return graph


def _check(graph, also_public=()):
    contract = PublicModulesContract(
        name="public modules",
        session_options={"root_packages": ["app"]},
        contract_options={
            "packages": ["app.wallet", "app.admin", "app.invoices"],
            "public": ["services", "models"],
            "also_public": list(also_public),
            "wiring": ["app", "app.cli"],
        },
    )
    return contract.check(graph, verbose=False)


def test_another_domains_services_may_be_imported_but_not_its_views():
    assert _check(_graph(("app.admin.views", "app.wallet.services"))).kept
    broken = _check(_graph(("app.admin.views", "app.wallet.views")))
    assert not broken.kept
    assert [(i, m) for i, m, *_ in broken.metadata["broken"]] == [("app.admin.views", "app.wallet.views")]


def test_a_package_imports_its_own_modules_and_the_wiring_imports_anything():
    assert _check(_graph(("app.wallet.views", "app.wallet.uploads"), ("app", "app.admin.views"))).kept


def test_a_module_the_contract_names_is_public():
    graph = _graph(("app.admin.views", "app.wallet.uploads"))
    assert not _check(graph).kept
    assert _check(graph, also_public=["app.wallet.uploads"]).kept
