"""Run an RQ worker for Billfold's queues: `python worker.py [--queues mail,sms] [--burst] [--fork]`.

Needs REDIS_URL. Jobs take database ids only (JSON serializer) and each runs in
an app context of its own. Retries are not RQ's: a failed attempt records its
retry time on the outbox row and the sweeper (`rq cron app/cron.py`) hands it
over again; the worker still runs RQ's scheduler for scheduled jobs.

By default a worker runs its jobs in its own process (RQ's SimpleWorker): the
database pool and the SMTP connection (app.notify.smtp) stay open from job to
job, which is what makes a mail backlog go out fast. `--fork` runs each job in a
fresh forked process instead (RQ's Worker: a job that leaks or crashes takes
only its child down, and a job over its timeout is killed), at the cost of a
connection per job.

`--queues` takes queue names or kinds of job (default, billing, sms, mail; see
RQ_QUEUE_MAIL, RQ_QUEUE_SMS, RQ_QUEUE_BILLING), comma separated; without it the
worker serves all of Billfold's queues, in that order.
"""

from __future__ import annotations

import argparse
import sys

from rq import Queue, SimpleWorker, Worker
from rq.serializers import JSONSerializer

from app import create_app
from app.core.queue import QUEUE_KINDS, dispose_engine_after_fork, get_redis, queue_name, queue_names
from app.notify.smtp import close_connections


def chosen_queues(app, wanted: str | None) -> list[str]:
    """Queue names for `--queues` ("mail,sms", or names): all of Billfold's when not given."""
    if not wanted:
        return queue_names(app)
    names = [queue_name(w, app) if w in QUEUE_KINDS else w for w in (w.strip() for w in wanted.split(",")) if w]
    return list(dict.fromkeys(names))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument("--queues", help="comma separated queue names or kinds (default, billing, sms, mail)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fork", action="store_true", help="run each job in a fresh forked process")
    mode.add_argument(
        "--no-fork",
        action="store_true",
        help="run jobs in the worker process, keeping database and SMTP connections (the default)",
    )
    args = parser.parse_args(argv)

    app = create_app()
    with app.app_context():
        conn = get_redis(app)
        if conn is None:
            print("REDIS_URL is not set: jobs run in-process, no worker is needed.", file=sys.stderr)
            return 2
        queues = [Queue(name, connection=conn, serializer=JSONSerializer) for name in chosen_queues(app, args.queues)]
        dispose_engine_after_fork(app)
        worker_class = Worker if args.fork else SimpleWorker
        worker = worker_class(queues, connection=conn, serializer=JSONSerializer)
        try:
            worker.work(burst=args.burst, with_scheduler=True)
        finally:
            close_connections()
    return 0


if __name__ == "__main__":
    sys.exit(main())
