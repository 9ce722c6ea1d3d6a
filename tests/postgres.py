"""A PostgreSQL server of the tests' own: initdb in a temporary folder, a loopback port, stopped at the end.

The server binaries are Debian's (`postgresql-15`, found with `dpkg -L`, else under
/usr/lib/postgresql). PostgreSQL refuses to run as root, so as root (CI) the server runs as
the `postgres` system user. The tests reach it as the user `turnout` with a password
generated for each server, so the secrets test has a real password to look for.

`.ci/run` starts one before the suite (`python -m tests.postgres start DIR` prints its URL)
and stops it after (`python -m tests.postgres stop DIR`); it hands the URL to the tests in
TURNOUT_TEST_POSTGRES_URL. Without that, the session fixture starts one itself, and a
machine with no PostgreSQL skips the tests that need it, saying why, unless
TURNOUT_REQUIRE_POSTGRES is set (CI sets it), when they fail instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

URL_ENV = "TURNOUT_TEST_POSTGRES_URL"
REQUIRE_ENV = "TURNOUT_REQUIRE_POSTGRES"
SERVER_USER = "postgres"  # the system user the server runs as when the tests run as root
ROLE = "turnout"
URL_FILE = "url"
HOME_FILE = "server"
PASSWORD_FILE = "password"
# A throwaway server: durability buys nothing and costs seconds per test database.
SERVER_SETTINGS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200 -c listen_addresses=127.0.0.1")


class NoPostgres(RuntimeError):
    """This machine cannot run a PostgreSQL server for the tests; the message says why."""


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def binaries() -> Path:
    """The folder holding initdb and pg_ctl."""
    found = []
    try:
        listed = subprocess.run(["dpkg", "-L", "postgresql-15"], capture_output=True, text=True, check=False).stdout
        found = [line for line in listed.splitlines() if line.endswith("/bin/initdb")]
    except FileNotFoundError:
        pass
    found = found or sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not found:
        raise NoPostgres("no PostgreSQL server binaries here (Debian's postgresql-15 is not installed): "
                         "apt-get install postgresql-15, or set TURNOUT_TEST_POSTGRES_URL to a server")
    return Path(found[0]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", SERVER_USER, "--", *command]


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_server_user(command), capture_output=True, text=True, check=False)
    if done.returncode:
        raise NoPostgres(f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


def start(folder: Path) -> str:
    """Initialises and starts a server recorded in `folder`; returns its URL."""
    bin_dir = binaries()
    folder.mkdir(parents=True, exist_ok=True)
    # The server's own folder sits directly in the system's temporary folder: as root, the
    # server user could not reach one inside a folder only root may enter (pytest's are).
    home = Path(tempfile.mkdtemp(prefix="turnout-postgres-"))
    (folder / HOME_FILE).write_text(str(home))
    password = secrets.token_urlsafe(18)
    (home / PASSWORD_FILE).write_text(password)
    if os.geteuid() == 0:
        try:
            server_user = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise NoPostgres(f"running as root and there is no '{SERVER_USER}' user to run the server as") from None
        for path in (home, home / PASSWORD_FILE):
            os.chown(path, server_user.pw_uid, server_user.pw_gid)
    data = home / "data"
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", ROLE, f"--pwfile={home / PASSWORD_FILE}",
          "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"])
    (home / PASSWORD_FILE).unlink()
    port = _free_port()
    _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(home / "server.log"), "-w", "-t", "60",
          "-o", f"-p {port} -k {home} {SERVER_SETTINGS}", "start"])
    url = f"postgresql://{ROLE}:{quote(password, safe='')}@127.0.0.1:{port}/postgres"
    (folder / URL_FILE).write_text(url)
    (folder / URL_FILE).chmod(0o600)
    return url


def stop(folder: Path) -> None:
    """Stops the server recorded in `folder` and removes its files."""
    record = folder / HOME_FILE
    if record.exists():
        home = Path(record.read_text())
        if (home / "data" / "postmaster.pid").exists():
            _run([str(binaries() / "pg_ctl"), "-D", str(home / "data"), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Server:
    """A running server reached by `url` (a maintenance database, `postgres`)."""

    url: str

    def database_url(self, database: str) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    @property
    def password(self) -> str:
        return unquote(urlsplit(self.url).password or "")

    def create_database(self, prefix: str = "turnout") -> str:
        """A new empty database; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self._maintenance(f'create database "{name}"')
        return self.database_url(name)

    def copy_database(self, url: str, suffix: str) -> str:
        """A copy of the database `url` names, as it is now (nobody may be connected to it);
        returns the copy's URL."""
        name = urlsplit(url).path.lstrip("/")
        copy = f"{name}_{suffix}"
        self._maintenance(f'create database "{copy}" template "{name}"')
        return self.database_url(copy)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._maintenance(f'drop database if exists "{name}" with (force)')

    def _maintenance(self, statement: str) -> None:
        import psycopg2

        connection = psycopg2.connect(self.url)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.postgres start|stop FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[1]).resolve()
    try:
        if argv[0] == "start":
            print(start(folder))
        else:
            stop(folder)
    except NoPostgres as failed:
        print(f"PostgreSQL for the tests: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
