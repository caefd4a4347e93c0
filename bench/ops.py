"""Backfill and re-check timings, through the real command line.

    python -m bench.ops [--days 30] [--dsn DSN]

1. Baseline: load one day (``RangeDaily`` over one day: one Spark start).
2. Backfill: load ``--days`` days in one ``RangeDaily`` command; reports the cost per extra day.
3. No-op re-check of 365 days: the loaded days plus markers for the rest of the year (the re-check
   reads only markers, so this is the query a fully loaded year makes), against a one-day re-check.

Raw days are copies of the two fixture days. Without ``--dsn`` an embedded PostgreSQL is used.
"""
import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import psycopg2

REPO = Path(__file__).resolve().parent.parent
FIXTURES = next(p for p in (REPO.parent / "shared/fixtures/freshdesk-agents", REPO / "data/raw") if p.is_dir())
LUIGI = [str(Path(sys.executable).parent / "luigi"), "--module", "pipeline"]
START = datetime.date(2024, 2, 1)


def luigi_range(env, start, days) -> tuple[float, str]:
    stop = start + datetime.timedelta(days=days)
    began = time.perf_counter()
    result = subprocess.run(LUIGI + ["RangeDaily", "--of", "SnapshotHistory", "--start", start.isoformat(),
                                     "--stop", stop.isoformat()], cwd=REPO, env=env, capture_output=True, text=True,
                            check=False)
    elapsed = time.perf_counter() - began
    if result.returncode != 0:
        sys.exit(f"luigi failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed, result.stderr


def add_markers(dsn, start, days):
    """Markers, exactly as the tasks write them, for ``days`` days from ``start``."""
    os.environ["PIPELINE_PG_DSN"] = dsn
    from pipeline import LoadStaging, SnapshotHistory, UpsertAgents

    rows = [(cls(sync_date=start + datetime.timedelta(days=n)).task_id, cls.table)
            for n in range(days) for cls in (LoadStaging, UpsertAgents, SnapshotHistory)]
    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        cursor.executemany("insert into table_updates (update_id, target_table) values (%s, %s)"
                           " on conflict do nothing", rows)
        connection.commit()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30, help="days in the backfill (default 30)")
    parser.add_argument("--dsn", default="", help="PostgreSQL server; a new database is made on it per step")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ops-"))
    raw = work / "raw"
    for n in range(max(args.days, 1) + 1):
        day = START + datetime.timedelta(days=n)
        shutil.copytree(FIXTURES / ("2024-01-01", "2024-01-02")[n % 2], raw / day.isoformat())

    def environment(name):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
        env.update(PIPELINE_RAW_ROOT=str(raw), PIPELINE_OUTPUT_ROOT=str(work / name))
        if args.dsn:
            admin = psycopg2.connect(args.dsn)
            admin.autocommit = True
            admin.cursor().execute(f"create database bench_{name}_{os.getpid()}")
            admin.close()
            env["PIPELINE_PG_DSN"] = psycopg2.extensions.make_dsn(args.dsn, dbname=f"bench_{name}_{os.getpid()}")
        return env

    one = environment("one")
    try:
        t_one, _ = luigi_range(one, START, 1)
        backfill = environment("backfill")
        t_backfill, log = luigi_range(backfill, START, args.days)
        spark_starts = log.count("Starting Spark session")
        t_recheck_one, _ = luigi_range(backfill, START, 1)
        dsn = backfill.get("PIPELINE_PG_DSN") or subprocess.run(
            [sys.executable, "-m", "pipeline.localdb", "uri"], cwd=REPO, env=backfill, capture_output=True,
            text=True, check=True).stdout.strip()
        add_markers(dsn, START, 365)
        t_recheck_year, log = luigi_range(backfill, START, 365)
        year_spark = log.count("Starting Spark session")
    finally:
        for name in ("one", "backfill"):
            env = dict(os.environ, PIPELINE_OUTPUT_ROOT=str(work / name))
            subprocess.run([sys.executable, "-m", "pipeline.localdb", "stop"], cwd=REPO, env=env,
                           capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)

    per_day = (t_backfill - t_one) / max(args.days - 1, 1)
    print(f"{'step':<44}{'seconds':>10}{'ratio':>10}")
    print(f"{'load 1 day (baseline, 1 Spark start)':<44}{t_one:>10.2f}{1:>10.2f}")
    print(f"{f'backfill {args.days} days ({spark_starts} Spark start)':<44}{t_backfill:>10.2f}"
          f"{t_backfill / t_one:>10.2f}")
    print(f"{'  each day after the first':<44}{per_day:>10.2f}{per_day / t_one:>10.2f}")
    print(f"{'re-check 1 loaded day (baseline)':<44}{t_recheck_one:>10.2f}{1:>10.2f}")
    print(f"{f're-check 365 loaded days ({year_spark} Spark start)':<44}{t_recheck_year:>10.2f}"
          f"{t_recheck_year / t_recheck_one:>10.2f}")


if __name__ == "__main__":
    main()
