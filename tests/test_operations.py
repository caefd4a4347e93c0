"""Operating the pipeline: run metrics, the summary, re-processing, ranges, status periods and the report."""
import datetime
import json
import re
import shutil
from contextlib import closing

import luigi
import psycopg2
import pytest
from luigi.tools.range import RangeDaily
from test_pipeline import DAY1, DAY2, copy_fixture_days, history, run, run_days, tables

from conftest import FIXTURES, REPO, cli, cli_env, query
from pipeline import Reprocess, SnapshotHistory, StatusReport
from pipeline.database import ensure_schema
from pipeline.metrics import RUN_ID, format_summary
from pipeline.partitions import create_day_partition
from pipeline.report import reason_group, render_report

DAY3 = datetime.date(2024, 1, 3)

HISTORY_ROW = "insert into agent_status_history (agent_id, sync_date, is_active) values (%s, %s, %s)"


def day(n):
    return datetime.date(2024, 2, 1) + datetime.timedelta(days=n)


def generated_days(tmp_path, count):
    """``count`` raw days from 2024-02-01 on, alternating the two fixture days' contents."""
    raw = tmp_path / "generated"
    for n in range(count):
        shutil.copytree(FIXTURES / (DAY1, DAY2)[n % 2].isoformat(), raw / day(n).isoformat())
    return raw


def test_status_periods_follow_dbt_snapshot_conventions(database):
    ensure_schema(database)
    d = [datetime.date(2024, 3, n) for n in range(1, 6)]
    rows = [(1, d[0], True), (1, d[1], False), (1, d[2], False), (1, d[4], True),  # d[3] not recorded
            (2, d[0], True), (2, d[1], True)]
    for day in {day for _, day, _ in rows}:
        create_day_partition(database, "agent_status_history", day)
    with closing(psycopg2.connect(database)) as connection, connection.cursor() as cursor:
        cursor.executemany(HISTORY_ROW, rows)
        connection.commit()
    assert query(database, "select agent_id, is_active, valid_from, valid_to, is_current from agent_status_periods"
                           " order by agent_id, valid_from") == [
        (1, True, d[0], d[1], False),
        (1, False, d[1], d[4], False),  # a reactivation after a day with no record ends the period
        (1, True, d[4], None, True),
        (2, True, d[0], None, True),
    ]


def test_each_task_records_its_counts(loaded_days):
    dsn = loaded_days(REPO / "data" / "raw", DAY1, DAY2, DAY3)["dsn"]  # loaded by this process: this run's rows
    runs = {(task, sync_date): counts for task, sync_date, *counts in query(
        dsn, "select task, sync_date, files_read, records_read, records_valid, records_invalid, duplicates_resolved,"
             " agents_staged, staging_rows, error_rows, rows_inserted, rows_updated, rows_unchanged,"
             " agents_active, agents_inactive, agents_reactivated, history_rows"
             " from agent_pipeline_runs where run_id = %s and started_at <= finished_at", (RUN_ID,))}
    assert len(runs) == 15
    assert runs["ValidateRaw", DAY3][:4] == [10, 16, 14, 2]  # 2 list pages + 8 details files; 2 rejects
    assert runs["TransformAgents", DAY3][4:6] == [1, 6]  # 1 duplicate; 6 staged (11200000005 quarantined)
    assert runs["LoadStaging", DAY3][6:8] == [6, 3]  # 2 rejected records, 1 warning
    assert runs["UpsertAgents", DAY1][8:11] == [6, 0, 0]
    # 11200000007 is new; 11200000001's job title and 11200000004's status changed; 2, 3 and 6 as they were
    assert runs["UpsertAgents", DAY3][8:11] == [1, 2, 3]
    assert runs["SnapshotHistory", DAY2][11:] == [3, 3, 0, 6]
    assert runs["SnapshotHistory", DAY3][11:] == [4, 2, 1, 6]  # 11200000004 is back


def test_the_summary_is_a_table_per_day():
    rows = [{"sync_date": DAY1, "records_read": 1200, "records_invalid": 0, "records_warned": 2,
             "duplicates_resolved": None,
             "agents_staged": 6, "agents_quarantined": 0, "agents_unseen": 1,
             "agents_active": 5, "agents_inactive": 1, "agents_reactivated": 0,
             "rows_inserted": 6, "rows_updated": 0, "rows_unchanged": 0, "history_rows": 6}]
    text = format_summary(rows, run_id="abc")
    assert text.splitlines()[0] == "===== Agents pipeline summary (run abc) ====="
    assert text.splitlines()[1].split()[:6] == ["sync", "date", "records", "invalid", "warnings", "duplicates"]
    assert text.splitlines()[1].split()[-4:] == ["inserted", "changed", "unchanged", "history"]
    assert text.splitlines()[1].split()[6:9] == ["staged", "quarantined", "not"]
    assert text.splitlines()[2].split() == ["2024-01-01", "1,200", "0", "2", "-", "6", "0", "1", "5", "1", "0", "6",
                                            "0", "0", "6"]
    assert format_summary([]) == ""
    fetched_only = dict.fromkeys(rows[0], None) | {"sync_date": DAY2}  # a run that only fetched the day
    assert format_summary([fetched_only]) == "" and len(format_summary(rows + [fetched_only]).splitlines()) == 3


def staging_days(dsn):
    return [day for day, in query(dsn, "select distinct sync_date from stg_agents order by 1")]


def test_reprocess_reloads_a_corrected_day_without_regressing_later_days(pipeline_env, tmp_path, monkeypatch):
    """Also with a staging retention of 1 day: the staging of 2024-01-01 is dropped once 2024-01-02 is done,
    and re-processing it loads it again from the raw files."""
    dsn = pipeline_env["dsn"]
    raw = copy_fixture_days(tmp_path)
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(raw))
    monkeypatch.setenv("PIPELINE_STAGING_RETENTION_DAYS", "1")
    run_days(DAY1, DAY2)
    assert staging_days(dsn) == [DAY2] and len(history(dsn, DAY1)) == 6
    agents_before = tables(dsn)["agents"]
    day1_markers = query(dsn, "select * from table_updates where update_id like '%2024_01_01%' order by 1")

    # the export of 2024-01-02 was wrong: 11200000002 had left and 11200000001 has a new title
    page_path = raw / "2024-01-02/agents/1.json"
    page = [r for r in json.loads(page_path.read_text()) if r["id"] != 11200000002]
    for record in page:
        if record["id"] == 11200000001:
            record["contact"]["job_title"] = "Corrected Title"
    page_path.write_text(json.dumps(page))
    details_path = raw / "2024-01-02/agent_details/11200000001.json"
    details = json.loads(details_path.read_text())
    details["contact"]["job_title"] = "Corrected Title"
    details_path.write_text(json.dumps(details))

    reprocess = Reprocess(start=DAY2, stop=DAY2 + datetime.timedelta(days=1))
    run(reprocess)
    assert not SnapshotHistory(sync_date=DAY2).complete()
    assert query(dsn, "select * from table_updates where update_id like '%2024_01_01%' order by 1") == day1_markers
    run_days(DAY2)
    assert query(dsn, "select job_title from stg_agents where agent_id = 11200000001 and sync_date = %s",
                 (DAY2,)) == [("Corrected Title",)]
    assert history(dsn, DAY2)[11200000002] is False
    assert history(dsn, DAY1)[11200000002] is True
    assert query(dsn, "select job_title from agents where agent_id = 11200000001") == [("Corrected Title",)]

    # re-processing the older day never overwrites what 2024-01-02 wrote to agents
    latest, day1_history = tables(dsn)["agents"], history(dsn, DAY1)
    assert latest != agents_before
    run(Reprocess(start=DAY1, stop=DAY2))
    run_days(DAY1)
    assert tables(dsn)["agents"] == latest
    assert history(dsn, DAY1) == day1_history
    assert staging_days(dsn) == [DAY2]  # re-staged, merged, recorded, and dropped again: still that old
    assert query(dsn, "select staging_rows from agent_pipeline_runs where task = 'LoadStaging' and sync_date = %s",
                 (DAY1,)) == [(6,)]


def test_a_range_runs_its_days_oldest_first_even_when_reversed(pipeline_env, tmp_path, monkeypatch):
    """(Any order of days gives the same tables: test_merge and test_pipeline load them out of order.)"""
    raw = generated_days(tmp_path, 3)
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(raw))
    run(RangeDaily(of=SnapshotHistory, start=day(0), stop=day(3), reverse=True))
    started = [d for d, in query(pipeline_env["dsn"], "select sync_date from agent_pipeline_runs"
                                                      " where task = 'ValidateRaw' order by started_at")]
    assert started == [day(0), day(1), day(2)]


@pytest.mark.heavy
def test_two_workers_load_days_of_many_files_to_the_same_tables(pipeline_env, tmp_path, monkeypatch, new_database):
    """``--workers 2`` runs each task in a process of its own; a day of 200 files or more starts validation
    workers inside that process, which must end with the day (a pool left running hung the run)."""
    from bench.synth import main as synth

    raw = tmp_path / "raw"
    synth(["--agents", "250", "--days", "2", "--start", day(0).isoformat(), "--out", str(raw), "--seed", "3"])
    assert len(list((raw / day(0).isoformat()).rglob("*.json"))) >= 200
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(raw))
    run(RangeDaily(of=SnapshotHistory, start=day(0), stop=day(2)))  # one worker, in this process

    parallel = new_database()
    two = cli("RangeDaily", "--of", "SnapshotHistory", "--start", day(0).isoformat(), "--stop", day(2).isoformat(),
              "--workers", "2", env=cli_env(raw_root=raw, output_root=tmp_path / "output-parallel", pg_dsn=parallel,
                                            validation_workers=2), own_jvm=True)  # a JVM per task process
    assert two.returncode == 0, two.stderr[-3000:]
    assert tables(parallel) == tables(pipeline_env["dsn"])


@pytest.mark.parametrize("error_type, reason, group", [
    ("VALIDATION_ERROR", '$.contact.email: "x y" is not a "email"', '$.contact.email: … is not a "email"'),
    ("VALIDATION_ERROR", '$.available: "yes" is not of type "null", "boolean"',
     '$.available: … is not of type "null", "boolean"'),
    ("VALIDATION_ERROR", '$.contact.name: "" should be non-empty', "$.contact.name: … should be non-empty"),
    ("VALIDATION_ERROR", "$.id: 0 is less than the minimum of 1", "$.id: … is less than the minimum of 1"),
    ("VALIDATION_ERROR", '$: "id" is a required property', '$: "id" is a required property'),
    ("VALIDATION_ERROR", '$.job: "it is not a job" is not of type "integer"', '$.job: … is not of type "integer"'),
    ("VALIDATION_ERROR", '$: duplicate key "id" (values 5, 99)', '$: duplicate key "id"'),
    ("VALIDATION_WARNING", '$.role_ids: {"a": [1, …], …} is not of type "null", "array"',
     '$.role_ids: … is not of type "null", "array"'),
    ("PARSE_ERROR", "$: not valid JSON: Expecting value", "file is not valid JSON"),
    ("FETCH_ERROR", "GET https://acme.freshdesk.com/api/v2/agents/7: 404 Not Found: the agent is no longer in"
                    " Freshdesk (deleted); no record of it on this day",
     "details call: 404 Not Found: the agent is no longer in Freshdesk (deleted)"),
    ("FETCH_ERROR", "GET https://acme.freshdesk.com/api/v2/agents/8: 500 Internal Server Error, 6 attempts; no"
                    " record of the agent on this day", "details call: 500 Internal Server Error, 6 attempts"),
])
def test_reason_group(error_type, reason, group):
    assert reason_group(error_type, reason) == group


def test_the_report_matches_the_database(loaded_days):
    loaded = loaded_days(REPO / "data" / "raw", DAY1, DAY2, DAY3)
    dsn = loaded["dsn"]
    run(StatusReport(sync_date=DAY3))
    page = (loaded["output_root"] / "reports" / "2024-01-03.html").read_text()
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch
    history_counts = query(dsn, "select sync_date, count(*) filter (where is_active), count(*) filter"
                                " (where not is_active) from agent_status_history group by 1 order by 1")
    tooltips = re.findall(r"<title>(\d{4}-\d\d-\d\d): ([\d,]+) (active|inactive)</title>", page)
    assert sorted((d, int(n), kind) for d, n, kind in tooltips) == sorted(
        [(d.isoformat(), a, "active") for d, a, _ in history_counts]
        + [(d.isoformat(), i, "inactive") for d, _, i in history_counts])
    counts = dict(re.findall(r"<tr><th>([a-z ()]+)</th><td class=n>([\d,]+)</td></tr>", page))
    assert counts["active on this day"] == "4" and counts["reactivated this day"] == "1"
    assert counts["inactive on this day (newly or not)"] == "2"
    assert counts["deactivated this day (active on the previous recorded day)"] == "0"
    assert counts["records rejected"] == str(query(dsn, "select count(*) from agent_pipeline_errors where"
                                                        " sync_date = %s and error_type = 'VALIDATION_ERROR'",
                                                   (DAY3,))[0][0])
    assert counts["records with warnings (loaded unless their agent is quarantined)"] == "1"
    assert "Reactivated this day (1)" in page and "<code>11200000004</code> Mei Tanaka" in page
    assert "Deactivated this day (0)" in page
    rejected = page[page.index("Rejected records"):page.index("Warnings by reason")]
    errors = {reason: (count, sources) for reason, count, sources in re.findall(
        r"<tr><td><code>(.*?)</code></td><td class=n>(\d+)</td><td>(.*?)</td></tr>", rejected)}
    assert errors == {
        "$.available: … is not of type &quot;null&quot;, &quot;boolean&quot;": ("1", "<code>11200000005</code>"),
        "$.contact.email: … is not a &quot;email&quot;": ("1", "<code>11200000008</code>"),
        "$.id: … is not of type &quot;integer&quot;": ("1", "<code>11200000008</code>"),
        "$.updated_at: … is not a &quot;date-time&quot;": ("1", "<code>11200000008</code>"),
    }
    warnings = re.findall(r'<tr><td><code>(\$\.role_ids.*?)</code></td><td class=n>(\d+)</td><td>(.*?)</td>', page)
    assert warnings == [("$.role_ids: … is not of type &quot;null&quot;, &quot;array&quot;", "1",
                         "<code>11200000006</code>")]
    axis = re.findall(r'<text x="[\d.]+" y="[\d.]+" text-anchor="end">([\d,]+)</text>', page)
    assert axis[0] == "0" and len(axis) >= 3  # a count axis in round steps
    assert re.findall(r">(2024-01-0\d)</text>", page) == ["2024-01-01", "2024-01-02", "2024-01-03"]


def test_render_report_escapes_what_it_shows():
    page = render_report({"sync_date": DAY1, "account": "default", "daily": [], "counts": {},
                          "errors": [("<b>", ["<i>"])], "warnings": [],
                          "deactivated": [{"agent_id": 1, "name": "<script>x</script>", "email": None}],
                          "reactivated": [], "unseen": [{"agent_id": 2, "name": None, "email": "<u>@example.com"}],
                          "warnings_not_loaded": []})
    assert "<script>x" not in page and "&lt;script&gt;x" in page and "&lt;b&gt;" in page and "&lt;i&gt;" in page
    assert "&lt;u&gt;@example.com" in page and "Not seen this day (1)" in page
    assert "No loaded days yet." in page


def test_luigi_picks_the_range_and_report_tasks_up():
    assert luigi.task_register.Register.get_task_cls("Reprocess") is Reprocess
