"""Where a study lives, and the locks that keep its workers exact.

- In a folder (the default): Optuna's journal file storage, ``STUDY/journal.log``, appended under an ``flock``
  that the kernel releases when its holder dies, so a killed worker never leaves the study locked (a lock
  file that outlives its holder would stall every other worker).
- In PostgreSQL (``--storage postgresql://…``): Optuna's RDB storage, joined by every machine that runs the
  same command.

Every worker also needs:

- the budget lock: counting the trials and starting the next one is a single step for all workers (``flock``
  on ``STUDY/budget.lock``, or a PostgreSQL advisory lock), so ``--trials 24`` is 24 trials, never 25;
- liveness: a worker that died mid-trial is noticed by the others. On one machine each worker holds an ``flock``
  on ``STUDY/workers/ID.lock`` for its whole life, so a lock that can be taken is a dead worker's. In
  PostgreSQL each running trial beats a heartbeat, and one silent for ``GRACE`` seconds is failed. A trial lost
  either way is marked failed and its configuration run once more (``retry``).
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import uuid
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from divekit.errors import ConfigError

JOURNAL = "journal.log"
WORKERS = "workers"
HEARTBEAT = 5  # seconds between a running trial's heartbeats in PostgreSQL
GRACE = 30  # seconds without a heartbeat after which a PostgreSQL trial counts as lost
SCHEMES = ("postgresql://", "postgresql+psycopg2://", "postgresql+psycopg://")


class FileLock:
    """An exclusive ``flock`` on ``path``; the kernel releases it when the holder's process ends, however it ends.
    Optuna's journal backend takes it as its lock object (``acquire``/``release``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def redacted(url: str) -> str:
    """``url`` without its password, for messages and files."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def check_url(url: str) -> None:
    if not url.startswith(SCHEMES):
        raise ConfigError(f"--storage {redacted(url)}: expected a postgresql:// URL (for a study on one machine "
                          f"leave --storage out: the study folder holds it)")


def open_storage(folder: Path, url: str | None, heartbeat: int = HEARTBEAT, grace: int = GRACE) -> Any:
    """The Optuna storage of a study: the journal in ``folder``, or the PostgreSQL database at ``url``."""
    import optuna

    if url is None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        folder.mkdir(parents=True, exist_ok=True)
        path = str(folder / JOURNAL)
        return JournalStorage(JournalFileBackend(path, lock_obj=FileLock(path + ".lock")))  # type: ignore[arg-type]
    check_url(url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat, grace_period=grace,
                                              heartbeat_stale_trial_callback=retry)
    except ModuleNotFoundError as e:
        raise ConfigError(f"--storage: PostgreSQL needs the {e.name} package: pip install 'divekit[postgres]'") \
            from None
    except Exception as e:  # sqlalchemy's OperationalError and kin: no server, wrong password, no database
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"--storage {redacted(url)}: cannot open the database ({first})") from None


@contextmanager
def budget_lock(folder: Path, storage: Any, name: str) -> Iterator[None]:
    """Held while a worker counts the trials and starts one: one worker at a time, on every machine."""
    engine = getattr(storage, "engine", None)
    if engine is None:
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(folder / "budget.lock"):
            yield
        return
    from sqlalchemy import text

    key = zlib.crc32(f"divekit-study:{name}".encode())
    with engine.connect() as conn:  # a session lock: released when the connection closes, even on a crash
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def worker_id() -> str:
    """``HOST-PID-RANDOM``: unique across machines and over time, and says where the worker ran."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Lease:
    """This worker's life, as an ``flock`` held on ``STUDY/workers/ID.lock`` until the process ends."""

    def __init__(self, folder: Path, worker: str) -> None:
        self.id = worker
        (folder / WORKERS).mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(folder / WORKERS / f"{self.id}.lock")
        self._lock.acquire()

    def end(self) -> None:
        self._lock.release()
        self._lock.path.unlink(missing_ok=True)


def worker_alive(folder: Path, worker: str | None) -> bool:
    """Whether the worker ``worker`` still holds its lease (a lease that can be taken is a dead worker's)."""
    path = folder / WORKERS / f"{worker}.lock"
    if worker is None or not path.exists():
        return False
    probe = FileLock(path)
    if not probe.acquire(blocking=False):
        return True
    path.unlink(missing_ok=True)
    probe.release()
    return False


def retry(study: Any, trial: Any) -> None:
    """Run a lost trial's configuration once more (a retry that is lost too is not retried again)."""
    if "retry_of" not in trial.user_attrs and trial.params:
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def reap(study: Any, folder: Path, storage: Any) -> list[int]:
    """Fail the running trials whose worker is gone and queue their retries; returns their numbers. Called
    under the budget lock, where a trial has its worker recorded before the lock is released."""
    import optuna
    from optuna.trial import TrialState

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if getattr(storage, "engine", None) is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
        return [t.number for t in running if states[t.number] == TrialState.FAIL]
    lost = []
    for trial in running:
        if not worker_alive(folder, trial.user_attrs.get("worker")):
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            retry(study, trial)
            lost.append(trial.number)
    return lost


class Heartbeat:
    """Beats a running trial's heartbeat in PostgreSQL from a thread (nothing to do for the journal)."""

    def __init__(self, storage: Any, trial_id: int, interval: float = HEARTBEAT) -> None:
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if hasattr(self.storage, "record_heartbeat") and self.storage.get_heartbeat_interval():
            self.storage.record_heartbeat(self.trial_id)
            self._thread = threading.Thread(target=self._beat, daemon=True, name="divekit-heartbeat")
            self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            self.storage.record_heartbeat(self.trial_id)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
