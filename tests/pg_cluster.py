"""A throwaway PostgreSQL cluster for tests and benchmarks, on loopback only.

Uses Debian's `postgresql` binaries. The server refuses to run as root, so when we are root
the cluster's files belong to, and the server runs as, an unprivileged user (`postgres`,
created by the Debian package, else `nobody`). Set CASEWORK_TEST_PG_URL to use an existing
server instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def find_bindir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not candidates:
        raise RuntimeError(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin). "
            "Install Debian's 'postgresql' package (the README's test command does)."
        )
    return Path(candidates[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="casework-pg-"))
        self.datadir = self.root / "data"
        self.sockdir = self.root / "sock"
        self.runas: str | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    continue
                self.runas = name
                break
            if self.runas is None:
                raise RuntimeError("running as root and no unprivileged user to run PostgreSQL")

    def _cmd(self, *args: str) -> list[str]:
        if self.runas:
            return ["runuser", "-u", self.runas, "--", *args]
        return list(args)

    def start(self, durable: bool = False) -> PostgresCluster:
        """Start the server. Tests run with fsync off; `durable=True` keeps PostgreSQL's
        crash-safe defaults (for benchmarks that compare with production behaviour)."""
        self.sockdir.mkdir(parents=True)
        if self.runas:
            entry = pwd.getpwnam(self.runas)
            os.chmod(self.root, 0o755)
            for path in (self.root, self.sockdir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            self._cmd(
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                "casework",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.sockdir} -c max_connections=200 "
            "-c shared_buffers=128MB"
        )
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-o",
                options,
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://casework@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=casework dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                "immediate",
                "-w",
                "stop",
            ),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(50):
            if not (self.datadir / "postmaster.pid").exists():
                break
            time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)
