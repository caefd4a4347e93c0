"""Tables with one partition per sync date (``stg_agents``, ``agent_status_history``).

The partitions and their helper functions are in sql/000_create_day_partition.sql. Two days may load side by
side (each day serialized by its own advisory lock, pipeline.locks), so the locks are chosen to never deadlock:

- A day's partition is created before the day's transaction, in a short transaction of its own
  (:func:`create_day_partition`). Creating a table and attaching it takes SHARE UPDATE EXCLUSIVE on the parent,
  which the other days' reads and writes neither wait for nor block. A partition left empty by a run that
  stopped before its transaction committed is harmless: the day's marker is absent, so the day is not done.
- Inside the day's transaction, TRUNCATE takes ACCESS EXCLUSIVE on the day's partition only, and the day's
  statements read only the partitions of the day and of earlier days: a day may wait for an earlier day's
  partition, never the other way round, so no two days wait for each other.
"""
from contextlib import closing

from pipeline.database import connect, run_sql_file


def create_day_partition(dsn: str, table: str, sync_date) -> None:
    """Create ``table``'s partition for ``sync_date`` if it does not exist, and commit."""
    with closing(connect(dsn)) as connection, connection.cursor() as cursor:
        run_sql_file(cursor, "009_add_day_partition.sql", {"table": table, "sync_date": sync_date})
        connection.commit()
