"""Every shell command and query of the README, run as written (from a copy of the repository, on the bundled
sample, with the embedded server), in the README's order, each checked against what the README says it does.

``EXPECTED`` lists the commands in the README's order with the exit code and an output line the README promises;
a README command that is not listed (or a listed one the README lost) fails ``test_every_readme_command_is_checked``.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, cli_env
from pipeline.embedded import running_pid
from pipeline.rawdays import day_spans, layout_hint, missing_message

README = REPO / "README.md"
SUMMARY_DAY3 = re.compile(r"^2024-01-03( +\d+){14}$", re.MULTILINE)
HELP_ONLY = "(minutes to an hour at full size: checked with --help)"

# command as written in the README -> (exit code, text its output must hold, or a check on the copy of the repo)
EXPECTED = {
    "make run": (0, SUMMARY_DAY3),
    "make test": (None, "(this test suite itself)"),
    "make psql": (0, ""),
    '.venv/bin/python -m pipeline.localdb psql -c "select count(*) from agents"': (0, "     7\n"),
    "select agent_id, name, status, sync_date from agents order by agent_id;": (0, "(7 rows)"),
    "select sync_date, count(*) filter (where is_active) as active, count(*) filter (where not is_active) as inactive"
    " from agent_status_history group by sync_date order by sync_date;": (0, " 2024-01-03 |      4 |        2"),
    "select sync_date, source_file, error_type, error_message from agent_pipeline_errors order by id;":
        (0, "(3 rows)"),
    "make stop-db": (0, "stopped the embedded PostgreSQL in"),
    "luigi --module pipeline SnapshotHistory --sync-date 2024-01-02": (0, "Did not run any tasks"),
    "luigi --module pipeline RangeDaily --of SnapshotHistory --start 2024-01-01 --stop 2024-02-01":
        (20, "ERROR: Raw input missing for 28 days, 2024-01-04 … 2024-01-31: no folder data/raw/YYYY-MM-DD; these"
             " days were not loaded\n"),
    "luigi --module pipeline RangeDaily --of SnapshotHistory --start 2024-01-01 --stop 2024-04-01":
        (20, "Raw input missing for 88 days, 2024-01-04 … 2024-03-31"),
    "luigi --module pipeline RangeDaily --of SnapshotHistory --start 2024-01-01 --stop 2024-04-01 --workers 2":
        (20, "Raw input missing for 88 days, 2024-01-04 … 2024-03-31"),
    "luigi --module pipeline Reprocess --start 2024-01-02 --stop 2024-01-03": (0, "forgot 1 day, 2024-01-02"),
    "luigi --module pipeline RangeDaily --of SnapshotHistory --start 2024-01-02 --stop 2024-01-03":
        (0, re.compile(r"^2024-01-02( +\d+){14}$", re.MULTILINE)),
    "mkdir -p output/luigid-logs": (0, ""),
    "luigid --address 127.0.0.1 --port 8082 --state-path output/luigid-state.pickle --logdir output/luigid-logs &":
        (None, "(a server: started in the background, stopped at the end)"),
    "luigi --module pipeline SnapshotHistory --sync-date 2024-01-02 --scheduler-host 127.0.0.1 --scheduler-port 8082":
        (0, "Did not run any tasks"),
    "luigi --module pipeline StatusReport --sync-date 2024-01-03": (0, "wrote output/reports/2024-01-03.html"),
    ".venv/bin/python -m bench.freshdesk_server --agents 250 --port 8089 --key demo &":
        (None, "(a server: started in the background, stopped at the end)"),
    "FRESHDESK_BASE_URL=http://127.0.0.1:8089 FRESHDESK_API_KEY=demo PIPELINE_OUTPUT_ROOT=output/demo"
    " PIPELINE_RAW_ROOT=output/demo/raw .venv/bin/luigi --module pipeline ExtractAgents":
        (0, "page 3 (250 agents listed)"),
    "PIPELINE_OUTPUT_ROOT=output/demo .venv/bin/python -m pipeline.localdb stop":
        (0, "stopped the embedded PostgreSQL in"),
    "select * from agent_status_periods where agent_id = 11200000004 order by valid_from;": (0, "(3 rows)"),
    "select agent_id, name, job_title, status, valid_from, valid_to from agents_as_of('2024-01-02')"
    " order by agent_id;": (0, "(6 rows)"),
    "select agent_id, job_title, mobile, phone, valid_from, valid_to from agent_versions where agent_id = 11200000001"
    " order by valid_from;": (0, re.compile(r"^ 11200000001 \| Support Team Lead \|.*\| 2024-01-03 \|", re.MULTILINE)),
    "luigi --module pipeline SnapshotHistory --sync-date 2024-01-02 --accept-incomplete-days 2024-01-02":
        (0, "Did not run any tasks"),
    "PIPELINE_MAX_DEACTIVATION_SHARE=1 luigi --module pipeline SnapshotHistory --sync-date 2024-01-02":
        (0, "Did not run any tasks"),
    ".venv/bin/python -m pipeline.accounts add acme --base-url http://127.0.0.1:8089 --api-key-env ACME_FRESHDESK_KEY":
        (0, "account 'acme' added to accounts.toml"),
    ".venv/bin/python -m pipeline.accounts add globex --base-url http://127.0.0.1:8090"
    " --api-key-env GLOBEX_FRESHDESK_KEY": (0, "account 'globex' added to accounts.toml"),
    ".venv/bin/python -m pipeline.accounts list": (0, "globex  http://127.0.0.1:8090  env GLOBEX_FRESHDESK_KEY"),
    "for account in acme globex; do mkdir -p data/raw/$account && cp -r data/raw/2024-01-0[123] data/raw/$account/;"
    " done": (0, ""),
    "luigi --module pipeline SnapshotHistory --account acme --sync-date 2024-01-01":
        (0, re.compile(r"^2024-01-01 +acme( +\d+){14}$", re.MULTILINE)),
    "luigi --module pipeline RangeDaily --of SnapshotHistory --of-params '{\"account\": \"acme\"}' --start 2024-01-01"
    " --stop 2024-01-04": (0, re.compile(r"^2024-01-03 +acme( +\d+){14}$", re.MULTILINE)),
    "luigi --module pipeline RangeDaily --of AllAccounts --start 2024-01-01 --stop 2024-01-04":
        (0, re.compile(r"^2024-01-03 +globex( +\d+){14}$", re.MULTILINE)),
    "luigi --module pipeline AccountsReport --sync-date 2024-01-03": (0, "output/reports/2024-01-03-accounts.html"),
    ".venv/bin/python -m bench.freshdesk_server --agents 120 --port 8090 --key demo-globex &":
        (None, "(a server: started in the background, stopped at the end)"),
    "ACME_FRESHDESK_KEY=demo GLOBEX_FRESHDESK_KEY=demo-globex luigi --module pipeline AllAccounts":
        (0, re.compile(r" +globex +120( +\d+){13}$", re.MULTILINE)),
    "luigi --module pipeline Reprocess --account acme --start 2024-01-02 --stop 2024-01-03":
        (0, "forgot 1 day, 2024-01-02"),
    "python -m bench.synth --agents 100000 --days 30 --start 2024-01-01 --out /tmp/raw --seed 1": (0, HELP_ONLY),
    "python -m bench.run": (0, HELP_ONLY),
    "python -m bench.ops": (0, HELP_ONLY),
    "python -m bench.merge": (0, HELP_ONLY),
    "python -m bench.workers": (0, HELP_ONLY),
    "python -m bench.extract": (0, HELP_ONLY),
    "python -m bench.versions": (0, HELP_ONLY),
    "make clean": (0, "stopped the embedded PostgreSQL in"),
}


def readme_commands(text: str) -> list[str]:
    """The README's ```sh commands (continuation lines joined, comments dropped) and ```sql statements, in order."""
    commands = []
    for language, block in re.findall(r"^[ \t]*```(sh|sql)\n(.*?)^[ \t]*```", text, flags=re.MULTILINE | re.DOTALL):
        joined = re.sub(r"\\\n\s*", "", block)
        if language == "sql":
            commands += [" ".join(statement.split()) + ";" for statement in joined.split(";") if statement.strip()]
            continue
        lines = (re.sub(r"\s+#\s.*$", "", line).strip() for line in joined.splitlines())
        commands += [" ".join(line.split()) for line in lines if line and not line.startswith("#")]
    return commands


def test_every_readme_command_is_checked():
    assert readme_commands(README.read_text(encoding="utf-8")) == list(EXPECTED)


def test_readme_commands_are_read_with_continuations_and_without_comments():
    text = ("```sh\nluigi a \\\n      --b 1   # why\n# a comment\nmake x\n```\n"
            "```sql\nselect 1\nfrom t;\nselect 2;\n```\n"
            "  ```sh\n  make y\n  ```\n```ini\nmaster = local\n```\n")
    assert readme_commands(text) == ["luigi a --b 1", "make x", "select 1 from t;", "select 2;", "make y"]


def test_missing_days_are_named_in_one_line(tmp_path):
    import datetime

    days = [datetime.date(2024, 1, d) for d in (4, 5, 6, 9)]
    assert day_spans(days) == "2024-01-04 … 2024-01-06, 2024-01-09"
    (tmp_path / "sync-day1").mkdir()
    assert missing_message(days[:1], tmp_path) == (
        f"Raw input missing: {tmp_path}/2024-01-04 does not exist; {tmp_path} holds no day folder named YYYY-MM-DD"
        f" (found: sync-day1): a sync day's files go in {tmp_path}/YYYY-MM-DD/agents/ and agent_details/")
    (tmp_path / "2024-01-01").mkdir()
    assert layout_hint(tmp_path) == ""
    assert "does not exist (PIPELINE_RAW_ROOT" in layout_hint(tmp_path / "nowhere")
    assert missing_message(days, tmp_path).startswith(
        "Raw input missing for 4 days, 2024-01-04 … 2024-01-06, 2024-01-09: no folder")


@pytest.fixture
def repository_copy(tmp_path):
    """The repository without output/ and .git, using the virtual environment that runs the tests."""
    venv = Path(sys.prefix)
    if not (venv / ".installed").exists():
        pytest.skip("needs the Makefile's virtual environment (make test)")
    copy = tmp_path / "agents-pipeline"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(".git", ".venv", "output", "__pycache__", ".pytest_cache",
                                                               "*.egg-info"))
    (copy / ".venv").symlink_to(venv)
    return copy


def run_command(command: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=300, check=False)


def substitute(command: str, expected_text) -> str:
    """What the test runs for a README command: the command itself, psql for a query, --help for a benchmark."""
    if command.startswith("select "):
        return f'.venv/bin/python -m pipeline.localdb psql -v ON_ERROR_STOP=1 -c "{command}"'
    if expected_text == HELP_ONLY:
        return f"{command.split(' --')[0]} --help"
    return command


def wait_for_server(command: str) -> None:
    """Until the server a background command starts answers on its ``--port``."""
    port = int(re.search(r"--port (\d+)", command).group(1))
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"{command}: nothing answers on port {port}"
            time.sleep(0.2)


@pytest.mark.heavy
def test_every_readme_command_runs_as_written_and_does_what_the_readme_says(repository_copy):
    env = cli_env()  # no PIPELINE_* setting: the defaults; the tests' Java options (conftest.test_jvm_options)
    env["PATH"] = f"{repository_copy / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"  # "with .venv/bin on your PATH"
    pgdata = repository_copy / "output" / "pgdata"
    servers, outputs = [], {}
    try:
        for command, (code, expected) in EXPECTED.items():
            if code is None and command.endswith("&"):  # luigid, the API stand-in: started here, stopped below
                servers.append(subprocess.Popen(["bash", "-c", f"exec {command[:-1]}"], cwd=repository_copy, env=env,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                                start_new_session=True))
                wait_for_server(command)
                continue
            if code is None:
                continue
            result = run_command(substitute(command, expected), repository_copy, env)
            output = result.stdout + result.stderr
            outputs[command] = output
            assert result.returncode == code, f"{command}\nexit {result.returncode}\n{output[-3000:]}"
            if isinstance(expected, re.Pattern):
                assert expected.search(result.stdout), f"{command}\n{output[-3000:]}"
            elif expected != HELP_ONLY:
                assert expected in output, f"{command}\n{output[-3000:]}"
            assert "Traceback" not in output, f"{command}\n{output[-3000:]}"
            if command == "make stop-db":
                assert running_pid(pgdata) is None  # no postmaster left
            if command.endswith("ExtractAgents"):  # the day fetched, complete; nothing loaded, nothing summed up
                manifest = next((repository_copy / "output" / "demo" / "raw").glob("*/_manifest.json"))
                assert '"list_records": 250' in manifest.read_text(encoding="utf-8")
                assert "Agents pipeline summary" not in output
            if command.endswith("localdb stop"):  # the fetching demo's own server
                assert running_pid(repository_copy / "output" / "demo" / "pgdata") is None
            if command == "make clean":
                assert not (repository_copy / "output").exists() and running_pid(pgdata) is None
            if expected == "Did not run any tasks":
                assert "Agents pipeline summary" not in output  # nothing ran, nothing to sum up
                assert "Starting Spark session" not in output
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        subprocess.run([sys.executable, "-m", "pipeline.localdb", "stop"], cwd=repository_copy, env=env, check=False,
                       capture_output=True)
    # make run: the sample's summary line as the README shows it, one Spark start for the three days
    readme_row = re.search(r"^ *(2024-01-03( +\d+){14})$", README.read_text(encoding="utf-8"), re.MULTILINE)
    assert readme_row.group(1) in outputs["make run"]
    assert outputs["make run"].count("Starting Spark session") == 1


def test_spark_logs_quietly_unless_the_run_debugs(monkeypatch):
    import logging

    from pipeline.logs import SPARK_LOG_CONFIG, spark_java_options

    luigi_logger = logging.getLogger("luigi-interface")
    monkeypatch.setattr(luigi_logger, "level", logging.INFO)
    assert spark_java_options("-XX:TieredStopAtLevel=1") == (
        f"-XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile={SPARK_LOG_CONFIG.as_uri()}")
    assert "NativeCodeLoader" in SPARK_LOG_CONFIG.read_text()
    own = "-Dlog4j2.configurationFile=mine.properties"
    assert spark_java_options(own) == own
    monkeypatch.setattr(luigi_logger, "level", logging.DEBUG)
    assert spark_java_options("") == ""
