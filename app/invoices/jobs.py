"""Old path of the billing run job: RQ stores a job by its dotted path, so a job queued (or a cron
scheduler started) before the move to app.billing.jobs still finds it here. Remove after a release.

Looked up by name on first use (PEP 562), so invoices does not depend on the billing run above it."""

import importlib


def __getattr__(name: str):
    if name == "billing_run_job":
        return importlib.import_module("app.billing.jobs").billing_run_job
    raise AttributeError(name)
