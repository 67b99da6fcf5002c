"""Benchmark the email outbox: queued messages sent/s through a real Redis and SMTP server.

    source .ci/postgres.sh && start_postgres     # or set BENCH_DATABASE_URL
    .venv/bin/python bench/messages.py [--messages 5000] [--workers 1,2] [--modes fork,no-fork]

Writes N outbox emails in one transaction (as the billing run does), which
hands their batch jobs (one per OUTBOX_BATCH ids) to RQ on a redis-server of its
own after the commit, in one pipeline; then runs `python worker.py --burst`
processes (in-process jobs, the default, reusing one SMTP connection each; and
`--fork`, a fresh process per job, for comparison) until the queues are empty.
A local aiosmtpd server counts what it receives by Message-ID: every message must
arrive exactly once (the run fails otherwise). Reports written/s, sent/s from
the workers' start to their exit (process start included), and flowing/s, from
the first message at the SMTP server to the last (the workers' steady rate), and the
CPU time per message of the workers (start-up included) and of the SMTP server (the
machine's cores bound the sum).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from bench._pg import fresh_database  # noqa: E402
from config import DevelopmentConfig  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MESSAGE_ID = re.compile(rb"^Message-ID: <outbox-(\d+)@", re.MULTILINE | re.IGNORECASE)


class CountingHandler:
    """Counts the messages it receives, by outbox id (the Message-ID), and the SMTP sessions."""

    def __init__(self) -> None:
        self.by_id: dict[int, int] = {}
        self.sessions = 0
        self.first = self.last = 0.0  # perf_counter of the first and last message received
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.by_id, self.sessions, self.first, self.last = {}, 0, 0.0, 0.0

    @property
    def received(self) -> int:
        return sum(self.by_id.values())

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        found = MESSAGE_ID.search(envelope.original_content or envelope.content)
        with self.lock:
            key = int(found.group(1)) if found else -1
            self.by_id[key] = self.by_id.get(key, 0) + 1
            self.last = time.perf_counter()
            self.first = self.first or self.last
        return "250 OK"


def start_redis(port: int, directory: str) -> subprocess.Popen:
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    process = subprocess.Popen(  # noqa: S603 (a fixed binary and arguments)
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


def run(
    n_messages: int, n_workers: int, fork: bool, url: str, redis_url: str, smtp_port: int, handler: CountingHandler
) -> dict:
    from redis import Redis

    from app.clients.models import User
    from app.notify.email import queue_email
    from app.notify.models import EmailMessage, MessageStatus

    overrides = {
        "SQLALCHEMY_DATABASE_URI": url,
        "REDIS_URL": redis_url,
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_port,
    }
    app = create_app(DevelopmentConfig, overrides)
    Redis.from_url(redis_url).flushall()
    handler.reset()
    with app.app_context():
        db.session.execute(sa.delete(EmailMessage))
        db.session.commit()
        owner = db.session.scalar(sa.select(User).order_by(User.id))
        started = time.perf_counter()
        for _ in range(n_messages):
            queue_email(
                "welcome", to=owner, client=owner.client, login_url="https://billing.example/login", flush=False
            )
        db.session.commit()  # after the commit: one RQ job per OUTBOX_BATCH messages
        written = time.perf_counter() - started
        expected = set(db.session.scalars(sa.select(EmailMessage.id)))
        db.engine.dispose()

    env = {
        **os.environ,
        "BILLFOLD_ENV": "development",
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
    }
    started, sink_cpu = time.perf_counter(), time.process_time()  # this process now only runs the SMTP server
    workers = [
        subprocess.Popen(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "worker.py", "--burst", *(["--fork"] if fork else [])],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n_workers)
    ]
    # CPU seconds of the workers (their whole life: start-up included) and of the SMTP server.
    worker_cpu = 0.0
    for worker in workers:
        _, status, usage = os.wait4(worker.pid, 0)
        worker.returncode = os.waitstatus_to_exitcode(status)
        worker_cpu += usage.ru_utime + usage.ru_stime
        if worker.returncode != 0:
            print(f"a worker exited with {worker.returncode}", file=sys.stderr)
    sent_in = time.perf_counter() - started
    sink_cpu = time.process_time() - sink_cpu
    with app.app_context():
        sent = db.session.scalar(
            sa.select(sa.func.count(EmailMessage.id)).where(EmailMessage.status == MessageStatus.SENT)
        )
        db.engine.dispose()
    with handler.lock:
        by_id, flowing = dict(handler.by_id), handler.last - handler.first
    twice = sum(1 for count in by_id.values() if count > 1)
    missing = len(expected - by_id.keys())
    return {
        "workers": f"{n_workers} {'fork' if fork else 'no-fork'}",
        "messages": n_messages,
        "written_per_s": n_messages / written,
        "sent": sent,
        "received": handler.received,
        "twice": twice,
        "missing": missing,
        "sessions": handler.sessions,
        "seconds": sent_in,
        "sent_per_s": sent / sent_in,
        # Once the workers are up (a worker process takes seconds to import and build the app):
        # from the first message at the SMTP server to the last.
        "flowing_per_s": (handler.received - 1) / flowing if flowing > 0 else 0.0,
        "worker_cpu_ms": 1000 * worker_cpu / max(1, handler.received),
        "sink_cpu_ms": 1000 * sink_cpu / max(1, handler.received),
    }


def main() -> None:
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--workers", default="1,2", help="worker processes per run, comma separated")
    parser.add_argument("--modes", default="fork,no-fork", help="worker modes to run: fork, no-fork")
    parser.add_argument(
        "--fork-messages", type=int, default=1000, help="messages for the (slow) forking runs, at most --messages"
    )
    parser.add_argument("--database", default="billfold_bench_messages", help="the throwaway database's name")
    parser.add_argument("--json", type=Path, help="also write the figures to this file (bench/run.py reads it)")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not set(modes) <= {"fork", "no-fork"}:
        raise SystemExit("--modes takes fork and/or no-fork")

    url = fresh_database(args.database)
    with create_app(DevelopmentConfig, {"SQLALCHEMY_DATABASE_URI": url}).app_context():
        from flask_migrate import upgrade

        from app.auth.services import SignUp, register_client
        from app.clients.models import ClientKind

        upgrade()
        register_client(
            SignUp(
                email="bench@example.com",
                password="bench-password-1",  # noqa: S106 (a throwaway database)
                name="Bench Client",
                kind=ClientKind.PERSON,
                country="RO",
            )
        )
        db.session.commit()
        db.engine.dispose()

    handler = CountingHandler()
    smtp_port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    with tempfile.TemporaryDirectory() as directory:
        redis_port = free_port()
        redis = start_redis(redis_port, directory)
        try:
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            results = [
                run(
                    min(args.fork_messages, args.messages) if mode == "fork" else args.messages,
                    int(n),
                    mode == "fork",
                    url,
                    redis_url,
                    smtp_port,
                    handler,
                )
                for mode in modes
                for n in args.workers.split(",")
            ]
        finally:
            redis.terminate()
            redis.wait(timeout=10)
            controller.stop()

    print(
        f"{'workers':>12} {'messages':>9} {'written/s':>10} {'sent':>6} {'at SMTP':>8} {'twice':>6} {'missing':>8} "
        f"{'sessions':>9} {'seconds':>8} {'sent/s':>8} {'flowing/s':>10} {'cpu ms/msg':>10} {'smtpd ms':>9}"
    )
    for r in results:
        print(
            f"{r['workers']:>12} {r['messages']:>9} {r['written_per_s']:>10.0f} {r['sent']:>6} {r['received']:>8} "
            f"{r['twice']:>6} {r['missing']:>8} {r['sessions']:>9} {r['seconds']:>8.1f} {r['sent_per_s']:>8.0f} "
            f"{r['flowing_per_s']:>10.0f} {r['worker_cpu_ms']:>10.2f} {r['sink_cpu_ms']:>9.2f}"
        )
    if args.json:
        runs = [
            {
                **r,
                "workers": int(r["workers"].split()[0]),
                "fork": r["workers"].endswith(" fork"),
                "each_once": not r["twice"] and not r["missing"] and r["sent"] == r["messages"],
            }
            for r in results
        ]
        args.json.write_text(json.dumps({"runs": runs}, indent=2))
    wrong = [r["workers"] for r in results if r["twice"] or r["missing"] or r["sent"] != r["messages"]]
    if wrong:
        raise SystemExit(f"not every message reached SMTP exactly once in: {', '.join(wrong)}")


if __name__ == "__main__":
    main()
