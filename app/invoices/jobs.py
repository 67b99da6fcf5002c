"""Old path of the billing run job: RQ stores a job by its dotted path, so a job queued (or a cron
scheduler started) before the move to app.billing.jobs still finds it here. Remove after a release."""

from app.billing.jobs import billing_run_job  # noqa: F401
