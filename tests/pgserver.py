"""A throwaway PostgreSQL + PostGIS cluster for the tests marked ``postgis``.

``initdb`` into a temporary folder, ``pg_ctl start`` on a Unix socket in that folder and on a
free loopback port (password authentication over TCP, trust over the socket), the
``postgis`` extension in database ``foncier``, and ``pg_ctl stop`` at the end. As root the
server runs as the ``postgres`` system user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Password of the role ``auteur`` (written into test URLs only).
PASSWORD = "Tr0ub4dor&3-secret"


def find_bindir() -> Path | None:
    """Folder of ``initdb`` / ``pg_ctl`` (Debian keeps them out of PATH), newest first."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    for d in reversed(dirs):
        if (Path(d) / "initdb").exists():
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def postgis_available(bindir: Path) -> bool:
    share = (
        subprocess.run(
            [str(bindir / "pg_config"), "--sharedir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if (bindir / "pg_config").exists()
        else ""
    )
    candidates = [share] if share else []
    candidates += glob.glob(f"/usr/share/postgresql/{bindir.parent.name}")
    return any(Path(c, "extension", "postgis.control").exists() for c in candidates)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    bindir: Path
    folder: Path
    port: int
    user: str | None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def socket_url(self, **params: str) -> str:
        """URL as the superuser over the Unix socket."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://postgres@/foncier?host={self.folder}&port={self.port}" + (
            f"&{query}" if query else ""
        )

    def tcp_url(self, user: str, password: str, **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/foncier" + (
            f"?{query}" if query else ""
        )

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60)

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-o",
            f"-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1 -F "
            "-c full_page_writes=off -c synchronous_commit=off",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


def start_server() -> Server:
    """Create, start and prepare a cluster; the caller stops it and removes the folder."""
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server (initdb, pg_ctl) not installed")
    user = "postgres" if os.geteuid() == 0 else None
    if user is not None:
        pwd.getpwnam(user)  # KeyError when the system user is missing
    folder = Path(tempfile.mkdtemp(prefix="foncier-pg-"))
    if user is not None:
        shutil.chown(folder, user=user)
    server = Server(bindir=bindir, folder=folder, port=_free_port(), user=user)
    server._run(
        "initdb",
        "-D",
        str(server.data),
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--no-sync",
    )
    server.start()
    import psycopg

    with psycopg.connect(server.socket_url().replace("/foncier?", "/postgres?")) as conn:
        conn.autocommit = True
        conn.execute("CREATE DATABASE foncier")
    with psycopg.connect(server.socket_url(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
        conn.execute(f"CREATE ROLE auteur LOGIN PASSWORD '{PASSWORD}'")
        conn.execute("GRANT CREATE ON DATABASE foncier TO auteur")
        conn.execute("GRANT ALL ON SCHEMA public TO auteur")
        conn.execute(f"CREATE ROLE lecteur LOGIN PASSWORD '{PASSWORD}'")
    return server
