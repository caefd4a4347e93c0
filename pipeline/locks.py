"""One run at a time per account and sync day: two commands that touch the same account's day take turns.

- File tasks (and Reprocess) hold ``<output root>/locks/<day>.lock`` (``locks/<account>/<day>.lock`` for a
  registered account; ``flock``) while they write the day's folders: a second run waits, then finds the
  folder done and skips it.
- Database tasks take a PostgreSQL advisory lock on the account's day inside their transaction: a second
  run waits for the first to commit, then finds the marker and skips the task.

Both are released by the operating system or the server when their holder dies, so a killed
run never leaves a lock behind. Pipelines with other output roots or databases take other locks
(luigi's own command-line lock is switched off in luigi.cfg: it keys on the command line only).
"""
import fcntl
import logging
import shutil
import zlib
from contextlib import contextmanager
from pathlib import Path

from pipeline.config import account_folder
from pipeline.errors import not_writable
from pipeline.names import DEFAULT_ACCOUNT

logger = logging.getLogger("luigi-interface.pipeline")

ADVISORY_NAMESPACE = 0x41474E54  # 'AGNT': first key of pg_advisory_xact_lock(int, int); the day is the second


def advisory_namespace(account: str) -> int:
    """The first key of an account's day locks: ADVISORY_NAMESPACE for the default account, a hash of the name for
    the others (two accounts that share one only take turns)."""
    if account == DEFAULT_ACCOUNT:
        return ADVISORY_NAMESPACE
    return zlib.crc32(f"account:{account}".encode()) - (1 << 31)  # a signed 32-bit integer


@contextmanager
def day_file_lock(output_root: Path, sync_date, holder: str, account: str = DEFAULT_ACCOUNT):
    """Hold the account's day lock file under ``output_root`` (waiting, with a log line, while another run has it)."""
    path = account_folder(output_root / "locks", account) / f"{sync_date.isoformat()}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("%s: waiting for another run that is writing %s (%s)", holder, sync_date, path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def lock_day_in_database(cursor, sync_date, holder: str, account: str = DEFAULT_ACCOUNT) -> None:
    """Take the account's day advisory lock for the rest of the transaction (waiting while another run has it)."""
    if not try_lock_day_in_database(cursor, sync_date, account):
        logger.info("%s: waiting for another run that is loading %s into the database", holder, sync_date)
        cursor.execute("select pg_advisory_xact_lock(%s, %s)", (advisory_namespace(account), sync_date.toordinal()))


def try_lock_day_in_database(cursor, sync_date, account: str = DEFAULT_ACCOUNT) -> bool:
    """Take the account's day advisory lock for the rest of the transaction if no other run has it; returns whether
    it did."""
    cursor.execute("select pg_try_advisory_xact_lock(%s, %s)", (advisory_namespace(account), sync_date.toordinal()))
    return cursor.fetchone()[0]


def remove_leftover_temporary_folders(target: Path) -> list[Path]:
    """Remove ``<target>-luigi-tmp-*`` folders and files that a killed run left beside ``target``.
    Call it only while holding the day's file lock: then no live run is writing one."""
    removed = []
    for leftover in target.parent.glob(f"{target.name}-luigi-tmp-*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed.append(leftover)
    if removed:
        logger.info("removed %d temporary folder(s) left by an interrupted run: %s", len(removed),
                    ", ".join(str(path) for path in removed))
    return removed


def write_day_target(target, output_root: Path, sync_date, holder: str, write, account: str = DEFAULT_ACCOUNT):
    """Write a day's file target once, atomically, under the day's lock: ``write(tmp_path)`` fills a
    temporary path that is renamed to the target when it returns. Returns what ``write`` returned, or
    None when another run wrote the target while this one waited. A failed write leaves nothing behind;
    one that fails for a full disk, a read-only file system or a missing permission (on the lock, the
    target or its temporary path) raises NotWritable, one line that says so and what to do."""
    path = Path(target.path)
    try:
        with day_file_lock(output_root, sync_date, holder, account):
            if target.exists():
                logger.info("%s: done by another run meanwhile", holder)
                return None
            remove_leftover_temporary_folders(path)
            with target.temporary_path() as tmp:
                try:
                    return write(Path(tmp))
                except BaseException:
                    if Path(tmp).is_dir():
                        shutil.rmtree(tmp, ignore_errors=True)
                    else:
                        Path(tmp).unlink(missing_ok=True)
                    raise
    except OSError as error:
        setting = "output_root (PIPELINE_OUTPUT_ROOT)" if path.is_relative_to(output_root) else None
        unwritable = not_writable(error, path, setting=setting, inside=(output_root,))
        if unwritable is None:
            raise
        raise unwritable from None
