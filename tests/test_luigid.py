"""A day run against a real luigid: the scheduler sees the six tasks DONE, with their counts."""
import datetime
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import luigi
import pytest
from luigi.execution_summary import LuigiStatusCode

from bench.freshdesk_server import Account, FakeFreshdesk
from conftest import free_port
from pipeline.tasks import SnapshotHistory

DAY_TASKS = {"ExtractAgents", "ValidateRaw", "TransformAgents", "LoadStaging", "UpsertAgents", "SnapshotHistory"}
TODAY = datetime.date.today()


def api(port, method, **data):
    query = urllib.parse.urlencode({"data": json.dumps(data)})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/{method}?{query}", timeout=5) as response:
        return json.load(response)["response"]


@pytest.fixture
def luigid(tmp_path):
    port = free_port()
    (tmp_path / "luigid-logs").mkdir()
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "luigid"), "--address", "127.0.0.1", "--port", str(port),
         "--state-path", str(tmp_path / "luigid-state.pickle"), "--logdir", str(tmp_path / "luigid-logs")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                api(port, "task_list", status="DONE")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "luigid did not start"
                time.sleep(0.2)
        yield port
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)


@pytest.mark.heavy
def test_a_fetched_day_runs_against_luigid(luigid, tmp_path, database, spark, monkeypatch):
    """Today fetched from the API stand-in (three list pages; five known agents no longer listed) and loaded by a
    worker in this process, scheduled by a real luigid: the visualizer shows every task DONE with its counts."""
    yesterday, today = TODAY - datetime.timedelta(days=1), Account.synthetic(250, 5)
    Account.synthetic(255).write_raw_day(tmp_path / "raw" / yesterday.isoformat())
    with FakeFreshdesk(today, "luigid-test-key") as server:
        for name, value in {"PIPELINE_RAW_ROOT": tmp_path / "raw", "PIPELINE_OUTPUT_ROOT": tmp_path / "output",
                            "PIPELINE_PG_DSN": database, "FRESHDESK_BASE_URL": server.base_url,
                            "FRESHDESK_API_KEY": "luigid-test-key"}.items():
            monkeypatch.setenv(name, str(value))
        result = luigi.build([SnapshotHistory(sync_date=TODAY)], local_scheduler=False, scheduler_host="127.0.0.1",
                             scheduler_port=luigid, detailed_summary=True, log_level="WARNING")
    assert result.status == LuigiStatusCode.SUCCESS, result.summary_text
    done = api(luigid, "task_list", status="DONE")
    assert {task["name"] for task in done.values()} >= DAY_TASKS
    assert {task["params"]["sync_date"] for task in done.values() if task["name"] in DAY_TASKS} == {TODAY.isoformat()}
    messages = {task["name"]: (task["status_message"], task["progress_percentage"]) for task in done.values()}
    assert messages["ExtractAgents"] == (
        "list pages fetched: 3, list records: 250, details requested: 5, details fetched: 5, details not found"
        " (404): 0, details calls failed: 0, API requests: 8, API retries: 0, seconds throttled: 0.0", 100)
    assert messages["ValidateRaw"] == ("files read: 8, records read: 255, records valid: 255, records rejected: 0, "
                                       "records with warnings (loaded unless their agent is quarantined): 0,"
                                       " unreadable details files: 0, list records: 250, entries not read"
                                       " (UNREAD_FILE rows): 0, details not fetched (error rows): 0", 100)
    assert messages["LoadStaging"] == ("staging rows: 255, error rows: 0, agents quarantined (an invalid list record:"
                                       " not recorded this day): 0, known agents no record named (recorded inactive,"
                                       " not seen): 0", 100)
    assert messages["SnapshotHistory"][0].startswith(
        "history rows: 255, active on this day: 250, inactive on this day (newly or not): 5")
