"""Running jobs at the same moment, each in its own thread and session."""

from __future__ import annotations

import threading

from app.extensions import db


def run_together(app, jobs) -> list[BaseException]:
    """Start every job at the same moment, each in its own thread and session."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job):
        with app.app_context():
            try:
                barrier.wait()
                job()
                db.session.commit()
            except BaseException as error:
                db.session.rollback()
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors
