"""Median answer time of /forgot-password and /register for a known and an unknown address.

    .venv/bin/python bench/enumeration.py [--requests 200]

The production shape for jobs: a redis-server of its own on a free port, so the
request only hands the job over (the job itself runs later, in a worker). The
app is built with production password hashing. Reports each median and the
difference; the two medians of a form should be within noise of each other.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    from app.core.queue import get_queue
    from tests.conftest import make_app, migrate_database
    from tests.helpers import csrf_token, make_owner

    port = free_port()
    redis = subprocess.Popen(  # noqa: S603 (a fixed binary and arguments)
        [shutil.which("redis-server"), "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
        migrate_database(url)
        app = make_app(url, REDIS_URL=f"redis://127.0.0.1:{port}/0", PASSWORD_HASH_FAST=False)
        make_owner(app, email="known@example.com")
        client = app.test_client()
        forms = {
            "/forgot-password": lambda email: {"email": email},
            "/register": lambda email: {
                "name": "Bench Mark",
                "email": email,
                "password": "a-long-password",
                "kind": "person",
                "country": "RO",
            },
        }
        for path, form in forms.items():
            token = csrf_token(client, path)
            # Alternate the two addresses, so a change of machine load hits both alike.
            times = {"known": [], "unknown": []}
            for _ in range(args.requests):
                for label, email in (("known", "known@example.com"), ("unknown", "nobody@example.com")):
                    start = time.perf_counter()
                    client.post(path, data={**form(email), "csrf_token": token})
                    times[label].append((time.perf_counter() - start) * 1000)
            with app.app_context():
                get_queue().empty()
            medians = {label: statistics.median(values) for label, values in times.items()}
            difference = medians["known"] - medians["unknown"]
            print(
                f"{path:18} known {medians['known']:7.2f} ms   unknown {medians['unknown']:7.2f} ms   "
                f"difference {difference:+6.2f} ms"
            )
    finally:
        redis.terminate()
        redis.wait()


if __name__ == "__main__":
    main()
