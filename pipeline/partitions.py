"""Tables with one partition per sync date (``stg_agents``, ``agent_status_history``), and staging retention.

The partitions and their helper functions are in sql/000_create_day_partition.sql. Two days may load side by
side (each day serialized by its own advisory lock, pipeline.locks), so the locks are chosen to never deadlock:

- A day's partition is created before the day's transaction, in a short transaction of its own
  (:func:`create_day_partition`). Creating a table and attaching it takes SHARE UPDATE EXCLUSIVE on the parent,
  which the other days' reads and writes neither wait for nor block. A partition left empty by a run that
  stopped before its transaction committed is harmless: the day's marker is absent, so the day is not done.
- Inside the day's transaction, the accounts' rows of the day are deleted from the day's partition (ROW
  EXCLUSIVE on it: other accounts may write the same day side by side), and the day's statements read only the
  partitions of the day and of earlier days: a day may wait for an earlier day's
  partition, never the other way round, so no two days wait for each other.
- Dropping old staging partitions takes ACCESS EXCLUSIVE on ``stg_agents``: :func:`drop_expired_staging` runs
  after the day has committed, in a short transaction with a lock_timeout, and leaves the work for the next
  day rather than wait (or make the other days wait) any longer.
"""
import datetime
import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing

import psycopg2

from pipeline.database import DatabaseUnavailable, connect, present_markers, run_sql_file
from pipeline.locks import try_lock_day_in_database
from pipeline.names import DEFAULT_ACCOUNT

logger = logging.getLogger("luigi-interface.pipeline")

STAGING = "stg_agents"  # the partitioned table that staging retention prunes; agent_status_history is kept for ever
RETENTION_LOCK_TIMEOUT = "2s"  # how long dropping old staging partitions may wait for stg_agents


def create_day_partition(dsn: str, table: str, sync_date) -> None:
    """Create ``table``'s partition for ``sync_date`` if it does not exist, and commit."""
    with closing(connect(dsn)) as connection, connection.cursor() as cursor:
        run_sql_file(cursor, "009_add_day_partition.sql", {"table": table, "sync_date": sync_date})
        connection.commit()


def partitioned_days(cursor, table: str) -> list[datetime.date]:
    """The sync dates that have a partition in ``table``, oldest first."""
    return [row["sync_date"] for row in run_sql_file(cursor, "060_day_partitions.sql", {"table": table})]


def expired_staging_days(days: Iterable[datetime.date], staged: set, done: set, retention_days: int) -> list:
    """The days of ``days`` whose staging is dropped: those in ``done`` (their history is written) outside the
    ``retention_days`` days up to the newest day in ``staged`` (kept: sync_date > newest - N). None for 0."""
    newest = max((day for day in days if day in staged), default=None)
    if not retention_days or newest is None or retention_days >= newest.toordinal():
        return []
    cutoff = newest - datetime.timedelta(days=retention_days)
    return sorted(day for day in days if day <= cutoff and day in done)


def drop_expired_staging(dsn: str, retention_days: int, staged_marker: Callable, done_marker: Callable,
                         accounts: Sequence[str] = (DEFAULT_ACCOUNT,),
                         lock_timeout: str = RETENTION_LOCK_TIMEOUT) -> list[str]:
    """Drop the staging partitions that :func:`expired_staging_days` names; returns the partitions dropped.

    ``staged_marker(day, account)`` and ``done_marker(day, account)`` are the ``table_updates`` ids of an
    account's LoadStaging and SnapshotHistory markers of a day: a day is staged once one of ``accounts`` has
    staged it, and done once the history of every account that staged it is written. A day that another run
    holds (an account's advisory lock: loading or forgetting it) is left for the next day, and so is everything
    when ``stg_agents`` stays busy for ``lock_timeout`` or the database fails: one log line, never an error.
    0 days keeps all staging.
    """
    if not retention_days:
        return []

    def staged_accounts(day, markers):
        return [account for account in accounts if staged_marker(day, account) in markers]

    def all_done(day, staged, markers):
        return all(done_marker(day, account) in markers for account in staged)

    try:
        with closing(connect(dsn)) as connection, connection.cursor() as cursor:
            cursor.execute("select set_config('lock_timeout', %s, true)", (lock_timeout,))
            days = partitioned_days(cursor, STAGING)
            markers = present_markers(cursor, [marker(day, account) for day in days for account in accounts
                                               for marker in (staged_marker, done_marker)])
            staged = {day: staged_accounts(day, markers) for day in days}
            expired = expired_staging_days(days, {day for day in days if staged[day]},
                                           {day for day in days if all_done(day, staged[day], markers)},
                                           retention_days)
            locked = [day for day in expired
                      if all([try_lock_day_in_database(cursor, day, account) for account in staged[day]])]
            still_done = present_markers(cursor, [done_marker(day, account) for day in locked
                                                  for account in staged[day]])  # no run has them now
            dropping = [day for day in locked if all_done(day, staged[day], still_done)]
            dropped = [row["dropped"] for row in run_sql_file(
                cursor, "061_drop_day_partitions.sql", {"table": STAGING, "days": dropping})] if dropping else []
            connection.commit()
    except psycopg2.errors.LockNotAvailable:
        logger.info("staging retention: %s stayed busy for %s; its expired partitions are left for the next day",
                    STAGING, lock_timeout)
        return []
    except (psycopg2.OperationalError, DatabaseUnavailable) as error:
        logger.warning("staging retention left for the next day: %s", " ".join(str(error).split()))
        return []
    if dropped:
        logger.info("staging retention (%s days): dropped %s", retention_days, ", ".join(dropped))
    busy = [day.isoformat() for day in expired if day not in locked]
    if busy:
        logger.info("staging retention: %s left for the next day (another run holds them)", ", ".join(busy))
    return dropped
