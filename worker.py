"""Run an RQ worker for Billfold's queue: `python worker.py [--burst]`.

Needs REDIS_URL. Jobs take database ids only (JSON serializer) and each runs in
an app context of its own. Retries are not RQ's: a failed attempt records its
retry time on the outbox row and the sweeper (`rq cron app/cron.py`) hands it
over again; the worker still runs RQ's scheduler for scheduled jobs.
"""

from __future__ import annotations

import argparse
import sys

from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer

from app import create_app
from app.core.queue import dispose_engine_after_fork, get_queue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    parser.add_argument(
        "--no-fork",
        action="store_true",
        help="run jobs in the worker process (faster: no fork, one database and SMTP-ready process) "
        "instead of a fresh forked process per job",
    )
    args = parser.parse_args(argv)

    app = create_app()
    with app.app_context():
        queue = get_queue(app)
        if queue is None:
            print("REDIS_URL is not set: jobs run in-process, no worker is needed.", file=sys.stderr)
            return 2
        dispose_engine_after_fork(app)
        worker_class = SimpleWorker if args.no_fork else Worker
        worker = worker_class([queue], connection=queue.connection, serializer=JSONSerializer)
        worker.work(burst=args.burst, with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
