"""The field-by-field upsert (sql/010_upsert_agents.sql) against PostgreSQL's plain upsert of the same rows.

    python -m bench.merge [--agents 1000000] [--repeats 3] [--dsn DSN]

One database, ``--agents`` agents loaded on 2024-03-01; each case stages one more day and is timed
inside a transaction that is rolled back (then ``vacuum``), alternately with the floor: ``insert …
on conflict do update`` of every column, with no merge, no counts and no unchanged-row check.

Cases:
  first day          every agent new
  next day, 1 %      the next day, 1 % of the agents with a changed job title (the daily case)
  next day, absent   the next day, every record without language and time_zone (the slow path)
  late day           a day before the loaded one: nothing may change
"""
import argparse
import datetime
import statistics
import tempfile
import time
from contextlib import closing
from pathlib import Path

import psycopg2

from bench.run import FLOOR_UPSERT, Server
from pipeline.database import ensure_schema
from pipeline.resources import read_sql

LOADED = datetime.date(2024, 3, 1)

STAGE = """
insert into stg_agents (
    agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated, status,
    focus_mode, agent_operational_status, last_active_at, created_at, updated_at, absent_fields, sync_day,
    source, sync_date
)
select
    g, 'agent' || g || '@example.com', 'Agent ' || g,
    case when g %% 100 = 0 and %(changed)s then 'Team Lead' else 'Support' end,
    case when %(absent)s then null else 'en' end, null, null,
    case when %(absent)s then null else 'Europe/Paris' end,
    false, false, 'active', true, 'available',
    '2024-01-01T00:00:00Z', '2021-01-01T00:00:00Z', '2024-01-01T00:00:00Z',
    case when %(absent)s then '{language,time_zone}'::text[] else '{}' end,
    %(day)s::text, 'api', %(day)s
from generate_series(1, %(agents)s) as g
"""

CASES = (  # name, day staged, changed, absent, with the first day loaded
    ("first day", LOADED, False, False, False),
    ("next day, 1 % changed", LOADED + datetime.timedelta(days=1), True, False, True),
    ("next day, 2 fields absent in every row", LOADED + datetime.timedelta(days=1), False, True, True),
    ("late day", LOADED - datetime.timedelta(days=1), False, False, True),
)


def stage(cursor, day, agents, changed=False, absent=False) -> None:
    cursor.execute("select create_day_partition('stg_agents', %s)", (day,))
    cursor.execute(STAGE, {"day": day, "agents": agents, "changed": changed, "absent": absent})


def timed(connection, day, statement: str, params: dict) -> float:
    """Seconds of one statement, rolled back, then the table vacuumed for the next one."""
    with connection.cursor() as cursor:
        began = time.perf_counter()
        cursor.execute(statement, params | {"sync_date": day})
        seconds = time.perf_counter() - began
    connection.rollback()
    connection.autocommit = True
    connection.cursor().execute("vacuum analyze agents")
    connection.autocommit = False
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dsn", default="", help="PostgreSQL server to use (default: an embedded one)")
    args = parser.parse_args()
    server = Server(args.dsn, Path(tempfile.mkdtemp(prefix="bench-merge-")))
    try:
        dsn = server.new_database("merge")
        ensure_schema(dsn)
        upsert = read_sql("010_upsert_agents.sql")
        print(f"{args.agents:,} agents; median of {args.repeats} runs each, alternating\n")
        print(f"{'case':<42}{'merge s':>9}{'floor s':>9}{'ratio':>7}")
        with closing(psycopg2.connect(dsn)) as connection:
            for name, day, changed, absent, loaded in CASES:
                with connection.cursor() as cursor:
                    cursor.execute("truncate agents, stg_agents")
                    if loaded:
                        stage(cursor, LOADED, args.agents)
                        cursor.execute(upsert, {"sync_date": LOADED})
                    stage(cursor, day, args.agents, changed, absent)
                connection.commit()
                connection.autocommit = True
                connection.cursor().execute("vacuum analyze agents, stg_agents")
                connection.autocommit = False
                merge, floor = [], []
                for _ in range(args.repeats):
                    merge.append(timed(connection, day, upsert, {}))
                    floor.append(timed(connection, day, FLOOR_UPSERT, {}))
                m, f = statistics.median(merge), statistics.median(floor)
                print(f"{name:<42}{m:>9.2f}{f:>9.2f}{m / f:>7.2f}", flush=True)
    finally:
        server.close()


if __name__ == "__main__":
    main()
