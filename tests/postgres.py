"""A throw-away PostgreSQL cluster for the tests: initdb in a temporary folder, a free port.

Debian's ``postgresql`` package (installed by the Makefile's apt step) puts the server
binaries in ``/usr/lib/postgresql/<version>/bin``. The server refuses to run as root, so
when the tests run as root the cluster belongs to the ``postgres`` user the package creates.
Durability is switched off: the cluster lives for one test session.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ADMIN = "wb_admin"
READER = "workbench_ro"
INSTALL_HINT = (
    "install it with `make test` (the Makefile's apt step), or: apt-get install postgresql"
)


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl (the newest installed version), or None."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


@dataclass
class PostgresCluster:
    """One running cluster; ``url`` builds connection strings to it."""

    root: Path
    port: int
    bin_dir: Path
    admin_password: str
    reader_password: str
    run_as: str | None

    def url(
        self, database: str = "postgres", *, user: str = ADMIN, password: str | None = ""
    ) -> str:
        """A URL for ``user``; ``password=None`` leaves the password out."""
        if password == "":
            password = self.admin_password if user == ADMIN else self.reader_password
        secret = f":{password}" if password is not None else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str, database: str = "postgres") -> None:
        """Run one statement as the superuser (outside a transaction)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            connection.execute(sql)  # type: ignore[arg-type]

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args],
            user=self.run_as,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        done = self._run(
            self.bin_dir / "pg_ctl", "-D", self.root / "data", "-l", self.root / "server.log",
            "-w", "-t", "60", "-o", options, "start",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr or done.stdout}\n{self.log()}")

    def stop(self) -> None:
        self._run(self.bin_dir / "pg_ctl", "-D", self.root / "data", "-m", "fast", "-w", "stop")

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def start_cluster() -> PostgresCluster:
    """initdb and start a cluster on a free port (the caller stops it and removes ``root``)."""
    bin_dir = server_binaries()
    if bin_dir is None:
        raise FileNotFoundError(f"PostgreSQL's server binaries are not installed; {INSTALL_HINT}")
    run_as = "postgres" if os.geteuid() == 0 else None
    # Not under pytest's own temp folder: as root that one is closed to the postgres user.
    root = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
    if run_as:
        shutil.chown(root, user=run_as)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cluster = PostgresCluster(
        root, port, bin_dir, secrets.token_hex(12), secrets.token_hex(12), run_as
    )
    password_file = root / "admin-password"
    password_file.write_text(cluster.admin_password)
    if run_as:
        shutil.chown(password_file, user=run_as)
    done = cluster._run(
        bin_dir / "initdb", "-D", root / "data", "-U", ADMIN, f"--pwfile={password_file}",
        "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8",
        "--no-sync", "--no-instructions",
    )  # fmt: skip
    password_file.unlink()
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
    try:
        cluster.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


def create_reader(cluster: PostgresCluster, database: str) -> str:
    """The read-only role README recommends (its two lines), and a URL that logs in as it."""
    cluster.admin(f"CREATE ROLE {READER} LOGIN PASSWORD '{cluster.reader_password}'")
    cluster.admin(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}", database)
    return cluster.url(database, user=READER)
