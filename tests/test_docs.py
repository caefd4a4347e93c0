"""Every command and query of README.md and docs/*.md, run as written (from a copy of the repository, on the bundled
sample, with the embedded server), page after page, each checked against what its page says it does.

``EXPECTED`` lists each page's commands in the page's order with the exit code and an output line the page
promises; a command a page gains (or loses) without a change here fails ``test_every_page_command_is_checked``.
The schedule of the README (its cron line and its systemd service) runs too: with the repository in a copy instead
of ``/srv/agents-pipeline`` and an environment file of the test's, pointing at an API stand-in.
"""
import datetime
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

from conftest import REPO, SHARED_JVM, cli_env, free_port
from pipeline.embedded import running_pid
from pipeline.rawdays import day_spans, layout_hint, missing_message

PAGES = ["README.md", *sorted(str(path.relative_to(REPO)) for path in (REPO / "docs").glob("*.md"))]
SUMMARY_DAY3 = re.compile(r"^2024-01-03( +\d+){14}$", re.MULTILINE)
HELP_ONLY = "(minutes to an hour at full size: checked with --help)"
NOTHING_TO_DO = "Did not run any tasks"
SERVER = "(a server: started in the background, stopped at the end of its page)"
STOPPED = "stopped the embedded PostgreSQL in"
SCHEDULED_AGENTS = 30  # the API stand-in the schedule's environment file points at
CRON = ("cron: cd /srv/agents-pipeline && mkdir -p output && set -a && . /etc/agents-pipeline.env && .venv/bin/luigi"
        " --module pipeline AllAccounts >> output/cron.log 2>&1")
SYSTEMD = ("systemd: cd /srv/agents-pipeline && set -a && . /etc/agents-pipeline.env && set +a &&"
           " /srv/agents-pipeline/.venv/bin/luigi --module pipeline AllAccounts")
RELOAD = ("luigi --module pipeline RangeDaily --of SnapshotHistory --start 2024-01-02 --stop 2024-01-03",
          (0, re.compile(r"^2024-01-02( +\d+){14}$", re.MULTILINE)))

# page -> command as written there -> (exit code, text its output must hold); None: not run
EXPECTED = {
    "README.md": {
        "make run": (0, SUMMARY_DAY3),
        "make test": (None, "(this test suite itself)"),
        "make psql": (0, ""),
        "select agent_id, name, status, sync_date from agents order by agent_id;": (0, "(7 rows)"),
        "select sync_date, count(*) filter (where is_active) as active, count(*) filter (where not is_active) as"
        " inactive from agent_status_history group by sync_date order by sync_date;":
            (0, " 2024-01-03 |      4 |        2"),
        "select sync_date, source_file, error_type, error_message from agent_pipeline_errors order by id;":
            (0, "(3 rows)"),
        "luigi --module pipeline SnapshotHistory --sync-date 2024-01-02": (0, NOTHING_TO_DO),
        "luigi --module pipeline RangeDaily --of SnapshotHistory --start 2024-01-01 --stop 2024-02-01":
            (20, "ERROR: Raw input missing for 28 days, 2024-01-04 … 2024-01-31: no folder data/raw/YYYY-MM-DD; these"
                 " days were not loaded\n"),
        "luigi --module pipeline Reprocess --start 2024-01-02 --stop 2024-01-03": (0, "forgot 1 day, 2024-01-02"),
        RELOAD[0]: RELOAD[1],
        "luigi --module pipeline AllAccounts --sync-date 2024-01-03": (0, NOTHING_TO_DO),
        "luigi --module pipeline RangeDaily --of AllAccounts --start 2024-01-01 --stop 2024-01-04": (0, NOTHING_TO_DO),
        CRON: (0, "Agents pipeline summary"),
        SYSTEMD: (0, NOTHING_TO_DO),
    },
    "docs/accounts.md": {
        ".venv/bin/python -m pipeline.accounts add acme --base-url http://127.0.0.1:8089 --api-key-env"
        " ACME_FRESHDESK_KEY": (0, "account 'acme' added to accounts.toml"),
        ".venv/bin/python -m pipeline.accounts add globex --base-url http://127.0.0.1:8090"
        " --api-key-env GLOBEX_FRESHDESK_KEY": (0, "account 'globex' added to accounts.toml"),
        ".venv/bin/python -m pipeline.accounts list": (0, "globex  http://127.0.0.1:8090  env GLOBEX_FRESHDESK_KEY"),
        "for account in acme globex; do mkdir -p data/raw/$account && cp -r data/raw/2024-01-0[123] data/raw/$account/;"
        " done": (0, ""),
        "luigi --module pipeline RangeDaily --of SnapshotHistory --of-params '{\"account\": \"acme\"}' --start"
        " 2024-01-01 --stop 2024-01-04": (0, re.compile(r"^2024-01-03 +acme( +\d+){14}$", re.MULTILINE)),
        "luigi --module pipeline RangeDaily --of AllAccounts --start 2024-01-01 --stop 2024-01-04":
            (0, re.compile(r"^2024-01-03 +globex( +\d+){14}$", re.MULTILINE)),
        "luigi --module pipeline AccountsReport --sync-date 2024-01-03": (0, "output/reports/2024-01-03-accounts.html"),
        ".venv/bin/python -m bench.freshdesk_server --agents 250 --port 8089 --key demo &": (None, SERVER),
        ".venv/bin/python -m bench.freshdesk_server --agents 120 --port 8090 --key demo-globex &": (None, SERVER),
        "ACME_FRESHDESK_KEY=demo GLOBEX_FRESHDESK_KEY=demo-globex luigi --module pipeline AllAccounts":
            (0, re.compile(r" +globex +120( +\d+){13}$", re.MULTILINE)),
        "luigi --module pipeline Reprocess --account acme --start 2024-01-02 --stop 2024-01-03":
            (0, "forgot 1 day, 2024-01-02"),
    },
    "docs/benchmarks.md": {},
    "docs/cluster.md": {},
    "docs/data-model.md": {
        "select * from agent_status_periods where agent_id = 11200000004 order by valid_from;": (0, "(3 rows)"),
        "select agent_id, name, job_title, status, valid_from, valid_to from agents_as_of('2024-01-02')"
        " order by agent_id;": (0, "(6 rows)"),
        "select agent_id, job_title, mobile, phone, valid_from, valid_to from agent_versions where agent_id ="
        " 11200000001 order by valid_from;":
            (0, re.compile(r"^ 11200000001 \| Support Team Lead \|.*\| 2024-01-03 \|", re.MULTILINE)),
    },
    "docs/development.md": {
        "make test": (None, "(this test suite itself)"),
        "python -m bench.synth --agents 100000 --days 30 --start 2024-01-01 --out /tmp/raw --seed 1": (0, HELP_ONLY),
        "python -m bench.run": (0, HELP_ONLY),
        "python -m bench.ops": (0, HELP_ONLY),
        "python -m bench.merge": (0, HELP_ONLY),
        "python -m bench.workers": (0, HELP_ONLY),
        "python -m bench.extract": (0, HELP_ONLY),
        "python -m bench.versions": (0, HELP_ONLY),
    },
    "docs/fetching.md": {
        ".venv/bin/python -m bench.freshdesk_server --agents 250 --port 8089 --key demo &": (None, SERVER),
        "FRESHDESK_BASE_URL=http://127.0.0.1:8089 FRESHDESK_API_KEY=demo PIPELINE_OUTPUT_ROOT=output/demo"
        " PIPELINE_RAW_ROOT=output/demo/raw .venv/bin/luigi --module pipeline ExtractAgents":
            (0, "page 3 (250 agents listed)"),
        "PIPELINE_OUTPUT_ROOT=output/demo .venv/bin/python -m pipeline.localdb stop": (0, STOPPED),
    },
    "docs/operations.md": {
        "luigi --module pipeline SnapshotHistory --sync-date 2024-01-02": (0, NOTHING_TO_DO),
        "luigi --module pipeline RangeDaily --of SnapshotHistory --start 2024-01-01 --stop 2024-02-01":
            (20, "Raw input missing for 28 days, 2024-01-04 … 2024-01-31"),
        "luigi --module pipeline RangeDaily --of SnapshotHistory --start 2024-01-01 --stop 2024-04-01 --workers 2":
            (20, "Raw input missing for 88 days, 2024-01-04 … 2024-03-31"),
        "luigi --module pipeline Reprocess --start 2024-01-02 --stop 2024-01-03": (0, "forgot 1 day, 2024-01-02"),
        RELOAD[0]: RELOAD[1],
        "mkdir -p output/luigid-logs": (0, ""),
        "luigid --address 127.0.0.1 --port 8082 --state-path output/luigid-state.pickle --logdir output/luigid-logs &":
            (None, SERVER),
        "luigi --module pipeline SnapshotHistory --sync-date 2024-01-02 --scheduler-host 127.0.0.1"
        " --scheduler-port 8082": (0, NOTHING_TO_DO),
        "luigi --module pipeline StatusReport --sync-date 2024-01-03": (0, "wrote output/reports/2024-01-03.html"),
        "make psql": (0, ""),
        '.venv/bin/python -m pipeline.localdb psql -c "select count(*) from agents"': (0, "     7\n"),
        "make stop-db": (0, STOPPED),
        "make clean": (0, "no embedded PostgreSQL is running in"),
    },
    "docs/rules.md": {},
    "docs/what-happens-when.md": {
        "luigi --module pipeline SnapshotHistory --sync-date 2024-01-02 --accept-incomplete-days 2024-01-02":
            (0, NOTHING_TO_DO),
        "PIPELINE_MAX_DEACTIVATION_SHARE=1 luigi --module pipeline SnapshotHistory --sync-date 2024-01-02":
            (0, NOTHING_TO_DO),
    },
}
# The pages that run, in one copy of the repository each group, page after page (the two groups run side by side):
# the sample loaded by the README, then the pages that read it (operations.md last: it ends with make clean); and
# the API stand-ins' pages, with accounts of their own.
GROUPS = {
    "sample": ["README.md", "docs/data-model.md", "docs/what-happens-when.md", "docs/development.md",
               "docs/operations.md"],
    "api": ["docs/fetching.md", "docs/accounts.md"],
}


def page_commands(text: str) -> list[str]:
    """A page's commands in order: its ```sh commands (continuation lines joined, comments dropped), its ```sql
    statements, its ```crontab lines (``cron: `` and the command after the five time fields) and the service of its
    ```ini systemd units (``systemd: `` and the command its WorkingDirectory, EnvironmentFile and ExecStart say)."""
    commands = []
    for language, block in re.findall(r"^[ \t]*```(sh|sql|crontab|ini)\n(.*?)^[ \t]*```", text,
                                      flags=re.MULTILINE | re.DOTALL):
        joined = re.sub(r"\\\n\s*", "", block)
        if language == "sql":
            commands += [" ".join(statement.split()) + ";" for statement in joined.split(";") if statement.strip()]
        elif language == "crontab":
            commands += ["cron: " + line.split(None, 5)[5] for line in joined.splitlines()
                         if line.strip() and not line.startswith("#")]
        elif language == "ini":
            unit = dict(re.findall(r"^(\w+)=(.*)$", joined, flags=re.MULTILINE))
            if "ExecStart" in unit:
                commands.append(f"systemd: cd {unit['WorkingDirectory']} && set -a && . {unit['EnvironmentFile']}"
                                f" && set +a && {unit['ExecStart']}")
        else:
            lines = (re.sub(r"\s+#\s.*$", "", line).strip() for line in joined.splitlines())
            commands += [" ".join(line.split()) for line in lines if line and not line.startswith("#")]
    return commands


@pytest.mark.parametrize("page", PAGES)
def test_every_page_command_is_checked(page):
    assert page_commands((REPO / page).read_text(encoding="utf-8")) == list(EXPECTED[page])


def test_every_page_is_listed_and_every_page_with_commands_runs():
    assert sorted(EXPECTED) == sorted(PAGES)
    grouped = [page for pages in GROUPS.values() for page in pages]
    assert sorted(grouped) == sorted(page for page, commands in EXPECTED.items() if commands)


def test_every_page_starts_with_a_title_and_a_summary_and_its_links_resolve():
    for page in PAGES:
        text = (REPO / page).read_text(encoding="utf-8")
        assert re.match(r"# .+\n\n(?!```)[^#\n|]", text), f"{page}: a title, then a paragraph"
        for target, anchor in re.findall(r"\]\((?!https?:)([^)#]*)(?:#([^)]*))?\)", text):
            linked = (REPO / page).parent / target if target else REPO / page
            assert linked.exists(), f"{page}: {target}"
            if anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), flags=re.MULTILINE)
                slugs = {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}
                assert anchor in slugs, f"{page}: {target}#{anchor}"


def test_the_readme_stays_short():
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 220


def test_page_commands_are_read_with_continuations_and_without_comments():
    text = ("```sh\nluigi a \\\n      --b 1   # why\n# a comment\nmake x\n```\n"
            "```sql\nselect 1\nfrom t;\nselect 2;\n```\n"
            "  ```sh\n  make y\n  ```\n```ini\nmaster = local\n```\n"
            "```crontab\n# m h dom mon dow\n15 6 * * *  cd /x && make z\n```\n"
            "```ini\n[Service]\nWorkingDirectory=/x\nEnvironmentFile=/e\nExecStart=/x/run a\n```\n")
    assert page_commands(text) == ["luigi a --b 1", "make x", "select 1 from t;", "select 2;", "make y",
                                   "cron: cd /x && make z", "systemd: cd /x && set -a && . /e && set +a && /x/run a"]


def test_missing_days_are_named_in_one_line(tmp_path):
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
                                                               "*.egg-info", "accounts.toml"))
    (copy / ".venv").symlink_to(venv)
    return copy


def run_command(command: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """The command in bash, its Spark in the test process's shared JVM (conftest.cli)."""
    return SHARED_JVM.run(["bash", "-c", command], env, cwd=cwd, stdin=subprocess.DEVNULL, timeout=300, check=False)


def substitute(command: str, expected_text, copy: Path, environment_file: Path) -> str:
    """What the test runs for a page's command: the command itself, psql for a query, --help for a benchmark; the
    schedule's commands with the copy for /srv/agents-pipeline and the test's environment file."""
    if command.startswith("select "):
        return f'.venv/bin/python -m pipeline.localdb psql -v ON_ERROR_STOP=1 -c "{command}"'
    if expected_text == HELP_ONLY:
        return f"{command.split(' --')[0]} --help"
    if command.startswith(("cron: ", "systemd: ")):
        command = command.split(": ", 1)[1].replace("/srv/agents-pipeline", str(copy))
        return command.replace("/etc/agents-pipeline.env", str(environment_file))
    return command


def wait_for_server(port: int) -> None:
    """Until a server answers on 127.0.0.1:``port``."""
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing answers on port {port}"
            time.sleep(0.2)


def start_server(command: str, cwd: Path, env: dict) -> subprocess.Popen:
    """A page's background command (``… &``), once it answers on its ``--port``."""
    server = subprocess.Popen(["bash", "-c", f"exec {command.rstrip(' &')}"], cwd=cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_server(int(re.search(r"--port (\d+)", command).group(1)))
    return server


def stop(servers: list) -> None:
    for server in servers:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    servers.clear()


def check(command: str, code: int, expected, result: subprocess.CompletedProcess, copy: Path) -> str:
    """The command's exit code and promised output, and what its page says of its effects; returns its output."""
    output = result.stdout + result.stderr
    if command.startswith("cron: "):  # its output goes to the log its line names
        output += (copy / "output" / "cron.log").read_text(encoding="utf-8")
    assert result.returncode == code, f"{command}\nexit {result.returncode}\n{output[-3000:]}"
    if isinstance(expected, re.Pattern):
        assert expected.search(output), f"{command}\n{output[-3000:]}"
    elif expected != HELP_ONLY:
        assert expected in output, f"{command}\n{output[-3000:]}"
    assert "Traceback" not in output, f"{command}\n{output[-3000:]}"
    if command in ("make stop-db", "make clean"):
        assert running_pid(copy / "output" / "pgdata") is None  # no postmaster left
    if command.endswith("ExtractAgents"):  # the day fetched, complete; nothing loaded, nothing summed up
        manifest = next((copy / "output" / "demo" / "raw").glob("*/_manifest.json"))
        assert '"list_records": 250' in manifest.read_text(encoding="utf-8")
        assert "Agents pipeline summary" not in output
    if command.endswith("localdb stop"):  # the fetching demo's own server
        assert running_pid(copy / "output" / "demo" / "pgdata") is None
    if command.startswith("cron: "):  # today's day fetched from the stand-in and loaded
        assert re.search(rf"^{datetime.date.today()} +{SCHEDULED_AGENTS}( +\d+){{13}}$", output, re.MULTILINE), output
    if command == "make clean":
        assert not (copy / "output").exists()
    if expected == NOTHING_TO_DO:
        assert "Agents pipeline summary" not in output  # nothing ran, nothing to sum up
        assert "Starting Spark session" not in output
    return output


@pytest.mark.heavy
@pytest.mark.parametrize("group", GROUPS)
def test_every_page_command_runs_as_written_and_does_what_its_page_says(group, repository_copy, tmp_path):
    """The group's pages in order, in one copy of the repository. A command run before in the group with the same
    promise (the README's, repeated on a page that explains it) is not run twice."""
    env = cli_env()  # no PIPELINE_* setting: the defaults; the tests' Java options (conftest.test_jvm_options)
    env["PATH"] = f"{repository_copy / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"  # "with .venv/bin on your PATH"
    api_port = free_port()
    environment_file = tmp_path / "agents-pipeline.env"  # the schedule's: today's day of an API stand-in
    environment_file.write_text(f"FRESHDESK_BASE_URL=http://127.0.0.1:{api_port}\nFRESHDESK_API_KEY=schedule-key\n"
                                "PIPELINE_OUTPUT_ROOT=output/scheduled\nPIPELINE_RAW_ROOT=output/scheduled/raw\n",
                                encoding="utf-8")
    servers, outputs, done = [], {}, set()
    try:
        for page in GROUPS[group]:
            for command, (code, expected) in EXPECTED[page].items():
                if expected == SERVER:
                    servers.append(start_server(command, repository_copy, env))
                    continue
                if code is None or (command, code, str(expected)) in done:
                    continue
                if command == CRON:
                    servers.append(start_server(f".venv/bin/python -m bench.freshdesk_server --agents"
                                                f" {SCHEDULED_AGENTS} --port {api_port} --key schedule-key &",
                                                repository_copy, env))
                result = run_command(substitute(command, expected, repository_copy, environment_file),
                                     repository_copy, env)
                outputs[command] = check(command, code, expected, result, repository_copy)
                done.add((command, code, str(expected)))
                if command == SYSTEMD:  # the schedule's own embedded server
                    stopped = run_command("PIPELINE_OUTPUT_ROOT=output/scheduled .venv/bin/python -m pipeline.localdb"
                                          " stop", repository_copy, env)
                    assert STOPPED in stopped.stdout + stopped.stderr
            stop(servers)
    finally:
        stop(servers)
        subprocess.run([sys.executable, "-m", "pipeline.localdb", "stop"], cwd=repository_copy, env=env, check=False,
                       capture_output=True)
    if group == "sample":  # make run: the sample's summary line as the README shows it, one Spark start
        readme_row = re.search(r"^ *(2024-01-03( +\d+){14})$", (REPO / "README.md").read_text(encoding="utf-8"),
                               re.MULTILINE)
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
