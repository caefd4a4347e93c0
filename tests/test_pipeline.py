"""The whole daily graph on real PostgreSQL and a real local Spark, through luigi."""
import datetime
import json
import shutil
from contextlib import closing

import luigi
import psycopg2
from luigi.execution_summary import LuigiStatusCode

from conftest import FIXTURES, REPO, cli, cli_env, query
from pipeline import LoadStaging, SnapshotHistory
from pipeline.tables import STAGING_COLUMNS

DAY1, DAY2 = datetime.date(2024, 1, 1), datetime.date(2024, 1, 2)
# every column but ingested_at, which records when a row was loaded
DATA_COLUMNS = ", ".join(STAGING_COLUMNS)
AGENT_COLUMNS = DATA_COLUMNS.replace("absent_fields", "field_sync_dates")


def run(*tasks):
    result = luigi.build(list(tasks), local_scheduler=True, detailed_summary=True, log_level="WARNING")
    assert result.status == LuigiStatusCode.SUCCESS, result.summary_text
    return result


def run_days(*days):
    for day in days:
        run(SnapshotHistory(sync_date=day))


def tables(dsn):
    return {
        "stg_agents": query(dsn, f"select {DATA_COLUMNS} from stg_agents order by sync_date, agent_id"),
        "agents": query(dsn, f"select {AGENT_COLUMNS} from agents order by agent_id"),
        "agent_status_history": query(dsn, "select * from agent_status_history order by sync_date, agent_id"),
        "agent_versions": query(dsn, "select * from agent_versions order by agent_id, valid_from"),
        "agent_pipeline_errors": query(
            dsn, "select agent_id, sync_date, source_file, record_index, error_type, error_message, raw_record"
                 " from agent_pipeline_errors order by sync_date, source_file, record_index"),
    }


def history(dsn, day):
    return dict(query(dsn, "select agent_id, is_active from agent_status_history where sync_date = %s", (day,)))


def copy_fixture_days(tmp_path):
    raw = tmp_path / "raw"
    for day in (DAY1, DAY2):
        shutil.copytree(FIXTURES / day.isoformat(), raw / day.isoformat())
    return raw


def test_fixture_days_deactivate_the_agents_missing_from_the_list(fixture_days_loaded):
    dsn = fixture_days_loaded["dsn"]
    day1, day2 = history(dsn, DAY1), history(dsn, DAY2)
    assert sorted(day1) == sorted(day2) == list(range(11200000001, 11200000007))
    assert [a for a, active in sorted(day1.items()) if not active] == [11200000003]
    assert [a for a, active in sorted(day2.items()) if not active] == [11200000003, 11200000004, 11200000006]
    agents = {r[0]: r[1:] for r in query(
        dsn, "select agent_id, status, deactivated, sync_date, sync_day, source from agents")}
    assert agents[11200000004] == ("inactive", True, DAY2, "2024-01-02", "api")
    assert agents[11200000001] == ("active", False, DAY2, "2024-01-02", "api")
    assert query(dsn, "select sync_date, count(*) from stg_agents group by 1 order by 1") == [(DAY1, 6), (DAY2, 6)]
    assert query(dsn, "select inhrelid::regclass::text from pg_inherits where inhparent in"  # a partition per day
                      " ('stg_agents'::regclass, 'agent_status_history'::regclass) order by 1") == [
        ("agent_status_history_p20240101",), ("agent_status_history_p20240102",),
        ("stg_agents_p20240101",), ("stg_agents_p20240102",)]
    assert query(dsn, "select count(*) from agent_pipeline_errors") == [(0,)]
    # list and details records carry the same updated_at but different phones: the tie goes to the list record
    [listed] = [r for r in json.loads((FIXTURES / "2024-01-02/agents/1.json").read_text()) if r["id"] == 11200000001]
    details = json.loads((FIXTURES / "2024-01-02/agent_details/11200000001.json").read_text())
    assert listed["contact"]["phone"] != details["contact"]["phone"]
    assert query(dsn, "select phone from stg_agents where agent_id = 11200000001 and sync_date = %s", (DAY2,)) == [
        (listed["contact"]["phone"],)]


def test_a_rerun_of_a_finished_day_changes_nothing(fixture_days_loaded):
    dsn = fixture_days_loaded["dsn"]
    before, markers = tables(dsn), query(dsn, "select * from table_updates order by 1")
    result = run(SnapshotHistory(sync_date=DAY2))
    assert "Did not run any tasks" in result.summary_text
    assert tables(dsn) == before
    assert query(dsn, "select * from table_updates order by 1") == markers


def test_out_of_order_days_end_with_the_same_agents(fixture_days_loaded, new_database, monkeypatch):
    in_order = fixture_days_loaded["dsn"]
    reverse = new_database()
    monkeypatch.setenv("PIPELINE_PG_DSN", reverse)
    run_days(DAY2, DAY1)
    assert tables(reverse) == tables(in_order)
    assert query(reverse, "select distinct sync_date from agents") == [(DAY2,)]


def test_invalid_records_land_in_errors_and_never_change_an_agent(pipeline_env, tmp_path, monkeypatch):
    dsn = pipeline_env["dsn"]
    raw = copy_fixture_days(tmp_path)
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(raw))
    page_path = raw / "2024-01-02/agents/1.json"
    page = json.loads(page_path.read_text())
    quarantined, position = 11200000001, [r["id"] for r in page].index(11200000001)
    page[position]["available"] = "yes"  # an invalid list record: this agent is quarantined for the day
    page_path.write_text(json.dumps(page))
    (raw / "2024-01-02/agent_details/broken.json").write_text('{"id": 1')
    details = json.loads((raw / "2024-01-02/agent_details/11200000005.json").read_text())
    details.update(id="11200000005", updated_at="2099-01-01T00:00:00Z")
    details["contact"]["email"] = "not-an-address"
    (raw / "2024-01-02/agent_details/11200000005.json").write_text(json.dumps(details))
    run_days(DAY1, DAY2)

    errors = query(dsn, "select agent_id, source_file, record_index, error_type, error_message, raw_record"
                        " from agent_pipeline_errors where sync_date = %s order by source_file", (DAY2,))
    assert [e[:5] for e in errors] == [
        (11200000005, "2024-01-02/agent_details/11200000005.json", 0, "VALIDATION_ERROR",
         '$.contact.email: "not-an-address" is not a "email"\n$.id: "11200000005" is not of type "integer"'),
        (None, "2024-01-02/agent_details/broken.json", None, "PARSE_ERROR", errors[1][4]),
        (quarantined, "2024-01-02/agents/1.json", position, "VALIDATION_ERROR",
         '$.available: "yes" is not of type "null", "boolean"'),
    ]
    assert errors[0][5]["contact"]["email"] == "not-an-address"  # the raw record, as it came
    assert errors[1][5] == '{"id": 1'
    assert "not valid JSON" in errors[1][4]
    summary = {row["sync_date"]: row for row in query_summary(dsn)}
    assert summary[DAY2]["records_invalid"] == 3  # two invalid records and the unreadable file
    assert quarantined not in history(dsn, DAY2)
    assert query(dsn, "select sync_date, status from agents where agent_id = %s", (quarantined,)) == [(DAY1, "active")]
    # 11200000005 is still known from its valid list record
    assert query(dsn, "select email, updated_at < '2099-01-01' from stg_agents where agent_id = 11200000005"
                      " and sync_date = %s", (DAY2,)) == [("omar.haddad@example.com", True)]


def test_text_round_trips_exactly(pipeline_env, tmp_path, monkeypatch):
    dsn = pipeline_env["dsn"]
    raw = copy_fixture_days(tmp_path)
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(raw))
    strange = {
        "name": 'Zoë "Z" O\'Brien \\ 日本 🙂',
        "job_title": "line one\nline two\r\n\ttabbed \\N",
        "mobile": "",
        "phone": None,
        "time_zone": "\\",
    }
    for folder in ("agents/1.json", "agent_details/11200000002.json"):
        path = raw / "2024-01-02" / folder
        document = json.loads(path.read_text())
        for record in document if isinstance(document, list) else [document]:
            if record["id"] == 11200000002:
                record["contact"].update(strange)
        path.write_text(json.dumps(document, ensure_ascii=False))
    run_days(DAY2)
    columns = "name, job_title, mobile, phone, time_zone"
    for table in ("stg_agents", "agents"):
        assert query(dsn, f"select {columns} from {table} where agent_id = 11200000002") == [tuple(strange.values())]


def query_summary(dsn):
    from pipeline.metrics import run_summary_rows

    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        return run_summary_rows(cursor)


def test_load_staging_alone_then_the_rest(fixture_days_loaded, new_database, monkeypatch):
    """The state a crash right after LoadStaging leaves behind, resumed by the next run."""
    clean = fixture_days_loaded["dsn"]
    resumed = new_database()
    monkeypatch.setenv("PIPELINE_PG_DSN", resumed)
    run(LoadStaging(sync_date=DAY1), LoadStaging(sync_date=DAY2))
    assert query(resumed, "select count(*) from agents") == [(0,)]
    run_days(DAY1, DAY2)
    assert tables(resumed) == tables(clean)


def test_cli_exits_non_zero_naming_a_missing_day(tmp_path, database):
    env = cli_env(raw_root=tmp_path / "raw", output_root=tmp_path / "output", pg_dsn=database)
    result = cli("SnapshotHistory", "--sync-date", "2030-02-03", env=env)
    assert result.returncode == 20  # [retcode] missing_data
    assert f"Raw input missing: {tmp_path / 'raw' / '2030-02-03'} does not exist; the raw root" in result.stderr
    assert "DEBUG" not in result.stderr and "Informed scheduler" not in result.stderr  # INFO by default
    assert "does not exist (yet?)" not in result.stderr and "UserWarning" not in result.stderr

    debug = cli("SnapshotHistory", "--sync-date", "2030-02-03", "--log-level", "DEBUG", env=env)
    assert debug.returncode == 20
    assert "DEBUG: Informed scheduler that task" in debug.stderr and "does not exist (yet?)" in debug.stderr


def test_cli_exits_non_zero_naming_a_broken_list_page(tmp_path, database):
    raw = copy_fixture_days(tmp_path)
    (raw / "2024-01-02/agents/1.json").write_text("[{")
    env = cli_env(raw_root=raw, output_root=tmp_path / "output", pg_dsn=database)
    result = cli("SnapshotHistory", "--sync-date", "2024-01-02", env=env)
    assert result.returncode == 30  # [retcode] task_failed
    assert f"RawInputError: {raw / '2024-01-02/agents/1.json'}: list page is not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr  # one clear line, not a stack trace
    assert list((tmp_path / "output" / "validated").iterdir()) == []  # nothing half-done, no temporary folder


def test_a_range_loads_missing_days_and_checks_them_in_one_query(pipeline_env):
    from luigi.tools.range import RangeDaily

    dsn = pipeline_env["dsn"]
    assert SnapshotHistory.bulk_complete([DAY1, DAY2]) == []  # before any schema exists
    run(RangeDaily(of=SnapshotHistory, start=DAY1, stop=DAY2 + datetime.timedelta(days=1)))
    assert query(dsn, "select sync_date, count(*) from agent_status_history group by 1 order by 1") == [
        (DAY1, 6), (DAY2, 6)]
    assert SnapshotHistory.bulk_complete([DAY1, DAY2, datetime.date(2024, 1, 3)]) == [DAY1, DAY2]


def test_the_bundled_sample_shows_every_case(loaded_days):
    day3 = datetime.date(2024, 1, 3)
    pipeline_env = loaded_days(REPO / "data" / "raw", DAY1, DAY2, day3)
    dsn = pipeline_env["dsn"]
    assert history(dsn, DAY2)[11200000004] is False and history(dsn, day3)[11200000004] is True  # reactivated
    assert 11200000005 not in history(dsn, day3)  # quarantined: its list record on page 2 is invalid
    assert query(dsn, "select sync_date from agents where agent_id = 11200000005") == [(DAY2,)]
    assert query(dsn, "select job_title, status from agents where agent_id in (11200000001, 11200000007)"
                      " order by agent_id") == [("Support Team Lead", "active"), ('Support "Tier 2"\tAPAC', "active")]
    assert query(dsn, "select agent_id, error_type from agent_pipeline_errors order by agent_id") == [
        (11200000005, "VALIDATION_ERROR"), (11200000006, "VALIDATION_WARNING"), (11200000008, "VALIDATION_ERROR")]
    assert history(dsn, day3)[11200000006] is False  # not listed: recorded inactive, its warning notwithstanding
    summary = json.loads((pipeline_env["output_root"] / "transformed/2024-01-03/summary.json").read_text())
    assert summary == {"agents_staged": 6, "duplicates_resolved": 1}  # 1-4, 6 and 7
