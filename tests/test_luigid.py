"""A day run against a real luigid: the scheduler sees the five tasks DONE."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from conftest import FIXTURES, cli, cli_env, free_port

DAY_TASKS = {"ValidateRaw", "TransformAgents", "LoadStaging", "UpsertAgents", "SnapshotHistory"}


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
def test_a_day_runs_against_luigid(luigid, tmp_path, database):
    env = cli_env(raw_root=FIXTURES, output_root=tmp_path / "output", pg_dsn=database)
    result = cli("SnapshotHistory", "--sync-date", "2024-01-02",
                 "--scheduler-host", "127.0.0.1", "--scheduler-port", str(luigid), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    done = api(luigid, "task_list", status="DONE")
    assert {task["name"] for task in done.values()} >= DAY_TASKS
    assert {task["params"]["sync_date"] for task in done.values() if task["name"] in DAY_TASKS} == {"2024-01-02"}
    messages = {task["name"]: (task["status_message"], task["progress_percentage"]) for task in done.values()}
    assert messages["ValidateRaw"] == ("files read: 7, records read: 10, records valid: 10, records rejected: 0, "
                                       "records loaded with warnings: 0, unreadable details files: 0,"
                                       " list records: 4", 100)
    assert messages["LoadStaging"] == ("staging rows: 6, error rows: 0", 100)
    assert messages["SnapshotHistory"][0].startswith(
        "history rows: 6, active on this day: 3, inactive on this day (newly or not): 3")
