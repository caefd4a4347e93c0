"""One partition per sync date: creating and replacing a day, the locks that takes, staging retention and the
migration of databases created before partitioning. On real PostgreSQL, mostly at the SQL level."""
import datetime
import logging
from contextlib import closing

import psycopg2
import pytest
from psycopg2.extensions import make_dsn
from test_pipeline import DAY1, DAY2, history, run_days

from conftest import REPO, create_database, drop_database, query
from pipeline import LoadStaging, SnapshotHistory
from pipeline.database import apply_schema, ensure_schema, run_sql_file
from pipeline.partitions import create_day_partition, drop_expired_staging, expired_staging_days
from pipeline.report import gather_report

D = [datetime.date(2024, 3, n) for n in range(1, 8)]  # D[0] … D[6]
PARTITIONED = ("stg_agents", "agent_status_history")

HISTORY_ROW = "insert into agent_status_history (agent_id, sync_date, is_active) values (%s, %s, %s)"


@pytest.fixture(scope="module")
def schema_template(pg_server_dsn):
    """A database with the schema and nothing else, copied by each test of this module."""
    name, dsn = create_database(pg_server_dsn)
    ensure_schema(dsn)
    yield name
    drop_database(pg_server_dsn, name)


@pytest.fixture
def schema(pg_server_dsn, schema_template):
    name, dsn = create_database(pg_server_dsn, template=schema_template)
    yield dsn
    drop_database(pg_server_dsn, name)


def partitions(dsn, table) -> list[str]:
    return [name for name, in query(dsn, "select inhrelid::regclass::text from pg_inherits"
                                         " where inhparent = %s::regclass order by 1", (table,))]


def execute(dsn, sql, params=None):
    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        connection.commit()


STAGE = """
insert into stg_agents (agent_id, email, name, deactivated, status, sync_day, source, sync_date)
values (%(agent_id)s, %(email)s, %(name)s, not %(active)s, case when %(active)s then 'active' else 'inactive' end,
        %(sync_date)s::text, 'api', %(sync_date)s)
"""


def load_days(dsn, statuses: dict, markers=("LoadStaging", "SnapshotHistory")) -> None:
    """Staging and history rows of ``statuses`` ({day: {agent: active}}), each day in its partitions, with the
    days' markers (the tasks of ``markers``), as the tasks would leave them."""
    tasks = {"LoadStaging": LoadStaging, "SnapshotHistory": SnapshotHistory}
    for day, agents in statuses.items():
        for table in PARTITIONED:
            create_day_partition(dsn, table, day)
        with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
            for agent_id, active in agents.items():
                cursor.execute(STAGE, {"agent_id": agent_id, "email": f"{agent_id}@staged.example",
                                       "name": f"staged {agent_id}", "active": active, "sync_date": day})
                cursor.execute(HISTORY_ROW, (agent_id, day, active))
            for task in markers:
                cursor.execute("insert into table_updates (update_id, target_table) values (%s, %s)",
                               (tasks[task](sync_date=day).task_id, tasks[task].table))
            connection.commit()


def test_each_day_gets_its_own_partition_with_the_parents_indexes(schema):
    for _ in range(2):  # the second time finds them
        for day in (D[1], D[0]):
            for table in PARTITIONED:
                create_day_partition(schema, table, day)
    assert partitions(schema, "stg_agents") == ["stg_agents_p20240301", "stg_agents_p20240302"]
    assert partitions(schema, "agent_status_history") == ["agent_status_history_p20240301",
                                                          "agent_status_history_p20240302"]
    assert query(schema, "select relname, relkind from pg_class where relname in %s order by 1", (PARTITIONED,)) == [
        ("agent_status_history", "p"), ("stg_agents", "p")]
    # each partition has the parent's indexes (attached, not built twice): key and sync_date index
    assert query(schema, "select count(*), count(*) filter (where inhparent is not null) from pg_index"
                         " left join pg_inherits on inhrelid = indexrelid"
                         " where indrelid = 'agent_status_history_p20240301'::regclass") == [(2, 2)]
    with pytest.raises(psycopg2.errors.CheckViolation, match="no partition"):  # a day is written after its partition
        execute(schema, STAGE, {"agent_id": 1, "email": None, "name": None, "active": True, "sync_date": D[2]})


LOCKS = """
select relation::regclass::text, mode from pg_locks
where pid = pg_backend_pid() and locktype = 'relation'
    and relation::regclass::text ~ '^(stg_agents|agent_status_history)'
"""


def test_a_day_is_replaced_in_its_partition_without_waiting_for_later_days(schema):
    """A day's statements lock the day's partitions, earlier ones to read, and the parents in shared modes
    only; a later day, which another transaction holds emptied, does not make it wait (no deadlock)."""
    load_days(schema, {D[0]: {1: True, 2: True}, D[2]: {1: True, 2: True}})
    for table in PARTITIONED:
        create_day_partition(schema, table, D[1])
    with closing(psycopg2.connect(schema)) as later, later.cursor() as holder:  # D[2], being replaced
        for table in PARTITIONED:
            run_sql_file(holder, "009_empty_day_partition.sql",
                         {"table": table, "sync_date": D[2], "accounts": ["default"]})
        holder.execute(STAGE, {"agent_id": 1, "email": None, "name": None, "active": True, "sync_date": D[2]})
        with closing(psycopg2.connect(schema)) as connection, connection.cursor() as cursor:
            cursor.execute("set lock_timeout = '1s'")  # a wait for D[2] fails the test instead of hanging
            day = {"sync_date": D[1], "accounts": ["default"]}
            run_sql_file(cursor, "009_empty_day_partition.sql", {"table": "stg_agents", **day})
            cursor.execute(STAGE, {"agent_id": 1, "email": "a@x.example", "name": "A", "active": False, **day})
            assert run_sql_file(cursor, "011_day_against_previous.sql", day) == [
                {"account": "default", "previous_day": D[0], "previously_active": 2, "deactivating": 1}]
            run_sql_file(cursor, "010_lock_agents.sql", day)
            run_sql_file(cursor, "010_upsert_agents.sql", day)
            run_sql_file(cursor, "009_empty_day_partition.sql", {"table": "agent_status_history", **day})
            assert run_sql_file(cursor, "020_snapshot_history.sql", day) == [{"account": "default", "history_rows": 1}]
            assert run_sql_file(cursor, "021_day_status_counts.sql", day) == [
                {"account": "default", "agents_active": 0, "agents_inactive": 1, "agents_reactivated": 0}]
            cursor.execute(LOCKS)
            locks = set(cursor.fetchall())
            connection.commit()
            # nor does attaching a new day's partition wait for the transaction writing D[2]
            create_day_partition(make_dsn(schema, options="-c lock_timeout=1s"), "stg_agents", D[3])
    assert not [lock for lock in locks if "20240303" in lock[0]]
    assert {mode for table, mode in locks if table in PARTITIONED} <= {"AccessShareLock", "RowExclusiveLock"}
    # the day's own rows are deleted (ROW EXCLUSIVE): another account may write the same day meanwhile
    assert ("stg_agents_p20240302", "RowExclusiveLock") in locks
    assert ("agent_status_history_p20240302", "RowExclusiveLock") in locks
    assert not [lock for lock in locks if lock[1] == "AccessExclusiveLock"]
    assert query(schema, "select agent_id, is_active from agent_status_history where sync_date = %s", (D[1],)) == [
        (1, False)]


@pytest.mark.parametrize("retention, expired", [
    (0, []),
    (1, [D[0], D[1], D[3]]),  # D[2] not done
    (3, [D[0], D[1]]),
    (4, [D[0]]),
    (5, []),
    (10 ** 9, []),
])
def test_expired_staging_days(retention, expired):
    staged = set(D[:5])  # D[5]: a partition left empty by an interrupted run, D[6] not staged
    done = {D[0], D[1], D[3], D[4]}
    assert expired_staging_days(D[:6], staged, done, retention) == expired


def markers(day_task):
    return lambda day, account: day_task(sync_date=day, account=account).task_id


RETAIN = {"staged_marker": markers(LoadStaging), "done_marker": markers(SnapshotHistory)}


def test_retention_drops_the_staging_of_done_days_only_and_keeps_history(schema, caplog):
    statuses = {day: {1: True, 2: n != 2} for n, day in enumerate(D[:5])}  # 2 inactive on D[2], back on D[3]
    load_days(schema, {day: agents for day, agents in statuses.items() if day != D[1]})
    load_days(schema, {D[1]: statuses[D[1]]}, markers=("LoadStaging",))  # a late day, its history not yet done
    for table in PARTITIONED:
        create_day_partition(schema, table, D[6])  # left empty by a run that stopped: not staged, not newest
    execute(schema, "insert into agents (agent_id, name, email, deactivated, status, sync_day, source, ingested_at,"
                    " sync_date) values (2, 'latest 2', '2@agents.example', false, 'active', '', 'api', now(), %s)",
            (D[4],))
    history_before = query(schema, "select * from agent_status_history order by 1, 2")

    assert drop_expired_staging(schema, 0, **RETAIN) == []  # 0 keeps all staging
    with caplog.at_level(logging.INFO, logger="luigi-interface.pipeline"):
        dropped = drop_expired_staging(schema, 2, **RETAIN)  # keeps sync dates after D[4] - 2 days
    assert dropped == ["stg_agents_p20240301", "stg_agents_p20240303"]
    assert "dropped stg_agents_p20240301, stg_agents_p20240303" in caplog.text
    assert partitions(schema, "stg_agents") == ["stg_agents_p20240302", "stg_agents_p20240304",
                                                "stg_agents_p20240305", "stg_agents_p20240307"]
    assert query(schema, "select * from agent_status_history order by 1, 2") == history_before
    assert drop_expired_staging(schema, 2, **RETAIN) == []

    # the report of a day whose staging is gone names the agent from agents
    with closing(psycopg2.connect(schema)) as connection, connection.cursor() as cursor:
        assert gather_report(cursor, D[2])["deactivated"] == [
            {"agent_id": 2, "is_active": False, "name": "latest 2", "email": "2@agents.example"}]
        assert gather_report(cursor, D[3])["reactivated"] == [
            {"agent_id": 2, "is_active": True, "name": "staged 2", "email": "2@staged.example"}]


def test_retention_leaves_busy_days_and_a_busy_table_for_the_next_day(schema, caplog):
    load_days(schema, {day: {1: True} for day in D[:3]})
    caplog.set_level(logging.INFO, logger="luigi-interface.pipeline")
    with closing(psycopg2.connect(schema)) as other, other.cursor() as cursor:
        cursor.execute("lock table stg_agents in access share mode")  # a long read of staging
        assert drop_expired_staging(schema, 1, **RETAIN, lock_timeout="50ms") == []
        assert "stg_agents stayed busy for 50ms; its expired partitions are left for the next day" in caplog.text
        other.rollback()
        cursor.execute("select pg_advisory_xact_lock(%s, %s)", (0x41474E54, D[0].toordinal()))  # a run of D[0]
        assert drop_expired_staging(schema, 1, **RETAIN) == ["stg_agents_p20240302"]
        assert "2024-03-01 left for the next day (another run holds them)" in caplog.text
    assert drop_expired_staging(schema, 1, **RETAIN) == ["stg_agents_p20240301"]


OLD_SCHEMA = """
create table stg_agents (
    agent_id bigint not null, email text, name text, job_title text, language text, mobile text, phone text,
    time_zone text, available boolean, deactivated boolean not null,
    status text not null check (status in ('active', 'inactive')), focus_mode boolean,
    agent_operational_status text, last_active_at timestamptz, created_at timestamptz, updated_at timestamptz,
    sync_day text not null, source text not null, ingested_at timestamptz not null default now(),
    sync_date date not null, primary key (sync_date, agent_id)
);
alter table stg_agents add column if not exists absent_fields text[] not null default '{}';
create table agent_status_history (
    agent_id bigint not null, sync_date date not null, is_active boolean not null, primary key (agent_id, sync_date)
);
create index agent_status_history_sync_date on agent_status_history (sync_date);
"""
OLD_VIEW = """
create view agent_status_periods as select agent_id, is_active, sync_date as valid_from from agent_status_history;
"""
OLD_STAGE = """
insert into stg_agents (agent_id, email, name, deactivated, status, sync_day, source, sync_date, absent_fields)
values (%s, %s, %s, %s, %s, %s, 'api', %s, '{language}')
"""


def test_an_unpartitioned_database_is_migrated_and_loads_the_next_day(pipeline_env, monkeypatch):
    """A database from before partitioning (its last schema, two loaded days): ensure_schema moves every row
    into day partitions, once; the pipeline then loads a third day on top."""
    dsn = pipeline_env["dsn"]
    execute(dsn, OLD_SCHEMA + OLD_VIEW)  # the view depends on the history
    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        for day, inactive in ((DAY1, {11200000003}), (DAY2, {11200000003, 11200000004})):
            for agent_id in range(11200000001, 11200000007):
                active = agent_id not in inactive
                cursor.execute(OLD_STAGE, (agent_id, f"{agent_id}@old.example", f"old {agent_id}", not active,
                                           "active" if active else "inactive", day.isoformat(), day))
                cursor.execute(HISTORY_ROW, (agent_id, day, active))
        connection.commit()
    columns = "agent_id, email, name, deactivated, status, absent_fields, sync_day, source, ingested_at, sync_date"
    history_columns = "agent_id, sync_date, is_active"  # (the migration adds absent_fields: null, all carried)
    before = {table: query(dsn, f"select {cols} from {table} order by 1, 2")
              for table, cols in (("stg_agents", columns), ("agent_status_history", history_columns))}

    for _ in range(2):  # the second run finds nothing to do
        apply_schema(dsn)
        assert {table: query(dsn, f"select {cols} from {table} order by 1, 2")
                for table, cols in (("stg_agents", columns), ("agent_status_history", history_columns))} == before
        assert query(dsn, "select relname, relkind from pg_class where relname in %s order by 1", (PARTITIONED,)) == [
            ("agent_status_history", "p"), ("stg_agents", "p")]
        assert partitions(dsn, "stg_agents") == ["stg_agents_p20240101", "stg_agents_p20240102"]
        assert partitions(dsn, "agent_status_history") == ["agent_status_history_p20240101",
                                                           "agent_status_history_p20240102"]
        assert query(dsn, "select count(*) from pg_class where relname like '%%unpartitioned%%'") == [(0,)]
    assert query(dsn, "select agent_id, is_active, valid_from, valid_to, is_current from agent_status_periods"
                      " where agent_id = 11200000004 order by valid_from") == [
        (11200000004, True, DAY1, DAY2, False), (11200000004, False, DAY2, None, True)]

    day3 = datetime.date(2024, 1, 3)
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(REPO / "data" / "raw"))
    run_days(day3)
    assert history(dsn, day3)[11200000004] is True  # reactivated against the migrated history
    assert query(dsn, "select agents_reactivated from agent_pipeline_runs where task = 'SnapshotHistory'") == [(1,)]
    assert partitions(dsn, "stg_agents")[-1] == "stg_agents_p20240103"
    assert query(dsn, "select sync_date, count(*) from agent_status_history group by 1 order by 1") == [
        (DAY1, 6), (DAY2, 6), (day3, 6)]


def test_a_loaded_days_partitions_have_planner_statistics(fixture_days_loaded):
    """Each day's staging and history partitions are analyzed in the day's own transactions: autovacuum would
    come later (or never, for a small day), and the day's next statements would plan for one row."""
    dsn = fixture_days_loaded["dsn"]
    rows = {(table, day): query(dsn, f"select count(*) from {table} where sync_date = %s", (day,))[0][0]
            for table in PARTITIONED for day in (DAY1, DAY2)}
    statistics = {(table, day): query(dsn, "select reltuples from pg_class where oid = day_partition_name(%s, %s)"
                                           "::regclass", (table, day))[0][0]
                  for table in PARTITIONED for day in (DAY1, DAY2)}
    assert statistics == rows and all(count > 0 for count in rows.values())


def test_marking_deleted_agents_reads_a_large_day_once_whatever_work_mem(fixture_days_loaded):
    """sql/010_mark_deleted_agents.sql joins the day's staged agents: no plan of it scans them again for each agent,
    which PostgreSQL does with a list tested by ``in`` that does not fit in work_mem (a 1,000,000-agent day did not
    finish)."""
    from pipeline.resources import read_sql

    with closing(psycopg2.connect(fixture_days_loaded["dsn"])) as connection, connection.cursor() as cursor:
        cursor.execute("insert into stg_agents (agent_id, deactivated, status, sync_day, source, sync_date)"
                       " select n, false, 'active', %(day)s::text, 'api', %(day)s from generate_series(1, 20000) as n",
                       {"day": DAY2})
        cursor.execute("analyze stg_agents")
        cursor.execute("set local work_mem = '64kB'")
        cursor.execute("explain " + read_sql("010_mark_deleted_agents.sql"),
                       {"sync_date": DAY2, "accounts": ["default"], "deleted_after_days": 7})
        plan = "\n".join(row[0] for row in cursor.fetchall())
        connection.rollback()
    rescans = [line for line in plan.splitlines() if "SubPlan" in line and "hashed" not in line]
    assert "stg_agents" in plan and rescans == [], plan
