"""One worker against ``--workers N`` on the same backfill, through the real command line.

    python -m bench.workers [--agents 20000] [--days 4] [--workers 2] [--dsn DSN]

Writes ``--days`` synthetic days, then loads them with one ``RangeDaily`` command twice, each time into a new
database and output root: with one worker and with ``--workers N``. Reports both wall times, their ratio, and
the order in which the days' UpsertAgents committed (one worker: oldest first).
"""
import argparse
import shutil
import tempfile
from contextlib import closing
from pathlib import Path

import psycopg2

from bench import synth
from bench.run import START, Server, days_from, environment, run_luigi


def merge_order(dsn: str) -> list[str]:
    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        cursor.execute("select sync_date from agent_pipeline_runs where task = 'UpsertAgents' order by finished_at")
        return [row[0].isoformat() for row in cursor.fetchall()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=20_000, help="agents known on the first day (default 20,000)")
    parser.add_argument("--days", type=int, default=4, help="days in the backfill (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="luigi workers of the second run (default 2)")
    parser.add_argument("--dsn", default="", help="PostgreSQL server to use (default: an embedded one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="agents-bench-workers-"))
    server = Server(args.dsn, work)
    try:
        raw = work / "raw"
        synth.main(["--agents", str(args.agents), "--days", str(args.days), "--start", START.isoformat(),
                    "--out", str(raw), "--seed", "1"])
        stop = days_from(START, args.days + 1)[-1].isoformat()
        seconds = {}
        for workers in (1, args.workers):
            dsn = server.new_database(f"workers_{workers}")
            seconds[workers], _, _ = run_luigi(["RangeDaily", "--of", "SnapshotHistory", "--start", START.isoformat(),
                                                "--stop", stop, "--workers", str(workers)],
                                               environment(raw, work / f"output-{workers}", dsn))
            print(f"--workers {workers}: {seconds[workers]:.1f} s; days merged in the order {merge_order(dsn)}")
        print(f"{args.days} days of {args.agents:,} agents: --workers {args.workers} / one worker ="
              f" {seconds[args.workers] / seconds[1]:.2f}")
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
