"""A throwaway PostgreSQL server for tests: ``initdb`` in a temporary folder, reached through a unix socket in
that folder (no TCP port), stopped and removed afterwards.

PostgreSQL refuses to run as root: as root the server runs as the ``postgres`` user that Debian's package
creates. ``why_not()`` says why no server can be started here (no binaries, no such user, no driver), for a
clear skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

PORT = 5432  # only names the socket file: the socket lives in the server's own folder


def bin_dir() -> Path | None:
    """Where pg_ctl and initdb are: on PATH, else the newest /usr/lib/postgresql/N/bin (Debian)."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def _runner() -> list[str]:
    """The prefix that runs a command as a user PostgreSQL accepts."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def why_not() -> str | None:
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install 'divekit[postgres]')"
    if bin_dir() is None:
        return "PostgreSQL's server binaries are not installed (Debian: apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root without runuser to start the server as the postgres user"
    return None


class Server:
    """A running server; ``url`` for SQLAlchemy (database ``postgres``, user ``postgres``, trust auth)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="divekit-pg-", dir="/tmp"))
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        bindir = bin_dir()
        data = self.folder / "data"
        self._run(bindir / "initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        options = f"-k {self.folder} -c listen_addresses='' -p {PORT} -c fsync=off -c max_connections=50"
        self._run(bindir / "pg_ctl", "-D", str(data), "-l", str(self.folder / "log"), "-w", "-o", options, "start")
        self.url = f"postgresql+psycopg2://postgres@/postgres?host={self.folder}&port={PORT}"

    def _run(self, *argv) -> None:
        out = subprocess.run([*_runner(), *map(str, argv)], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {out.stderr.strip() or out.stdout.strip()}")

    def stop(self) -> None:
        try:
            self._run(bin_dir() / "pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
