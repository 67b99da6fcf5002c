"""RQ cron schedule: `rq cron app/cron.py --url $REDIS_URL`.

- the billing run, daily at 02:00 UTC (idempotent: a second run the same day does nothing);
- the outbox sweeper, every minute (re-enqueues messages left queued);
- the e-Factura sweep, every five minutes (uploads and asks ANAF about what is due; off unless
  EFACTURA_ENABLED).

Safe on every host: each job takes a lock (app.core.locks) and a copy another
host's scheduler enqueued at the same time skips.
"""

from __future__ import annotations

import functools
import os

import rq.cron
from rq import Queue
from rq.serializers import JSONSerializer

from app.billing.jobs import billing_run_job
from app.einvoice.jobs import efactura_sweep_job
from app.notify.jobs import flush_outbox_job

# RQ's cron scheduler enqueues with the default (pickle) serializer and has no
# option for another; our workers read JSON only, so its queues must write JSON.
rq.cron.Queue = functools.partial(Queue, serializer=JSONSerializer)

QUEUE = os.environ.get("RQ_QUEUE", "billfold")

BILLING_QUEUE = os.environ.get("RQ_QUEUE_BILLING", QUEUE)
BILLING_RUN_CRON = os.environ.get("BILLING_RUN_CRON", "0 2 * * *")

rq.cron.register(billing_run_job, BILLING_QUEUE, cron=BILLING_RUN_CRON, name="billing-run")
rq.cron.register(flush_outbox_job, QUEUE, interval=60, name="outbox-flush")
rq.cron.register(efactura_sweep_job, QUEUE, interval=300, name="efactura-sweep")
