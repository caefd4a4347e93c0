"""Crashes, concurrent runs, database outages and unwritable disks, with real luigi processes, PostgreSQL and Spark.

Each fault scenario starts from a copy of a database and output root in a known state, runs the pipeline
as a user does (``luigi --module pipeline …``), stops it at a chosen point, kills it, resumes it, and then
compares every table with a clean run's (run ids and timestamps aside). The points are reached without
hooks in the pipeline: the test holds the lock the next task needs (the day's lock file or its PostgreSQL
advisory lock), or a trigger makes a statement wait halfway through its rows. A disk that cannot be written
(full, read-only, not the user's) is a real file system the test mounts, fills or takes the permission of.
"""
import datetime
import errno
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg2
import pytest
from test_pipeline import DAY1, DAY2, run, tables

from conftest import FIXTURES, LUIGI, REPO, cli, cli_env, create_database, drop_database, free_port, query
from pipeline import LoadStaging, Reprocess, SnapshotHistory, TransformAgents, UpsertAgents, ValidateRaw, embedded
from pipeline.config import load_settings
from pipeline.database import database_dsn
from pipeline.locks import ADVISORY_NAMESPACE, day_file_lock
from pipeline.tables import RUN_COUNTS

pytestmark = pytest.mark.heavy


def snapshot(dsn) -> dict:
    """Every table, without run ids, timestamps and generated ids."""
    state = tables(dsn)
    state["table_updates"] = query(dsn, "select update_id, target_table from table_updates order by 1")
    runs = query(dsn, f"select distinct task, sync_date, {', '.join(RUN_COUNTS)} from agent_pipeline_runs")
    state["agent_pipeline_runs"] = sorted(runs, key=repr)
    return state


def leftovers(output_root):
    return sorted(output_root.glob("*/*-luigi-tmp-*"))


def wait_until(predicate, timeout=120, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def session_processes(session_id) -> list[int]:
    """Live (not zombie) processes of a session: the run's luigi process and everything it started."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[3]) == session_id and fields[0] != "Z":
                found.append(int(entry))
    return found


class Run:
    """``luigi --module pipeline SnapshotHistory --sync-date 2024-01-02`` in a session of its own."""

    def __init__(self, env, log_path, *args):
        self.log_path = log_path
        self.log = open(log_path, "w")  # noqa: SIM115  (closed by kill() or finish())
        command = list(args) or ["SnapshotHistory", "--sync-date", DAY2.isoformat()]
        self.process = subprocess.Popen(LUIGI + command, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text()

    def kill(self, sig=signal.SIGKILL):
        """Signal the luigi process only; whatever it started must then exit by itself."""
        assert self.process.poll() is None, self.output()[-3000:]
        os.kill(self.process.pid, sig)
        self.process.wait()
        wait_until(lambda: not session_processes(self.process.pid), timeout=15, what="the run's processes to exit")
        self.log.close()

    def finish(self, timeout=240) -> int:
        code = self.process.wait(timeout)
        self.log.close()
        return code


@pytest.fixture(scope="module")
def stages(pg_server_dsn, spark, tmp_path_factory):
    """Databases (used as templates) and output roots: 2024-01-01 loaded ("day1"); plus 2024-01-02's file tasks
    ("files"); plus the rest of 2024-01-02 ("clean", the reference every scenario is compared with)."""
    root, made, previous = tmp_path_factory.mktemp("stages"), {}, None
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PIPELINE_RAW_ROOT", str(FIXTURES))
        for stage, task in (("day1", SnapshotHistory(sync_date=DAY1)), ("files", TransformAgents(sync_date=DAY2)),
                            ("clean", SnapshotHistory(sync_date=DAY2))):
            name, dsn = create_database(pg_server_dsn, template=previous and previous["name"])
            output = root / stage
            if previous:
                shutil.copytree(previous["output_root"], output)
            env.setenv("PIPELINE_OUTPUT_ROOT", str(output))
            env.setenv("PIPELINE_PG_DSN", dsn)
            run(task)
            made[stage] = previous = {"name": name, "dsn": dsn, "output_root": output}
    made["clean"]["snapshot"] = snapshot(made["clean"]["dsn"])
    yield made
    for stage in made.values():
        drop_database(pg_server_dsn, stage["name"])


@pytest.fixture
def scenario(stages, pg_server_dsn, tmp_path, monkeypatch):
    """Copies a stage into a new database and output root that this process and a CLI run both use."""
    names = []

    def make(stage):
        name, dsn = create_database(pg_server_dsn, template=stages[stage]["name"])
        names.append(name)
        output = tmp_path / "output"
        shutil.copytree(stages[stage]["output_root"], output)
        for key, value in (("RAW_ROOT", FIXTURES), ("OUTPUT_ROOT", output), ("PG_DSN", dsn)):
            monkeypatch.setenv(f"PIPELINE_{key}", str(value))
        return dsn, output, cli_env(raw_root=FIXTURES, output_root=output, pg_dsn=dsn)

    yield make
    for name in names:
        drop_database(pg_server_dsn, name)


@contextmanager
def held_advisory_lock(dsn, *key):
    with closing(psycopg2.connect(dsn)) as connection:
        connection.autocommit = True
        connection.cursor().execute("select pg_advisory_lock(%s, %s)", key)
        yield


def waiting_on_advisory_lock(dsn, statement_start=""):
    return query(dsn, "select count(*) from pg_stat_activity where datname = current_database()"
                      " and wait_event = 'advisory' and query ilike %s", (statement_start + "%",))[0][0] > 0


def idle_database(dsn):
    return query(dsn, "select count(*) from pg_stat_activity where datname = current_database()"
                      " and pid <> pg_backend_pid()")[0][0] == 0


BLOCK_AT_ROW = """
create sequence fault_rows;
create function fault_block() returns trigger language plpgsql as $$
begin
    if nextval('fault_rows') = 3 then  -- the third row waits for the test's advisory lock (1, 1)
        perform pg_advisory_lock(1, 1);
        perform pg_advisory_unlock(1, 1);
    end if;
    return new;
end $$;
create trigger fault_block before insert or update on {table} for each row execute function fault_block();
"""
UNBLOCK = "drop trigger fault_block on {table}; drop function fault_block(); drop sequence fault_rows;"


def execute(dsn, sql):
    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        connection.commit()


def resume_and_compare(stages, dsn, output):
    run(SnapshotHistory(sync_date=DAY2))
    assert snapshot(dsn) == stages["clean"]["snapshot"]
    assert leftovers(output) == []


# point: (stage copied, tasks run in-process first, the task the CLI is stopped at)
BOUNDARIES = {
    "before ValidateRaw": ("day1", [], "file"),
    "before TransformAgents": ("day1", [ValidateRaw], "file"),
    "before LoadStaging": ("files", [], "database"),
    "before UpsertAgents": ("files", [LoadStaging], "database"),
    "before SnapshotHistory": ("files", [LoadStaging, UpsertAgents], "database"),
}


@pytest.mark.parametrize("point", BOUNDARIES)
def test_a_run_killed_at_a_task_boundary_resumes_to_the_clean_tables(point, stages, scenario, tmp_path):
    stage, before, lock = BOUNDARIES[point]
    dsn, output, env = scenario(stage)
    for task in before:
        run(task(sync_date=DAY2))
    if lock == "file":
        blocker = day_file_lock(output, DAY2, "test")
    else:
        blocker = held_advisory_lock(dsn, ADVISORY_NAMESPACE, DAY2.toordinal())

    def blocked():
        if lock == "file":
            return "waiting for another run that is writing 2024-01-02" in killed.output()
        return waiting_on_advisory_lock(dsn)

    with blocker:
        killed = Run(env, tmp_path / "killed.log")
        wait_until(blocked, what=f"the run to wait {point}")
        killed.kill()
    assert "Starting Spark session" not in killed.output()
    resume_and_compare(stages, dsn, output)


INSIDE = {"the COPY": ("stg_agents", "copy stg_agents"), "the upsert": ("agents", "-- agents <-"),
          "the history insert": ("agent_status_history", "-- agent_status_history <-")}


@pytest.mark.parametrize("statement", INSIDE)
def test_a_run_killed_inside_a_statement_commits_nothing_and_resumes(statement, stages, scenario, tmp_path):
    table, statement_start = INSIDE[statement]
    dsn, output, env = scenario("files")
    execute(dsn, BLOCK_AT_ROW.format(table=table))
    with held_advisory_lock(dsn, 1, 1):
        killed = Run(env, tmp_path / "killed.log")
        wait_until(lambda: waiting_on_advisory_lock(dsn, statement_start), what=f"the run to stop inside {statement}")
        killed.kill()
    wait_until(lambda: idle_database(dsn), what="the killed run's transaction to roll back")
    execute(dsn, UNBLOCK.format(table=table))
    resume_and_compare(stages, dsn, output)


def test_a_run_killed_while_spark_writes_leaves_no_process_and_its_folder_is_removed(stages, scenario, tmp_path):
    dsn, output, env = scenario("day1")
    run(ValidateRaw(sync_date=DAY2))
    killed = Run(env, tmp_path / "killed.log")
    wait_until(lambda: leftovers(output), what="Spark's temporary folder")
    killed.kill()  # the JVM exits with its Python parent, whatever the signal
    assert leftovers(output)
    resume_and_compare(stages, dsn, output)


@pytest.fixture(scope="module")
def big_day(tmp_path_factory):
    """A day of 2,000 agents, one details file each: enough files for the parallel validation workers."""
    from bench.synth import main as synth

    raw = tmp_path_factory.mktemp("big")
    synth(["--agents", "2000", "--days", "1", "--start", DAY2.isoformat(), "--out", str(raw)])
    return raw


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill -9", "SIGTERM"])
def test_validation_workers_exit_with_a_killed_run(sig, big_day, tmp_path, new_database, monkeypatch):
    """Killed during validation or after it (the pool stays up for the next day of a backfill)."""
    dsn, output = new_database(), tmp_path / "output"
    env = cli_env(raw_root=big_day, output_root=output, pg_dsn=dsn, validation_workers=2)
    killed = Run(env, tmp_path / "killed.log")
    wait_until(lambda: len(session_processes(killed.process.pid)) >= 4,  # luigi, 2 workers, resource tracker
               what="the validation workers")
    killed.kill(sig)

    for key, value in (("RAW_ROOT", big_day), ("OUTPUT_ROOT", output), ("PG_DSN", dsn)):
        monkeypatch.setenv(f"PIPELINE_{key}", str(value))
    run(ValidateRaw(sync_date=DAY2))  # the next run of the day removes a leftover folder, if any
    assert leftovers(output) == []
    files = len(list((big_day / DAY2.isoformat()).glob("*/*.json")))
    summary = json.loads((output / "validated" / DAY2.isoformat() / "summary.json").read_text())
    assert summary["files_read"] == files


def test_a_range_and_a_day_started_together_take_turns(stages, scenario, tmp_path):
    dsn, output, env = scenario("day1")
    with day_file_lock(output, DAY2, "test"):  # both runs start and wait: then they race for real
        day = Run(env, tmp_path / "day.log")
        both = Run(env, tmp_path / "range.log", "RangeDaily", "--of", "SnapshotHistory",
                   "--start", DAY1.isoformat(), "--stop", (DAY2 + datetime.timedelta(days=1)).isoformat())
        wait_until(lambda: all("waiting for another run" in r.output() for r in (day, both)), what="both to wait")
    assert day.finish() == 0, day.output()[-3000:]
    assert both.finish() == 0, both.output()[-3000:]
    outputs = day.output() + both.output()
    assert "Traceback" not in outputs and "FileAlreadyExists" not in outputs
    assert outputs.count("Spark: resolving duplicates") == 1  # the second found the day done, task by task
    assert "done by another run meanwhile" in outputs
    assert snapshot(dsn) == stages["clean"]["snapshot"]
    assert leftovers(output) == []


def test_two_pipelines_with_other_roots_and_databases_run_side_by_side(stages, scenario, tmp_path, new_database):
    dsn, output, env = scenario("files")
    other_output = tmp_path / "other-output"
    shutil.copytree(stages["files"]["output_root"], other_output)
    with held_advisory_lock(dsn, ADVISORY_NAMESPACE, DAY2.toordinal()):
        first = Run(env, tmp_path / "first.log")  # the same command line, held at its LoadStaging
        wait_until(lambda: waiting_on_advisory_lock(dsn), what="the first pipeline to wait")
        other = cli("SnapshotHistory", "--sync-date", DAY2.isoformat(),
                    env=cli_env(raw_root=FIXTURES, output_root=other_output, pg_dsn=new_database()))
        assert other.returncode == 0, other.stderr[-3000:]  # luigi's own lock would have said "already running"
        assert first.process.poll() is None
    assert first.finish() == 0, first.output()[-3000:]
    assert snapshot(dsn) == stages["clean"]["snapshot"]


def test_a_database_that_refuses_connections_is_one_line(tmp_path):
    env = cli_env(raw_root=FIXTURES, output_root=tmp_path / "output",
                  pg_dsn=f"host=127.0.0.1 port={free_port()} user=etl password=s3cret-pw dbname=warehouse")
    result = cli("SnapshotHistory", "--sync-date", DAY2.isoformat(), env=env)
    assert result.returncode == 35  # [retcode] scheduling_error: nothing ran
    [line] = [line for line in result.stderr.splitlines() if "DatabaseUnavailable" in line]
    assert "cannot connect to PostgreSQL at host=127.0.0.1" in line and "password=***" in line
    assert "Traceback" not in result.stderr and "s3cret-pw" not in result.stderr + result.stdout


def test_a_database_lost_mid_run_is_one_line_and_the_day_resumes(stages, scenario, tmp_path):
    dsn, output, env = scenario("files")
    with held_advisory_lock(dsn, ADVISORY_NAMESPACE, DAY2.toordinal()):
        lost = Run(env, tmp_path / "lost.log")
        wait_until(lambda: waiting_on_advisory_lock(dsn), what="the run to reach LoadStaging")
        query(dsn, "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database()"
                   " and wait_event = 'advisory'")
        assert lost.finish() == 30  # [retcode] task_failed
    text = lost.output()
    [line] = [line for line in text.splitlines() if "DatabaseUnavailable" in line and "ERROR" in line]
    assert "failed during LoadStaging(sync_date=2024-01-02), which committed nothing" in line
    assert "Traceback" not in text
    resume_and_compare(stages, dsn, output)


@pytest.mark.parametrize("args, bad, message", [
    (("--sync-date", "sync-day1"), "sync-day1", "--sync-date 'sync-day1' is not a date: expected YYYY-MM-DD"),
    (("--sync-date", "2024-01-01", "--accept-incomplete-days", "2024-1-1"), "2024-1-1",
     "--accept-incomplete-days: expected days as YYYY-MM-DD[,YYYY-MM-DD…], not '2024-1-1'"),
])
def test_a_bad_sync_date_is_one_line(args, bad, message, tmp_path):
    result = cli("SnapshotHistory", *args, env=cli_env(output_root=tmp_path / "output"))
    assert result.returncode == 40  # [retcode] unhandled_exception: the command line could not be used
    [line] = [line for line in result.stderr.splitlines() if bad in line]
    assert line.startswith(f"ERROR: BadParameter: {message}")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "output" / "pgdata").exists()  # no database started for a command that cannot run


def test_reprocess_removes_the_temporary_folders_a_killed_run_left(stages, scenario):
    dsn, output, _ = scenario("files")
    leftover = output / "transformed" / "2024-01-02-luigi-tmp-0123456789"
    (leftover / "agents").mkdir(parents=True)
    run(Reprocess(start=DAY2, stop=DAY2 + datetime.timedelta(days=2)))  # luigi caches tasks by parameters:
    assert leftovers(output) == []                                       # not the range other tests use
    assert not (output / "validated" / DAY2.isoformat()).exists()
    assert (output / "validated" / DAY1.isoformat()).exists()


# A disk that cannot be written: full, read-only, or not the user's. Real file systems, no mocks: a small tmpfs
# filled up, a folder bind-mounted read-only on itself (both need root with CAP_SYS_ADMIN, as the tests and the CI
# run), and a folder without write permission for a run without CAP_DAC_OVERRIDE (setpriv), which root obeys.


@functools.cache
def mounting_refused() -> str | None:
    """Why a test cannot mount a file system on this machine; None when it can."""
    probe = Path(tempfile.mkdtemp(prefix="agents-mount-probe-"))
    try:
        tried = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True,
                               text=True, check=False)
    except FileNotFoundError:
        tried = None
    if tried is not None and tried.returncode == 0:
        subprocess.run(["umount", str(probe)], check=True)
    probe.rmdir()
    if tried is None or tried.returncode:
        told = " ".join(tried.stderr.split()) if tried else "no mount command"
        return f"cannot mount a tmpfs here ({told}): these faults need root with CAP_SYS_ADMIN"
    return None


@pytest.fixture
def mount():
    """``mount(*arguments, point)``, unmounted after the test; the test is skipped where mounting is refused."""
    points = []

    def mount_one(*arguments):
        reason = mounting_refused()
        if reason:
            pytest.skip(reason)
        subprocess.run(["mount", *map(str, arguments)], check=True, capture_output=True)
        points.append(arguments[-1])

    yield mount_one
    for point in reversed(points):
        subprocess.run(["umount", "--lazy", str(point)], check=False, capture_output=True)


def fill(folder: Path) -> Path:
    """Take every free block of ``folder``'s file system with one file; returns it."""
    filler = folder / "disk-filler"
    handle = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (bytes(1 << 20), bytes(4096)):
            while True:
                try:
                    os.write(handle, chunk)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(handle)
    return filler


def read_only(mount, output):
    """The output root bind-mounted on itself, read-only (EROFS); fixed by remounting it read-write."""
    mount("--bind", output, output)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(output)], check=True)
    return lambda: subprocess.run(["mount", "-o", "remount,bind,rw", str(output)], check=True), []


def not_the_users(mount, output):
    """validated/ without write permission (EACCES), for a run that cannot override it: root without
    CAP_DAC_OVERRIDE obeys the mode bits; fixed by giving the permission back."""
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("no setpriv (util-linux) to run luigi as root without CAP_DAC_OVERRIDE")
    (output / "validated").chmod(0o555)
    return lambda: (output / "validated").chmod(0o755), \
        ["setpriv", "--bounding-set=-dac_override", "--"] if os.geteuid() == 0 else []


def full(mount, output):
    """The output root on a small tmpfs that a file fills up (ENOSPC); fixed by removing the file."""
    kept = output.with_name("output-before-mount")
    shutil.copytree(output, kept)
    mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", output)
    shutil.copytree(kept, output, dirs_exist_ok=True)
    return fill(output).unlink, []


UNWRITABLE = {
    # fault: (tasks run in-process first, the task that fails, its cause in words, how the output root is broken)
    "a read-only output root": ([], ValidateRaw, "read-only file system", read_only),
    "validated/ not writable": ([], ValidateRaw, "permission denied", not_the_users),
    "a full disk as ValidateRaw writes Parquet": ([], ValidateRaw, "no space left on device", full),
    "a full disk as Spark writes": ([ValidateRaw], TransformAgents, "no space left on device", full),
}


def assert_one_line(text, word: str) -> str:
    """The output holds one error line, with ``word``, and no Python or Java stack trace; returns the line."""
    [line] = [line for line in text.splitlines() if "ERROR" in line or word in line]
    assert "Traceback" not in text and "Caused by" not in text, text[-3000:]
    assert not re.search(r"^\s+at [\w.$]+\(", text, re.MULTILINE), text[-3000:]
    return line


@pytest.mark.parametrize("fault", UNWRITABLE)
def test_an_output_root_that_cannot_be_written_is_one_line_and_the_day_resumes(fault, stages, scenario, mount):
    before, failing, cause, breaks = UNWRITABLE[fault]
    dsn, output, env = scenario("day1")
    for task in before:
        run(task(sync_date=DAY2))
    unchanged = snapshot(dsn)
    fix, prefix = breaks(mount, output)
    result = subprocess.run(prefix + LUIGI + ["SnapshotHistory", "--sync-date", DAY2.isoformat()], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 30, result.stderr[-3000:]  # [retcode] task_failed
    line = assert_one_line(result.stdout + result.stderr, "NotWritable")
    target = output / failing.stage / DAY2.isoformat()
    assert f"failed    {failing.__name__}(sync_date={DAY2}): NotWritable: cannot write {target}: {cause}" in line
    assert line.endswith("then run the same command again: it resumes where this run stopped")
    assert not target.exists() and leftovers(output) == []  # nothing that looks done, no temporary folder
    assert snapshot(dsn) == unchanged  # no row, no marker
    fix()
    resume_and_compare(stages, dsn, output)


def test_a_full_disk_at_the_embedded_servers_initdb_is_one_line_and_the_day_resumes(stages, mount, tmp_path,
                                                                                     monkeypatch):
    output = tmp_path / "output"
    output.mkdir()
    mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", output)
    shutil.copytree(stages["files"]["output_root"], output, dirs_exist_ok=True)  # the days' files: no Spark to resume
    filler = fill(output)
    result = cli("SnapshotHistory", "--sync-date", DAY2.isoformat(), env=cli_env(raw_root=FIXTURES, output_root=output))
    assert result.returncode == 35, result.stderr[-3000:]  # [retcode] scheduling_error: the server never started
    line = assert_one_line(result.stdout + result.stderr, "EmbeddedServerError")
    pgdata = (output / "pgdata").resolve()
    assert f"EmbeddedServerError: cannot create the embedded PostgreSQL in {pgdata}: no space left on device;" \
           f" the file system mounted on {output} is full" in line
    assert not (pgdata / "PG_VERSION").exists() and embedded.running_pid(pgdata) is None  # initdb left nothing
    filler.unlink()
    for key, value in (("RAW_ROOT", FIXTURES), ("OUTPUT_ROOT", output)):
        monkeypatch.setenv(f"PIPELINE_{key}", str(value))
    monkeypatch.delenv("PIPELINE_PG_DSN", raising=False)
    try:
        run(SnapshotHistory(sync_date=DAY1), SnapshotHistory(sync_date=DAY2))
        assert tables(database_dsn(load_settings())) == tables(stages["clean"]["dsn"])
    finally:
        embedded.stop(pgdata)
