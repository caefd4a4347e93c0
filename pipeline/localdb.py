"""Reach the pipeline's database from a shell: ``python -m pipeline.localdb uri|psql [ARGS…]|stop``.

``uri`` prints the DSN (password hidden), ``psql`` opens psql on it, ``stop`` stops the embedded server.
"""
import re
import shutil
import subprocess
import sys

from pipeline import embedded
from pipeline.config import load_settings
from pipeline.database import database_dsn, embedded_data_dir, redact
from pipeline.errors import PipelineError


def psql_executable(server_major=None) -> str:
    """The machine's psql (it has line editing), unless it is older than the server; else the embedded one."""
    machine = shutil.which("psql")
    if machine and (server_major is None or (psql_major(machine) or 0) >= server_major):
        return machine
    return str(embedded.bin_dir() / "psql")


def psql_major(executable: str):
    """16 from ``psql (PostgreSQL) 16.4``; None if unreadable."""
    result = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"(\d+)(?:\.\d+)?", result.stdout)
    return int(match.group(1)) if match else None


def stop(settings) -> str:
    """Stop the embedded server of the output root; says what it did."""
    if settings.dsn:
        return f"nothing to stop: the pipeline uses {redact(settings.dsn)} (PIPELINE_PG_DSN or [pipeline] dsn)"
    pgdata = embedded_data_dir(settings.output_root)
    pid = embedded.stop(pgdata)
    if pid is None:
        return f"no embedded PostgreSQL is running in {pgdata}"
    return f"stopped the embedded PostgreSQL in {pgdata} (pid {pid})"


def main(argv) -> int:
    command = argv[1] if len(argv) > 1 else "uri"
    settings = load_settings()
    if command == "stop":
        print(stop(settings))
        return 0
    if command == "uri":
        print(redact(database_dsn(settings)))
        return 0
    if command == "psql":
        server_major = None if settings.dsn else embedded.bundled_major()
        return subprocess.call([psql_executable(server_major), database_dsn(settings), *argv[2:]])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except PipelineError as error:  # one line and exit 40, as luigi runs give for a setting
        print(f"ERROR: {error}", file=sys.stderr)
        sys.exit(40)
