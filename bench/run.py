"""The scale benchmark: the pipeline against the database's own floor, in one run on one server.

    python -m bench.run                       # the one-account scenarios at full size (about an hour on 2 cores)
    python -m bench.run --scenarios backfill,noop --backfill-agents 2000
    python -m bench.run --scenarios accounts-day --accounts-mode all-accounts,one-at-a-time

Scenarios:
  large-files   one day of --files-agents agents, one details file per agent, through SnapshotHistory
  large-pages   one day of --pages-agents agents, details in arrays of 100
  backfill      --backfill-days days of --backfill-agents agents through RangeDaily
  noop          re-check of 365 loaded days (the backfill's days plus markers for the rest of the year)
  growth        --growth-days days of --growth-agents agents through RangeDaily: the database time of the
                last day against the first (a day's cost must not grow with the days loaded before it)
  accounts-day  one day of --accounts-day-accounts accounts of --accounts-agents agents each, through AllAccounts
  accounts-backfill
                --accounts-backfill-days days of --accounts-backfill-accounts accounts of --accounts-agents agents
                through RangeDaily --of AllAccounts
  (--accounts-mode one-at-a-time: one command per account instead, SnapshotHistory --account or RangeDaily --of
  SnapshotHistory, for the first --accounts-sample accounts only, 3 at most for the backfill, extrapolated to all;
  see bench.accounts)

The floor loads the same final staging rows with COPY FROM STDIN, then a plain upsert into agents
(``insert … on conflict do update`` of every column: no field-by-field merge, no counts) and the
history insert: the database work alone, without Python or Spark. Peak memory is the largest sum
of RSS over the luigi process and its children (driver, Spark JVM, workers); the database server
runs apart and is not counted. Raw days come from bench.synth (seed 1; seed N for the Nth account).
Every Spark JVM maps the pipeline's class archive (``output/jvm``, pipeline.class_archive), made before the
first run when it is not there; ``--class-archive off`` measures JVMs without one.
"""
import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, closing
from pathlib import Path

import luigi.configuration
import psutil
import psycopg2
from psycopg2.extensions import make_dsn

from bench import floors, synth
from pipeline.database import ensure_schema
from pipeline.embedded import temporary_server
from pipeline.resources import read_sql
from pipeline.tables import STAGING_COLUMNS

REPO = Path(__file__).resolve().parent.parent
_AGENT_COLUMNS = [column for column in STAGING_COLUMNS if column != "absent_fields"] + ["ingested_at"]
# PostgreSQL's own upsert of a staged day: the floor the pipeline's merge is measured against
FLOOR_UPSERT = (
    f"insert into agents ({', '.join(_AGENT_COLUMNS)}) select {', '.join(_AGENT_COLUMNS)} from stg_agents"
    " where sync_date = %(sync_date)s on conflict (account, agent_id) do update set "
    + ", ".join(f"{column} = excluded.{column}" for column in _AGENT_COLUMNS if column != "agent_id")
)
LUIGI = [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline"]
START = datetime.date(2024, 1, 1)


def days_from(start, count):
    return [start + datetime.timedelta(days=n) for n in range(count)]


class Server:
    """One PostgreSQL for the whole benchmark: --dsn, or an embedded one; a new database per step."""

    def __init__(self, dsn: str, work: Path):
        self.resources = ExitStack()
        self.dsn = dsn or self.resources.enter_context(temporary_server("agents-bench-pg-"))
        self.count = 0

    def new_database(self, label: str) -> str:
        self.count += 1
        name = f"bench_{label}_{os.getpid()}_{self.count}"
        with closing(psycopg2.connect(self.dsn)) as connection:
            connection.autocommit = True
            connection.cursor().execute(f'create database "{name}"')
        return make_dsn(self.dsn, dbname=name)

    def close(self):
        self.resources.close()


def run_luigi(args: list[str], env: dict) -> tuple[float, int, str]:
    """Run ``luigi --module pipeline ARGS``; returns seconds, peak RSS of its process tree, stderr."""
    began = time.perf_counter()
    process = psutil.Popen(LUIGI + args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    peak = [0]

    def sample():
        while process.poll() is None:
            try:
                tree = [process, *process.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - began
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"luigi {' '.join(args)} failed ({process.returncode}):\n{stderr[-4000:]}")
    return elapsed, peak[0], stderr


def task_seconds(dsn: str) -> dict:
    """Each task's seconds: for each sync date, from the first of its runs' start to the last one's end (the
    accounts of an AllAccounts day share one run of each stage), summed over the days."""
    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        cursor.execute("select task, sum(seconds)::float from ("
                       " select task, extract(epoch from max(finished_at) - min(started_at)) as seconds"
                       " from agent_pipeline_runs group by task, sync_date) as days group by task")
        return dict(cursor.fetchall())


DATABASE_TASKS = ("LoadStaging", "UpsertAgents", "SnapshotHistory")


def database_seconds_by_day(dsn: str) -> dict:
    """Seconds of the database tasks (LoadStaging, UpsertAgents, SnapshotHistory) for each sync date."""
    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        cursor.execute("select sync_date, sum(extract(epoch from finished_at - started_at))::float"
                       " from agent_pipeline_runs where task = any(%s) group by sync_date", (list(DATABASE_TASKS),))
        return dict(cursor.fetchall())


def seconds_a_day_after_the_first(dsn: str, account: str | None = None) -> float:
    """From the end of the first day's SnapshotHistory to the end of the last one's, per day: the cost of a
    day in a backfill once Spark is up. A day of many accounts ends with its last account's SnapshotHistory;
    ``account``: that account's days alone."""
    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        cursor.execute("with days as (select sync_date, max(finished_at) as done from agent_pipeline_runs"
                       " where task = 'SnapshotHistory' and (%(account)s::text is null or account = %(account)s)"
                       " group by sync_date)"
                       " select extract(epoch from (select done from days order by sync_date desc limit 1)"
                       " - (select done from days order by sync_date limit 1))::float / (count(*) - 1) from days",
                       {"account": account})
        return cursor.fetchone()[0]


def floor_seconds(server: Server, source_dsn: str, days: list, work: Path) -> float:
    """Load the final staging rows of ``days`` into a new database with COPY, upsert and history."""
    return sum(floor_seconds_by_day(server, source_dsn, days, work).values())


def floor_seconds_by_day(server: Server, source_dsn: str, days: list, work: Path) -> dict:
    """The floor of each of ``days`` (every account staged that day), loaded in order into one new database."""
    return {day: sum(stages.values()) for day, stages in floor_stages_by_day(server, source_dsn, days, work).items()}


FLOOR_STAGES = {"copy": "LoadStaging", "upsert": "UpsertAgents", "history": "SnapshotHistory"}


def floor_stages_by_day(server: Server, source_dsn: str, days: list, work: Path) -> dict:
    """Each of ``days`` (every account staged that day) loaded in order into one new database: the seconds of its
    COPY, its plain upsert and its history insert (with the commit), by day."""
    files = []
    columns = ", ".join(STAGING_COLUMNS)
    with closing(psycopg2.connect(source_dsn)) as connection, connection.cursor() as cursor:
        for day in days:
            path = work / f"floor-{day}.copy"
            with open(path, "wb") as stream:
                cursor.copy_expert(f"copy (select {columns} from stg_agents where sync_date = '{day}') to stdout",
                                   stream)
            cursor.execute("select coalesce(array_agg(distinct account), '{}') from stg_agents where sync_date = %s",
                           (day,))
            files.append((day, path, cursor.fetchone()[0]))
    target = server.new_database("floor")
    ensure_schema(target)
    seconds = {}
    with closing(psycopg2.connect(target)) as connection, connection.cursor() as cursor:
        for day, path, accounts in files:
            for table in ("stg_agents", "agent_status_history"):  # as the pipeline, before the timed work
                cursor.execute("select create_day_partition(%s, %s)", (table, day))
            connection.commit()
            marks = [time.perf_counter()]
            with open(path, "rb") as stream:
                cursor.copy_expert(f"copy stg_agents ({columns}) from stdin", stream, size=1 << 20)
            marks.append(time.perf_counter())
            cursor.execute(FLOOR_UPSERT, {"sync_date": day})
            marks.append(time.perf_counter())
            cursor.execute(read_sql("020_snapshot_history.sql"), {"sync_date": day, "accounts": accounts})
            connection.commit()
            marks.append(time.perf_counter())
            seconds[day] = {stage: marks[n + 1] - marks[n] for n, stage in enumerate(FLOOR_STAGES)}
            path.unlink()
    return seconds


# The folder of the Spark JVMs' class archive (pipeline.class_archive) of every run, made before the first one
# (--class-archive): the runs measure a pipeline that has made it before, as every run after its first does.
CLASS_ARCHIVE = {"folder": str(REPO / "output" / "jvm")}


def environment(raw: Path, output: Path, dsn: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(PIPELINE_RAW_ROOT=str(raw), PIPELINE_OUTPUT_ROOT=str(output), PIPELINE_PG_DSN=dsn,
               PIPELINE_STAGING_RETENTION_DAYS="0",  # the floor reloads every day's staging rows
               PIPELINE_CLASS_ARCHIVE=CLASS_ARCHIVE["folder"] or "off")
    return env


def make_class_archive(folder: str) -> None:
    """The runs' class archive, made now if it is not there yet (not timed)."""
    from pipeline.class_archive import make_archive
    from pipeline.config import load_settings

    luigi.configuration.add_config_path(str(REPO / "luigi.cfg"))
    CLASS_ARCHIVE["folder"] = "" if folder == "off" else folder
    if CLASS_ARCHIVE["folder"]:
        configured = load_settings().spark_conf.get("spark.driver.extraJavaOptions", "")
        if make_archive(Path(folder), configured) is None:
            raise SystemExit(f"could not make the class archive in {folder}")


def one_day(name, agents, details_per_file, server, work) -> dict:
    raw = work / name
    synth.main(["--agents", str(agents), "--days", "1", "--start", START.isoformat(), "--out", str(raw),
                "--seed", "1", "--details-per-file", str(details_per_file)])
    dsn = server.new_database(name.replace("-", "_"))
    output = work / f"{name}-output"
    seconds, peak, _ = run_luigi(["SnapshotHistory", "--sync-date", START.isoformat()], environment(raw, output, dsn))
    database = floor_stages_by_day(server, dsn, [START], work)[START]
    validation = floors.read_and_validate_floor(raw / START.isoformat())
    shutil.rmtree(raw)
    spark_start, spark = bench_spark()
    transform = floors.transform_floor(spark, output / "validated" / START.isoformat(), START, work / "spark")
    shutil.rmtree(output)
    tasks = task_seconds(dsn)
    result = {"scenario": f"1 day, {agents:,} agents, details {'1 per file' if details_per_file == 1 else 'in 100s'}",
              "pipeline": seconds, "floor": sum(database.values()), "peak": peak, "tasks": tasks}
    result["stages"] = stage_rows(seconds, tasks, validation, transform, database, spark_start)
    print_stages(result)
    return result


_SPARK = {}


def bench_spark():
    """The benchmark's own Spark session, with the pipeline's settings (luigi.cfg), started on first call: the
    seconds its start and first job took, and the session."""
    from pipeline.config import load_settings
    from pipeline.spark import get_spark

    if "session" not in _SPARK:
        luigi.configuration.add_config_path(str(REPO / "luigi.cfg"))
        began = time.perf_counter()
        _SPARK["session"] = get_spark({**load_settings().spark_conf, "class_archive": CLASS_ARCHIVE["folder"]})
        _SPARK["session"].range(1).count()
        _SPARK["start"] = time.perf_counter() - began
    return _SPARK["start"], _SPARK["session"]


def stage_rows(seconds, tasks, validation, transform, database, spark_start) -> list[tuple]:
    """(stage, pipeline seconds, floor seconds, target ratio or None) for each stage and the whole day."""
    database_tasks = sum(tasks.get(task, 0.0) for task in FLOOR_STAGES.values())
    floor = validation["seconds"] + transform["floor"] + sum(database.values())
    return [
        ("ValidateRaw / read + orjson + jsonschema-rs, 1 process", tasks.get("ValidateRaw", 0.0),
         validation["seconds"], 1.5),
        ("TransformAgents (its JVM's start included)", tasks.get("TransformAgents", 0.0), transform["floor"], None),
        ("transform, warm / Parquet read + write, warm", transform["transform"], transform["floor"], 2.0),
        *((task, tasks.get(task, 0.0), database[stage], None) for stage, task in FLOOR_STAGES.items()),
        ("database tasks / COPY + plain upsert + history", database_tasks, sum(database.values()), 1.3),
        ("whole day / the floors above", seconds, floor, 3.0),
        (f"whole day less a Spark start ({spark_start:.1f} s) / the floors", seconds - spark_start, floor, 3.0),
    ]


def print_stages(result: dict) -> None:
    print(f"\n{result['scenario']}: each stage against its own floor")
    print(f"{'stage / its floor':<62}{'stage s':>9}{'floor s':>9}{'ratio':>7}{'target':>8}{'met':>5}")
    for stage, seconds, floor, target in result["stages"]:
        ratio = seconds / floor if floor else float("nan")
        met = "" if target is None else "yes" if ratio <= target else "no"
        print(f"{stage:<62}{seconds:>9.2f}{floor:>9.2f}{ratio:>7.2f}{'' if target is None else target:>8}{met:>5}")


def backfill_and_noop(agents, count, server, work, with_noop) -> list[dict]:
    raw = work / "backfill"
    synth.main(["--agents", str(agents), "--days", str(count), "--start", START.isoformat(), "--out", str(raw),
                "--seed", "1"])
    dsn = server.new_database("backfill")
    env = environment(raw, work / "backfill-output", dsn)
    stop = START + datetime.timedelta(days=count)
    seconds, peak, log = run_luigi(["RangeDaily", "--of", "SnapshotHistory", "--start", START.isoformat(),
                                    "--stop", stop.isoformat()], env)
    floor = floor_seconds(server, dsn, days_from(START, count), work)
    after_first = seconds_a_day_after_the_first(dsn)
    print(f"\nbackfill: {after_first:.2f} s a day after the first (first day done to last day done, / {count - 1});"
          f" floor {floor / count:.2f} s a day")
    results = [{"scenario": f"backfill {count} days x {agents:,} agents "
                            f"({log.count('Starting Spark session')} Spark start)",
                "pipeline": seconds, "floor": floor, "peak": peak, "tasks": task_seconds(dsn)}]
    if with_noop:
        from pipeline import LoadStaging, SnapshotHistory, UpsertAgents

        os.environ["PIPELINE_PG_DSN"] = dsn
        markers = [(cls(sync_date=day).task_id, cls.table) for day in days_from(START, 365)
                   for cls in (LoadStaging, UpsertAgents, SnapshotHistory)]
        with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
            cursor.executemany("insert into table_updates (update_id, target_table) values (%s, %s)"
                               " on conflict do nothing", markers)
            connection.commit()
        year_stop = START + datetime.timedelta(days=365)
        seconds, peak, log = run_luigi(["RangeDaily", "--of", "SnapshotHistory", "--start", START.isoformat(),
                                        "--stop", year_stop.isoformat()], env)
        results.append({"scenario": f"no-op re-check of 365 days ({log.count('Starting Spark session')} Spark start)",
                        "pipeline": seconds, "floor": None, "peak": peak, "tasks": {}})
    return results


def growth(agents, count, server, work) -> dict:
    """``count`` days of ``agents`` agents (details in arrays of 100) through RangeDaily: the database time
    of the last day against the first and second, the pipeline's and the floor's."""
    raw = work / "growth"
    synth.main(["--agents", str(agents), "--days", str(count), "--start", START.isoformat(), "--out", str(raw),
                "--seed", "1", "--details-per-file", "100"])
    dsn = server.new_database("growth")
    stop = START + datetime.timedelta(days=count)
    seconds, peak, _ = run_luigi(["RangeDaily", "--of", "SnapshotHistory", "--start", START.isoformat(),
                                  "--stop", stop.isoformat()], environment(raw, work / "growth-output", dsn))
    shutil.rmtree(raw)
    days = days_from(START, count)
    pipeline, floor = database_seconds_by_day(dsn), floor_seconds_by_day(server, dsn, days, work)
    first, second, last = days[0], days[1], days[-1]
    print(f"\ndatabase seconds by day, {agents:,} agents ({count} days, RangeDaily {seconds:.0f} s):")
    print(f"{'':<10}{'day 1':>8}{'day 2':>8}{f'day {count}':>8}{f'day {count} / day 1':>16}"
          f"{f'day {count} / day 2':>16}")
    for label, by_day in (("pipeline", pipeline), ("floor", floor)):
        print(f"{label:<10}{by_day[first]:>8.2f}{by_day[second]:>8.2f}{by_day[last]:>8.2f}"
              f"{by_day[last] / by_day[first]:>16.2f}{by_day[last] / by_day[second]:>16.2f}")
    return {"scenario": f"growth {count} days x {agents:,} agents", "pipeline": seconds,
            "floor": sum(floor.values()), "peak": peak, "tasks": task_seconds(dsn)}


def print_table(results: list[dict]) -> None:
    print(f"\n{'scenario':<58}{'pipeline s':>11}{'floor s':>9}{'ratio':>7}{'peak MiB':>10}  task seconds")
    for r in results:
        floor = "-" if not r["floor"] else f"{r['floor']:.1f}" if r["floor"] >= 1 else f"{r['floor']:.2f}"
        ratio = "-" if not r["floor"] else f"{r['pipeline'] / r['floor']:.2f}"
        ratio = ratio if len(ratio) < 7 else f"{r['pipeline'] / r['floor']:,.0f}"  # many small days: over 1,000
        tasks = ", ".join(f"{task} {seconds:.1f}" for task, seconds in sorted(r["tasks"].items(), key=lambda t: -t[1]))
        print(f"{r['scenario']:<58}{r['pipeline']:>11.1f}{floor:>9}{ratio:>7}{r['peak'] / 2**20:>10.0f}  {tasks}")
    notes = [line for r in results for line in r.get("notes", ())]  # figures of their own (bench.accounts)
    if notes:
        print("\n" + "\n".join(notes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="large-files,large-pages,backfill,noop,growth")
    parser.add_argument("--files-agents", type=int, default=100_000)
    parser.add_argument("--pages-agents", type=int, default=1_000_000)
    parser.add_argument("--backfill-agents", type=int, default=10_000)
    parser.add_argument("--backfill-days", type=int, default=30)
    parser.add_argument("--growth-agents", type=int, default=100_000)
    parser.add_argument("--growth-days", type=int, default=30)
    parser.add_argument("--accounts-day-accounts", type=int, default=1000)
    parser.add_argument("--accounts-backfill-accounts", type=int, default=100)
    parser.add_argument("--accounts-backfill-days", type=int, default=30)
    parser.add_argument("--accounts-agents", type=int, default=200, help="agents of each account")
    parser.add_argument("--accounts-mode", default="all-accounts",
                        help="all-accounts (AllAccounts), one-at-a-time (a command per account), or both:"
                             " all-accounts,one-at-a-time")
    parser.add_argument("--accounts-sample", type=int, default=20,
                        help="accounts run one at a time (3 at most for accounts-backfill), extrapolated to all")
    parser.add_argument("--dsn", default="", help="PostgreSQL server to use (default: an embedded one)")
    parser.add_argument("--class-archive", default=CLASS_ARCHIVE["folder"],
                        help="folder of the Spark JVMs' class archive, made first when missing (not timed);"
                             " off: every JVM starts without one (default: output/jvm, the pipeline's own)")
    args = parser.parse_args()
    scenarios = set(args.scenarios.split(","))
    modes = args.accounts_mode.split(",")
    if not modes or set(modes) - {"all-accounts", "one-at-a-time"}:
        parser.error(f"--accounts-mode {args.accounts_mode!r}: expected all-accounts, one-at-a-time or both")
    make_class_archive(args.class_archive)
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    server = Server(args.dsn, work)
    results = []
    try:
        if "large-files" in scenarios:
            results.append(one_day("large-files", args.files_agents, 1, server, work))
        if "large-pages" in scenarios:
            results.append(one_day("large-pages", args.pages_agents, 100, server, work))
        if scenarios & {"backfill", "noop"}:
            results += backfill_and_noop(args.backfill_agents, args.backfill_days, server, work, "noop" in scenarios)
        if "growth" in scenarios:
            results.append(growth(args.growth_agents, args.growth_days, server, work))
        if scenarios & {"accounts-day", "accounts-backfill"}:
            from bench.accounts import accounts_backfill, accounts_day  # which uses this module's helpers

            if "accounts-day" in scenarios:
                results += accounts_day(args.accounts_day_accounts, args.accounts_agents, modes, args.accounts_sample,
                                        server, work)
            if "accounts-backfill" in scenarios:
                results += accounts_backfill(args.accounts_backfill_accounts, args.accounts_agents,
                                             args.accounts_backfill_days, modes, args.accounts_sample, server, work)
    finally:
        print_table(results)
        server.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
