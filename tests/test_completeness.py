"""The completeness guard on real PostgreSQL and Spark: a partial export is refused with nothing written,
and let through for one run on request, resuming where it stopped."""
import datetime
import json
import shutil

import luigi
import pytest
from luigi.execution_summary import LuigiStatusCode
from test_pipeline import DAY1, DAY2, copy_fixture_days, run, run_days, tables

from conftest import cli, cli_env, query
from pipeline import SnapshotHistory, TransformAgents

DAYS = [datetime.date(2024, 3, 1), datetime.date(2024, 3, 2)]


def day_rows(dsn, day) -> dict:
    """Everything the database holds for ``day``."""
    return {
        "stg_agents": query(dsn, "select count(*) from stg_agents where sync_date = %s", (day,))[0][0],
        "errors": query(dsn, "select count(*) from agent_pipeline_errors where sync_date = %s", (day,))[0][0],
        "history": query(dsn, "select count(*) from agent_status_history where sync_date = %s", (day,))[0][0],
        "agents": query(dsn, "select count(*) from agents where sync_date = %s", (day,))[0][0],
        "markers": query(dsn, "select count(*) from table_updates where update_id like %s",
                         (f"%{day.isoformat().replace('-', '_')}%",))[0][0],
    }


NOTHING = {"stg_agents": 0, "errors": 0, "history": 0, "agents": 0, "markers": 0}


def fails(task):
    result = luigi.build([task], local_scheduler=True, detailed_summary=True, log_level="WARNING")
    assert result.status == LuigiStatusCode.FAILED, result.summary_text
    return result


@pytest.fixture(scope="module")
def synth_days(tmp_path_factory):
    """Two days of 300 agents (list pages 1-3 of 100), with no churn: every agent is active on both."""
    from bench.synth import main as synth

    raw = tmp_path_factory.mktemp("synth")
    synth(["--agents", "300", "--days", "2", "--start", DAYS[0].isoformat(), "--out", str(raw),
           "--deactivate-rate", "0", "--reactivate-rate", "0", "--new-rate", "0", "--invalid-rate", "0",
           "--duplicate-rate", "0"])
    return raw


@pytest.fixture
def synth_env(pipeline_env, synth_days, tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    shutil.copytree(synth_days, raw, symlinks=True)
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(raw))
    run_days(DAYS[0])
    return raw


def test_a_missing_middle_page_refuses_the_day_before_anything_is_read(synth_env, pipeline_env):
    (synth_env / DAYS[1].isoformat() / "agents" / "2.json").unlink()
    fails(SnapshotHistory(sync_date=DAYS[1]))
    assert day_rows(pipeline_env["dsn"], DAYS[1]) == NOTHING
    assert list((pipeline_env["output_root"] / "validated").iterdir()) == [
        pipeline_env["output_root"] / "validated" / DAYS[0].isoformat()]  # no folder, no temporary folder


def test_a_missing_last_page_refuses_the_day_by_its_deactivations(synth_env, pipeline_env, monkeypatch):
    dsn = pipeline_env["dsn"]
    (synth_env / DAYS[1].isoformat() / "agents" / "3.json").unlink()  # no gap to see: the last page
    before = tables(dsn)
    fails(SnapshotHistory(sync_date=DAYS[1]))
    assert day_rows(dsn, DAYS[1]) == NOTHING and tables(dsn) == before

    monkeypatch.setenv("PIPELINE_MAX_DEACTIVATION_SHARE", "0.5")  # 100 of 300 is within a share of 0.5
    run(SnapshotHistory(sync_date=DAYS[1]))
    assert query(dsn, "select count(*) filter (where not is_active) from agent_status_history"
                      " where sync_date = %s", (DAYS[1],)) == [(100,)]
    assert query(dsn, "select count(*) from agent_pipeline_runs where task = 'ValidateRaw' and sync_date = %s",
                 (DAYS[1],)) == [(1,)]  # resumed at LoadStaging: the day was validated once


def test_a_day_loaded_before_its_predecessor_is_measured_against_what_is_recorded(synth_env, pipeline_env,
                                                                                  new_database, monkeypatch):
    """Out of order: the later day first (nothing earlier recorded), then the earlier one."""
    reverse = new_database()
    monkeypatch.setenv("PIPELINE_PG_DSN", reverse)
    monkeypatch.setenv("PIPELINE_OUTPUT_ROOT", str(pipeline_env["output_root"].parent / "reverse"))
    (synth_env / DAYS[0].isoformat() / "agents" / "3.json").unlink()  # the earlier day lists only 200
    run_days(DAYS[1], DAYS[0])  # neither is refused: nothing earlier is recorded for either
    assert query(reverse, "select sync_date, count(*) filter (where not is_active) from agent_status_history"
                          " group by 1 order by 1") == [(DAYS[0], 100), (DAYS[1], 0)]


@pytest.mark.heavy
def test_an_empty_list_after_a_loaded_day_is_refused_in_one_line_and_let_through_on_request(pipeline_env, tmp_path,
                                                                                           monkeypatch):
    dsn = pipeline_env["dsn"]
    raw = copy_fixture_days(tmp_path)
    run_days(DAY1)  # from the fixture root: same files
    (raw / "2024-01-02/agents/1.json").write_text("[]")
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(raw))
    run(TransformAgents(sync_date=DAY2))  # in this process's Spark: the command line below resumes at LoadStaging
    env = cli_env(raw_root=raw, output_root=pipeline_env["output_root"], pg_dsn=dsn)
    before = tables(dsn)

    refused = cli("SnapshotHistory", "--sync-date", "2024-01-02", env=env)
    assert refused.returncode == 30, refused.stderr[-3000:]
    assert "Starting Spark session" not in refused.stderr
    [line] = [line for line in refused.stderr.splitlines() if "RefusedDay" in line]
    assert ("2024-01-02 refused: its list pages hold no record, so all of the 5 agents active on 2024-01-01"
            " would become inactive. Nothing was written") in line
    assert "--accept-incomplete-days 2024-01-02" in line
    assert "Traceback" not in refused.stderr
    assert tables(dsn) == before and day_rows(dsn, DAY2) == NOTHING

    accepted = cli("SnapshotHistory", "--sync-date", "2024-01-02", "--accept-incomplete-days", "2024-01-02", env=env)
    assert accepted.returncode == 0, accepted.stderr[-3000:]
    assert "Starting Spark session" not in accepted.stderr  # resumed at LoadStaging
    assert query(dsn, "select count(*), count(*) filter (where is_active) from agent_status_history"
                      " where sync_date = %s", (DAY2,)) == [(6, 0)]
    runs = json.loads((pipeline_env["output_root"] / "validated/2024-01-02/summary.json").read_text())
    assert runs["list_records"] == 0
