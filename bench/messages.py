"""Benchmark the email outbox: queued messages sent/s through a real Redis and SMTP server.

    source .ci/postgres.sh && start_postgres     # or set BENCH_DATABASE_URL
    .venv/bin/python bench/messages.py [--messages 2000] [--workers 1,2]

Writes N outbox emails in one transaction (as the billing run does), which
hands N jobs to RQ on a redis-server of its own after the commit; then runs
`python worker.py --burst` processes (forking a process per job, RQ's default,
then with --no-fork) until the queue is empty and every message reached a local
aiosmtpd server. Reports messages written/s and sent/s.
"""

from __future__ import annotations

import argparse
import os
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


class CountingHandler:
    def __init__(self) -> None:
        self.received = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received += 1
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
    handler.received = 0
    with app.app_context():
        db.session.execute(sa.delete(EmailMessage))
        db.session.commit()
        owner = db.session.scalar(sa.select(User).order_by(User.id))
        started = time.perf_counter()
        for _ in range(n_messages):
            queue_email(
                "welcome", to=owner, client=owner.client, login_url="https://billing.example/login", flush=False
            )
        db.session.commit()  # after the commit: one RQ job per message
        written = time.perf_counter() - started
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
    started = time.perf_counter()
    workers = [
        subprocess.Popen(  # noqa: S603 (our own interpreter and script)
            [sys.executable, "worker.py", "--burst", *([] if fork else ["--no-fork"])],
            cwd=ROOT,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n_workers)
    ]
    for worker in workers:
        worker.wait(timeout=1800)
    sent_in = time.perf_counter() - started
    with app.app_context():
        sent = db.session.scalar(
            sa.select(sa.func.count(EmailMessage.id)).where(EmailMessage.status == MessageStatus.SENT)
        )
        db.engine.dispose()
    return {
        "workers": f"{n_workers}{'' if fork else ' no-fork'}",
        "messages": n_messages,
        "written_per_s": n_messages / written,
        "sent": sent,
        "received": handler.received,
        "seconds": sent_in,
        "sent_per_s": sent / sent_in,
    }


def main() -> None:
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", default="1,2", help="worker processes per run, comma separated")
    args = parser.parse_args()

    url = fresh_database("billfold_bench_messages")
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
                run(args.messages, int(n), fork, url, redis_url, smtp_port, handler)
                for fork in (True, False)
                for n in args.workers.split(",")
            ]
        finally:
            redis.terminate()
            redis.wait(timeout=10)
            controller.stop()

    print(f"{'workers':>12} {'messages':>9} {'written/s':>10} {'sent':>6} {'at SMTP':>8} {'seconds':>8} {'sent/s':>8}")
    for r in results:
        print(
            f"{r['workers']:>12} {r['messages']:>9} {r['written_per_s']:>10.0f} {r['sent']:>6} {r['received']:>8} "
            f"{r['seconds']:>8.1f} {r['sent_per_s']:>8.0f}"
        )


if __name__ == "__main__":
    main()
