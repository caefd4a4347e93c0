"""agent_versions on the real database: one row per agent per version of every loaded column, the same whatever
the order the days are loaded in, and a reference model of its definition to compare with."""
import datetime
import random
from contextlib import closing

import psycopg2
import pytest

from conftest import query
from pipeline.database import ensure_schema, run_sql_file
from pipeline.partitions import create_day_partition
from pipeline.tables import CARRIED_COLUMNS, STAGING_COLUMNS

VERSION_COLUMNS = ("email", "name", "job_title", "language", "mobile", "phone", "time_zone", "available",
                   "deactivated", "status", "focus_mode", "agent_operational_status", "last_active_at",
                   "created_at", "updated_at")
START = datetime.date(2024, 3, 1)
UTC = datetime.timezone.utc


def day(n: int) -> datetime.date:
    return START + datetime.timedelta(days=n)


def agent(agent_id: int, absent=(), **values) -> dict:
    """A staging row: defaults, ``values`` over them, and the ``absent`` fields (their value null, not said)."""
    row = {"agent_id": agent_id, "email": f"a{agent_id}@example.com", "name": f"Agent {agent_id}",
           "job_title": None, "language": "en", "mobile": None, "phone": None, "time_zone": "London",
           "available": False, "deactivated": False, "focus_mode": True, "agent_operational_status": "available",
           "last_active_at": None, "created_at": datetime.datetime(2022, 1, 1, tzinfo=UTC),
           "updated_at": datetime.datetime(2024, 1, 1, tzinfo=UTC)} | values
    row["status"] = "inactive" if row["deactivated"] else "active"
    row["absent_fields"] = [column for column in CARRIED_COLUMNS if column in absent]
    for column in row["absent_fields"]:
        row[column] = None
    return row


def load_day(dsn: str, sync_date: datetime.date, rows: list[dict]) -> dict:
    """What LoadStaging and SnapshotHistory do to the database for a day, with the pipeline's own SQL: the day's
    staging rows replaced, then its versions and history recorded in one transaction. Returns the version counts."""
    ensure_schema(dsn)
    day = {"sync_date": sync_date, "accounts": ["default"]}
    for table in ("stg_agents", "agent_status_history"):
        create_day_partition(dsn, table, sync_date)
    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        run_sql_file(cursor, "009_empty_day_partition.sql", {"table": "stg_agents", **day})
        columns = [column for column in STAGING_COLUMNS if column not in ("sync_day", "source", "sync_date", "account")]
        for row in rows:
            cursor.execute(f"insert into stg_agents ({', '.join(columns)}, sync_day, source, sync_date)"
                           f" values ({', '.join(['%s'] * len(columns))}, %s, 'api', %s)",
                           [row[column] for column in columns] + [sync_date.isoformat(), sync_date])
        connection.commit()
        run_sql_file(cursor, "022_lock_agent_versions.sql", {})
        [counts] = run_sql_file(cursor, "023_record_agent_versions.sql", day)
        del counts["account"]
        run_sql_file(cursor, "009_empty_day_partition.sql", {"table": "agent_status_history", **day})
        run_sql_file(cursor, "020_snapshot_history.sql", day)
        connection.commit()
    return counts


def versions(dsn) -> list[tuple]:
    return query(dsn, f"select agent_id, {', '.join(VERSION_COLUMNS)}, valid_from, valid_to, is_current"
                      " from agent_versions order by agent_id, valid_from")


def expected_versions(days: dict[datetime.date, list[dict]]) -> list[tuple]:
    """The definition: each agent's recorded days in date order, each field carried forward from the latest day
    that carried it (absent is not null); a version per run of days with equal values."""
    timeline = {}
    for sync_date, rows in days.items():
        for row in rows:
            timeline.setdefault(row["agent_id"], []).append((sync_date, row))
    result = []
    for agent_id, recorded in sorted(timeline.items()):
        current, runs = dict.fromkeys(VERSION_COLUMNS), []
        for sync_date, row in sorted(recorded, key=lambda item: item[0]):
            current = current | {column: row[column] for column in VERSION_COLUMNS
                                 if column not in row["absent_fields"]}
            values = tuple(current[column] for column in VERSION_COLUMNS)
            if not runs or runs[-1][0] != values:
                runs.append((values, sync_date))
        for n, (values, valid_from) in enumerate(runs):
            valid_to = runs[n + 1][1] if n + 1 < len(runs) else None
            result.append((agent_id, *values, valid_from, valid_to, valid_to is None))
    return result


def generated_days(seed: int, agents: int = 30, days: int = 8) -> dict[datetime.date, list[dict]]:
    """Days with changes in every kind of column, deactivations, reactivations, agents missing from some days,
    and days whose records lack language and time_zone (as a details record does)."""
    rng = random.Random(seed)
    state = {agent_id: agent(agent_id) for agent_id in range(1, agents + 1)}
    changes = {
        "email": lambda: f"x{rng.randrange(3)}@example.com", "job_title": lambda: rng.choice([None, "Lead", "Agent"]),
        "language": lambda: rng.choice(["en", "de"]), "available": lambda: rng.choice([True, False]),
        "updated_at": lambda: datetime.datetime(2024, 1, 1 + rng.randrange(3), tzinfo=UTC),
        "deactivated": lambda: rng.random() < 0.5,
    }
    def values(agent_id):
        return {column: state[agent_id][column] for column in VERSION_COLUMNS if column != "status"}

    result = {}
    for n in range(days):
        rows = []
        for agent_id in state:
            if rng.random() < 0.3:
                column = rng.choice(list(changes))
                state[agent_id] = agent(agent_id, **(values(agent_id) | {column: changes[column]()}))
            if rng.random() < 0.85:  # recorded that day
                absent = ("language", "time_zone") if rng.random() < 0.25 else ()
                rows.append(agent(agent_id, absent=absent, **values(agent_id)))
        result[day(n)] = rows
    return result


@pytest.fixture(scope="module")
def generated():
    return generated_days(seed=11)


@pytest.fixture(scope="module")
def in_order(generated, pg_server_dsn):
    from conftest import create_database, drop_database

    name, dsn = create_database(pg_server_dsn)
    for sync_date in sorted(generated):
        load_day(dsn, sync_date, generated[sync_date])
    yield dsn
    drop_database(pg_server_dsn, name)


def test_days_in_order_give_the_versions_of_the_definition(generated, in_order):
    found = versions(in_order)
    assert found == expected_versions(generated)
    assert len(found) > 60  # changes, deactivations and reactivations happened


@pytest.mark.parametrize("order", ["newest first", "shuffled", "shuffled again"])
def test_any_order_of_days_gives_the_same_versions(generated, in_order, new_database, order):
    dsn = new_database()
    days = sorted(generated, reverse=order == "newest first")
    if order.startswith("shuffled"):
        random.Random(order).shuffle(days)
    for sync_date in days:
        load_day(dsn, sync_date, generated[sync_date])
    assert versions(dsn) == versions(in_order)


def test_re_processing_days_gives_the_same_versions(generated, in_order, new_database):
    """Every day loaded, then three of them loaded again: once changed, once as they were."""
    dsn = new_database()
    changed = generated_days(seed=12)
    for sync_date in sorted(generated):
        load_day(dsn, sync_date, changed[sync_date])
    for sync_date in (day(3), day(0), day(7)):
        load_day(dsn, sync_date, generated[sync_date])
    corrected = changed | {sync_date: generated[sync_date] for sync_date in (day(3), day(0), day(7))}
    assert versions(dsn) == expected_versions(corrected)
    for sync_date in sorted(generated):
        load_day(dsn, sync_date, generated[sync_date])
    assert versions(dsn) == versions(in_order)


@pytest.mark.parametrize("column, value", [
    ("email", "new@example.com"), ("job_title", "Lead"), ("available", True), ("focus_mode", None),
    ("updated_at", datetime.datetime(2024, 2, 1, tzinfo=UTC)), ("last_active_at", datetime.datetime(2024, 2, 2,
                                                                                                   tzinfo=UTC)),
])
def test_a_change_in_any_column_starts_a_version(database, column, value):
    assert load_day(database, day(0), [agent(1)]) == {"versions_opened": 1, "versions_closed": 0,
                                                      "agents_replayed": 0}
    assert load_day(database, day(1), [agent(1, **{column: value})]) == {
        "versions_opened": 1, "versions_closed": 1, "agents_replayed": 0}
    rows = query(database, f"select {column}, valid_from, valid_to, is_current from agent_versions order by 2")
    assert rows == [(agent(1)[column], day(0), day(1), False), (value, day(1), None, True)]


def test_an_unchanged_day_and_an_absent_field_start_no_version(database):
    load_day(database, day(0), [agent(1, language="de")])
    assert load_day(database, day(1), [agent(1, language="de")])["versions_opened"] == 0
    assert load_day(database, day(2), [agent(1, absent=("language", "time_zone"))])["versions_opened"] == 0
    assert query(database, "select language, time_zone, valid_from, valid_to from agent_versions") == [
        ("de", "London", day(0), None)]
    assert query(database, "select absent_fields from agent_status_history order by sync_date") == [
        (None,), (None,), (["language", "time_zone"],)]


def test_deactivation_and_reactivation_are_versions(database):
    for n, deactivated in enumerate((False, True, True, False)):
        load_day(database, day(n), [agent(1, deactivated=deactivated)])
    assert query(database, "select status, valid_from, valid_to from agent_versions order by valid_from") == [
        ("active", day(0), day(1)), ("inactive", day(1), day(3)), ("active", day(3), None)]


def test_a_late_day_splits_a_version_and_its_correction_merges_it_again(database):
    load_day(database, day(0), [agent(1)])
    load_day(database, day(2), [agent(1, absent=("language",))])  # the later day carries no language
    assert query(database, "select valid_from, valid_to from agent_versions") == [(day(0), None)]
    late = load_day(database, day(1), [agent(1, language="de", job_title="Lead")])
    assert late == {"versions_opened": 0, "versions_closed": 0, "agents_replayed": 1}
    # day 2 keeps the late day's language (it carried none) and its own job title (None): a version of its own
    assert query(database, "select language, job_title, valid_from, valid_to from agent_versions"
                           " order by valid_from") == [
        ("en", None, day(0), day(1)), ("de", "Lead", day(1), day(2)), ("de", None, day(2), None)]
    load_day(database, day(1), [agent(1)])  # the late day corrected: no change left
    assert query(database, "select language, job_title, valid_from, valid_to from agent_versions") == [
        ("en", None, day(0), None)]


def test_an_agent_gone_from_a_re_processed_day_is_replayed(database):
    load_day(database, day(0), [agent(1), agent(2)])
    load_day(database, day(1), [agent(1), agent(2, name="Renamed")])
    load_day(database, day(1), [agent(1)])  # re-processed: agent 2 no longer recorded that day
    assert query(database, "select agent_id, name, valid_from, valid_to from agent_versions order by 1, 3") == [
        (1, "Agent 1", day(0), None), (2, "Agent 2", day(0), None)]


def test_agents_as_of_a_day(database):
    load_day(database, day(0), [agent(1), agent(2)])
    load_day(database, day(2), [agent(1, job_title="Lead"), agent(2, deactivated=True), agent(3)])
    assert query(database, "select agent_id, job_title, status from agents_as_of(%s) order by 1", (day(1),)) == [
        (1, None, "active"), (2, None, "active")]
    assert query(database, "select agent_id, job_title, status from agents_as_of(%s) order by 1", (day(2),)) == [
        (1, "Lead", "active"), (2, None, "inactive"), (3, None, "active")]
    assert query(database, "select count(*) from agents_as_of(%s)", (day(-1),)) == [(0,)]


def test_a_normal_day_touches_only_the_agents_that_changed(database):
    load_day(database, day(0), [agent(n) for n in range(1, 201)])
    counts = load_day(database, day(1), [agent(n, name="Changed" if n % 50 == 0 else f"Agent {n}")
                                         for n in range(1, 201)])
    assert counts == {"versions_opened": 4, "versions_closed": 4, "agents_replayed": 0}


def test_a_day_that_writes_many_versions_leaves_statistics_for_the_next_day(database):
    estimated = "select reltuples from pg_class where relname = 'agent_versions'"
    load_day(database, day(0), [agent(n) for n in range(1, 201)])  # 200 versions: more than 50 + a tenth of 0
    assert query(database, estimated) == [(200,)]
    load_day(database, day(1), [agent(n, name="Changed" if n <= 20 else f"Agent {n}") for n in range(1, 201)])
    assert query(database, "select count(*) from agent_versions") == [(220,)]
    assert query(database, estimated) == [(200,)]  # 20 versions: fewer than 50 + a tenth of 200, not analyzed
    load_day(database, day(2), [agent(n, name="Again" if n <= 80 else f"Agent {n}") for n in range(1, 201)])
    assert query(database, estimated) == [(300,)]  # 80 versions: more than 50 + a tenth of 200
