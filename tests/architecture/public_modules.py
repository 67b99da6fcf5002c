"""An import-linter contract: a domain package is used from outside only through its public modules.

    [[tool.importlinter.contracts]]
    type = "public_modules"
    packages = ["app.*"]                # each of these is a domain
    public = ["services", "models"]      # the modules any package may import
    also_public = ["app.invoices.tax"]   # a small module a domain names public
    wiring = ["app", "app.cli"]          # modules that assemble the app and may import anything

A package's own modules import each other freely; `app.x` itself (its __init__) is public.
"""

from __future__ import annotations

from importlinter import Contract, ContractCheck, fields, output
from importlinter.domain import helpers


class PublicModulesContract(Contract):
    type_name = "public_modules"

    packages = fields.ListField(subfield=fields.ModuleExpressionField())
    public = fields.ListField(subfield=fields.StringField())
    also_public = fields.ListField(subfield=fields.StringField(), required=False, default=[])
    wiring = fields.ListField(subfield=fields.StringField(), required=False, default=[])

    def check(self, graph, verbose: bool) -> ContractCheck:
        packages = {
            module.name
            for module in helpers.module_expressions_to_modules(graph, self.packages, as_packages=False)
            if graph.find_children(module.name)  # packages only, not plain modules such as app.cli
        }
        wiring = set(self.wiring)
        broken = []
        for package in sorted(packages):
            public = {package, *(f"{package}.{name}" for name in self.public), *self.also_public}
            for module in sorted(graph.find_descendants(package)):
                if module in public:
                    continue
                for importer in sorted(graph.find_modules_that_directly_import(module)):
                    if importer in wiring or importer == package or importer.startswith(package + "."):
                        continue
                    for detail in graph.get_import_details(importer=importer, imported=module):
                        broken.append((importer, module, detail["line_number"], detail["line_contents"]))
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, module, line, contents in check.metadata["broken"]:
            output.print_error(f"{importer} (l.{line}) imports {module}, not a public module: {contents}")
        output.new_line()
        output.print("Import the package's services (or models), or name a small module in also_public.")
