"""The agent_versions step (sql/013_create_record_agent_versions.sql) at scale: its time on day 1 and day 30.

    python -m bench.versions [--agents 1000000] [--days 30] [--dsn DSN]

Each day stages ``--agents`` agents straight into stg_agents (SQL, not timed), about 1 % of them changed since
the day before (half a new job title, half a deactivation or reactivation), then runs SnapshotHistory's
statements as it does, each timed: the versions step (lock, record_agent_versions) and the history insert.
Day 15 is loaded last, after day 30: a late day, whose changed agents are replayed. One line per day; staging
older than the day before is dropped as it goes (as staging retention would).
"""
import argparse
import datetime
import shutil
import tempfile
import time
from contextlib import closing
from pathlib import Path

import psycopg2

from bench.run import Server
from pipeline.database import ensure_schema
from pipeline.loading import empty_accounts_day, run_for_accounts
from pipeline.resources import read_sql
from pipeline.tables import STAGING_COLUMNS

FIRST = datetime.date(2024, 3, 1)
LATE = 15  # loaded after the last day
ACCOUNTS = ["default"]

STAGE = f"""
insert into stg_agents ({", ".join(STAGING_COLUMNS)})
select
    g, 'agent' || g || '@example.com', 'Agent ' || g, 'Title ' || ((%(n)s + g) / 200), 'en', null, null,
    'Europe/Paris', false, (%(n)s + 3 * g) / 200 %% 2 = 1,
    case when (%(n)s + 3 * g) / 200 %% 2 = 1 then 'inactive' else 'active' end,
    true, 'available', '2024-01-01T00:00:00Z', '2021-01-01T00:00:00Z', '2024-01-01T00:00:00Z', '{{}}',
    %(day)s::text, 'api', %(day)s, 'default'
from generate_series(1, %(agents)s) as g
"""


def day_of(n: int) -> datetime.date:
    return FIRST + datetime.timedelta(days=n - 1)


def load(connection, n: int, agents: int) -> dict:
    """Stage day ``n``, then time SnapshotHistory's statements for it; returns the figures."""
    day = day_of(n)
    with connection.cursor() as cursor:
        for table in ("stg_agents", "agent_status_history"):
            cursor.execute("select create_day_partition(%s, %s)", (table, day))
        empty_accounts_day(cursor, "stg_agents", day, ACCOUNTS)
        cursor.execute(STAGE, {"n": n, "day": day, "agents": agents})
        connection.commit()
        cursor.execute("analyze stg_agents")
        connection.commit()
        started = time.perf_counter()
        cursor.execute(read_sql("022_lock_agent_versions.sql"))
        versions = run_for_accounts(cursor, "023_record_agent_versions.sql", day, ACCOUNTS)["default"]
        opened, closed, replayed = versions["versions_opened"], versions["versions_closed"], versions["agents_replayed"]
        versions_seconds = time.perf_counter() - started
        started = time.perf_counter()
        empty_accounts_day(cursor, "agent_status_history", day, ACCOUNTS)
        run_for_accounts(cursor, "020_snapshot_history.sql", day, ACCOUNTS)
        history_seconds = time.perf_counter() - started
        connection.commit()
        old = day - datetime.timedelta(days=2)
        cursor.execute("select drop_day_partitions('stg_agents', array[%s::date])", (old,))
        connection.commit()
    return {"day": n, "versions_s": versions_seconds, "opened": opened, "closed": closed, "replayed": replayed,
            "history_s": history_seconds}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1_000_000, help="agents a day (default 1,000,000)")
    parser.add_argument("--days", type=int, default=30, help="days loaded (default 30)")
    parser.add_argument("--dsn", default="", help="PostgreSQL server to use (default: an embedded one)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="agents-bench-versions-"))
    server = Server(args.dsn, work)
    try:
        dsn = server.new_database("versions")
        ensure_schema(dsn)
        order = [n for n in range(1, args.days + 1) if n != LATE] + ([LATE] if args.days >= LATE else [])
        with closing(psycopg2.connect(dsn)) as connection:
            for n in order:
                row = load(connection, n, args.agents)
                with connection.cursor() as cursor:
                    cursor.execute("select count(*) from agent_versions")
                    row["versions"] = cursor.fetchone()[0]
                connection.commit()
                late = " (late day)" if n == LATE else ""
                print(f"day {row['day']:>2}{late}: versions step {row['versions_s']:6.2f} s (opened {row['opened']:,},"
                      f" closed {row['closed']:,}, replayed {row['replayed']:,}); history insert"
                      f" {row['history_s']:5.2f} s; agent_versions {row['versions']:,} rows", flush=True)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
