"""Many Freshdesk accounts in one database: the accounts-day and accounts-backfill scenarios of bench.run.

    python -m bench.run --scenarios accounts-day --accounts-day-accounts 100
    python -m bench.run --scenarios accounts-backfill --accounts-mode all-accounts,one-at-a-time

Accounts ``a0001``, ``a0002``, … of ``--accounts-agents`` agents each, every one registered in an accounts file
(an empty ``[accounts.<name>]`` table: raw folders only), their raw days written by bench.synth once per account
(the Nth account with seed N) under ``<work>/accounts-raw/<account>/<YYYY-MM-DD>``. Modes:

  all-accounts    one command for every account: ``AllAccounts --sync-date D`` (accounts-day) or
                  ``RangeDaily --of AllAccounts`` (accounts-backfill)
  one-at-a-time   one command per account, one after another: ``SnapshotHistory --account A --sync-date D`` or
                  ``RangeDaily --of SnapshotHistory --of-params '{"account": "A"}'``; only the first
                  ``--accounts-sample`` accounts (3 at most for the backfill) are run, and the time for every
                  account is extrapolated from theirs

The floor is bench.run's: the final staging rows of every account loaded (the accounts' rows of a day together)
into a new database with COPY, the plain upsert and the history insert. Besides the table, each mode gives its
seconds an account-day: the pipeline's seconds over the account-days loaded (accounts-day), and, for the
backfill, from the end of the first day's last SnapshotHistory to the end of the last day's, over
(days - 1) × accounts: an account-day's cost once Spark is up.
"""
import contextlib
import datetime
import io
import json
import shutil
from pathlib import Path

from bench import synth
from bench.run import (
    START,
    days_from,
    environment,
    floor_seconds,
    run_luigi,
    seconds_a_day_after_the_first,
    task_seconds,
)

BACKFILL_SAMPLE = 3  # accounts run one at a time in accounts-backfill, at most: each is a whole backfill


def account_names(count: int) -> list[str]:
    return [f"a{n:04d}" for n in range(1, count + 1)]


def write_registry(path: Path, names: list[str]) -> Path:
    """An accounts file registering ``names``, each with an empty table (its raw folders only)."""
    path.write_text("".join(f"[accounts.{name}]\n" for name in names), encoding="utf-8")
    return path


def write_raw(raw: Path, names: list[str], agents: int, days: int) -> None:
    """``days`` raw days of each account of ``names`` (the Nth account of the registry with seed N), under
    ``raw/<account>/``; one bench.synth run per account, its line per day left out."""
    for name in names:
        with contextlib.redirect_stdout(io.StringIO()):
            synth.main(["--agents", str(agents), "--days", str(days), "--start", START.isoformat(),
                        "--out", str(raw / name), "--seed", str(int(name[1:]))])
    print(f"accounts: {len(names):,} accounts x {days} day(s) x {agents:,} agents written under {raw}")


def account_env(raw: Path, output: Path, dsn: str, registry: Path) -> dict:
    return environment(raw, output, dsn) | {"PIPELINE_ACCOUNTS_FILE": str(registry)}


def one_command_each(names: list[str], env: dict, args) -> tuple[float, int, int]:
    """``luigi --module pipeline args(name)`` for each account in turn, as a user of one-account runs would; returns
    the seconds in all, the largest peak RSS and the Spark starts."""
    seconds, peak, starts = 0.0, 0, 0
    for name in names:
        elapsed, largest, log = run_luigi(args(name), env)
        seconds, peak = seconds + elapsed, max(peak, largest)
        starts += log.count("Starting Spark session")
    return seconds, peak, starts


def sample_size(accounts: int, sample: int, most: int | None = None) -> int:
    return max(1, min(accounts, sample, most or accounts))


def accounts_day(accounts: int, agents: int, modes: list[str], sample: int, server, work: Path) -> list[dict]:
    """One day of ``accounts`` accounts: AllAccounts, and/or the first ``sample`` accounts one command each."""
    names, raw = account_names(accounts), work / "accounts-raw"
    sampled = names[:sample_size(accounts, sample)]
    registry = write_registry(work / "accounts.toml", names)
    write_raw(raw, names if "all-accounts" in modes else sampled, agents, 1)
    day, results = START.isoformat(), []
    if "all-accounts" in modes:
        dsn = server.new_database("accounts_day")
        output = work / "accounts-day-output"
        seconds, peak, log = run_luigi(["AllAccounts", "--sync-date", day], account_env(raw, output, dsn, registry))
        floor = floor_seconds(server, dsn, [START], work)
        shutil.rmtree(output)
        results.append({
            "scenario": f"1 day, {accounts:,} accounts x {agents:,} agents, AllAccounts",
            "pipeline": seconds, "floor": floor, "peak": peak, "tasks": task_seconds(dsn),
            "notes": [f"accounts-day, AllAccounts: {seconds / accounts:.2f} s an account-day ({seconds:.1f} s /"
                      f" {accounts:,} accounts, {log.count('Starting Spark session')} Spark start);"
                      f" floor {floor / accounts:.3f} s an account-day"]})
    if "one-at-a-time" in modes:
        dsn = server.new_database("accounts_day_single")
        output = work / "accounts-day-single-output"
        seconds, peak, starts = one_command_each(
            sampled, account_env(raw, output, dsn, registry),
            lambda name: ["SnapshotHistory", "--account", name, "--sync-date", day])
        floor = floor_seconds(server, dsn, [START], work)
        shutil.rmtree(output)
        per_account = seconds / len(sampled)
        results.append({
            "scenario": f"1 day, {len(sampled):,} of {accounts:,} accounts x {agents:,} agents, one at a time",
            "pipeline": seconds, "floor": floor, "peak": peak, "tasks": task_seconds(dsn),
            "notes": [f"accounts-day, one at a time: {per_account:.2f} s an account-day ({seconds:.1f} s /"
                      f" {len(sampled):,} commands, {starts} Spark starts); floor {floor / len(sampled):.3f} s an"
                      f" account-day; EXTRAPOLATED from {len(sampled):,} to {accounts:,} accounts:"
                      f" {per_account * accounts:.0f} s"]})
    shutil.rmtree(raw)
    return results


def accounts_backfill(accounts: int, agents: int, count: int, modes: list[str], sample: int, server,
                      work: Path) -> list[dict]:
    """``count`` days of ``accounts`` accounts: RangeDaily --of AllAccounts, and/or RangeDaily --of SnapshotHistory
    for each of the first ``sample`` accounts (3 at most)."""
    names, raw = account_names(accounts), work / "accounts-backfill-raw"
    sampled = names[:sample_size(accounts, sample, BACKFILL_SAMPLE)]
    registry = write_registry(work / "accounts-backfill.toml", names)
    write_raw(raw, names if "all-accounts" in modes else sampled, agents, count)
    days = days_from(START, count)
    span = ["--start", START.isoformat(), "--stop", (START + datetime.timedelta(days=count)).isoformat()]
    results = []
    if "all-accounts" in modes:
        dsn = server.new_database("accounts_backfill")
        output = work / "accounts-backfill-output"
        seconds, peak, log = run_luigi(["RangeDaily", "--of", "AllAccounts", *span],
                                       account_env(raw, output, dsn, registry))
        floor = floor_seconds(server, dsn, days, work)
        after_first = seconds_a_day_after_the_first(dsn) / accounts
        shutil.rmtree(output)
        results.append({
            "scenario": f"{count} days x {accounts:,} accounts x {agents:,} agents, AllAccounts",
            "pipeline": seconds, "floor": floor, "peak": peak, "tasks": task_seconds(dsn),
            "notes": [f"accounts-backfill, RangeDaily --of AllAccounts: {after_first:.2f} s an account-day after the"
                      f" first day (first day's last account done to last day's last account done, / {count - 1}"
                      f" / {accounts:,}); {seconds / (count * accounts):.2f} s an account-day over the whole run"
                      f" ({log.count('Starting Spark session')} Spark start); floor"
                      f" {floor / (count * accounts):.3f} s an account-day"]})
    if "one-at-a-time" in modes:
        dsn = server.new_database("accounts_backfill_single")
        output = work / "accounts-backfill-single-output"
        seconds, peak, starts = one_command_each(
            sampled, account_env(raw, output, dsn, registry),
            lambda name: ["RangeDaily", "--of", "SnapshotHistory", "--of-params", json.dumps({"account": name}), *span])
        floor = floor_seconds(server, dsn, days, work)
        after_first = sum(seconds_a_day_after_the_first(dsn, name) for name in sampled) / len(sampled)
        shutil.rmtree(output)
        per_account = seconds / len(sampled)
        results.append({
            "scenario": f"{count} days x {len(sampled):,} of {accounts:,} accounts x {agents:,} agents, one at a time",
            "pipeline": seconds, "floor": floor, "peak": peak, "tasks": task_seconds(dsn),
            "notes": [f"accounts-backfill, one at a time: {after_first:.2f} s an account-day after the first day"
                      f" (each account's first day done to its last day done, / {count - 1}, averaged over"
                      f" {len(sampled)} accounts); {per_account / count:.2f} s an account-day over the whole run"
                      f" ({seconds:.1f} s / {len(sampled)} commands / {count} days, {starts} Spark starts); floor"
                      f" {floor / (count * len(sampled)):.3f} s an account-day; EXTRAPOLATED from {len(sampled)} to"
                      f" {accounts:,} accounts: {per_account * accounts:.0f} s"]})
    shutil.rmtree(raw)
    return results
