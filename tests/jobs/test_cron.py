"""The RQ cron schedule and the billing CLI."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from rq import SimpleWorker
from rq.cron import CronScheduler
from rq.serializers import JSONSerializer

from app.core.queue import get_queue
from app.extensions import db
from app.invoices.models import BillingRun, Invoice
from tests.helpers import make_owner, make_service


def test_a_billing_run_job_queued_under_its_old_path_still_runs():
    """RQ stores the job's dotted path; jobs queued before the move to app.billing name app.invoices.jobs."""
    from app.billing.jobs import billing_run_job
    from app.core.queue import _resolve

    assert _resolve("app.invoices.jobs.billing_run_job") is billing_run_job


def test_flask_billing_run_cli_is_idempotent(app, runner):
    owner = make_owner(app)
    make_service(app, owner.client_id, due=date(2026, 12, 10))

    first = runner.invoke(args=["billing", "run", "--date", "2026-12-01"])
    second = runner.invoke(args=["billing", "run", "--date", "2026-12-01"])

    assert first.exit_code == 0 and "1 renewal proforma(s)" in first.output
    assert second.exit_code == 0 and "0 renewal proforma(s)" in second.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Invoice.id)).where(Invoice.origin == "renewal")) == 1
    bad = runner.invoke(args=["billing", "run", "--date", "2026-02-30"])
    assert bad.exit_code != 0 and "does not match the format" in bad.output


class TestCronOnRedis:
    @pytest.fixture
    def app_overrides(self, redis_url):
        return {"REDIS_URL": redis_url}

    @pytest.mark.redis
    def test_cron_schedule_enqueues_json_jobs_that_a_worker_runs(self, app):
        """`rq cron app/cron.py` registers the billing run, the outbox sweeper and the
        e-Factura sweep; what it enqueues is readable by our JSON-only workers."""
        with app.app_context():
            queue = get_queue()
            scheduler = CronScheduler(connection=queue.connection)
            scheduler.load_config_from_file("app/cron.py")
            assert sorted(job.name for job in scheduler._cron_jobs) == ["billing-run", "efactura-sweep", "outbox-flush"]
            for cron_job in scheduler._cron_jobs:
                cron_job.enqueue(queue.connection)
            assert queue.count == 3

            SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)

            assert queue.failed_job_registry.count == 0
            assert db.session.scalar(sa.select(sa.func.count(BillingRun.id))) == 1
