"""The database work of a sync day, for one account or many at once, each step inside the caller's transaction:
the accounts' staging rows replaced (and the completeness guard, per account), merged into ``agents``, and their
history and versions recorded. LoadStaging, UpsertAgents and SnapshotHistory run them for their account; AllAccounts
(pipeline.accounts_day) for every account of the day in one transaction each. The statements return one row per
account: the counts of each account's run."""
import logging
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from psycopg2.extras import execute_values

from pipeline.completeness import DayAgainstPrevious, refusal
from pipeline.database import MarkerTarget, connect, present_markers, reported_outage, run_sql_file
from pipeline.errors import PipelineError
from pipeline.handoff import read_counts
from pipeline.locks import lock_day_in_database
from pipeline.metrics import now, record_task_runs
from pipeline.partitions import create_day_partition
from pipeline.tables import CARRIED_COLUMNS, ERROR_COLUMNS, STAGING_COLUMNS

logger = logging.getLogger("luigi-interface.pipeline")


def in_one_transaction(dsn: str, sync_date, family: str, table: str, partitions, marker_ids: dict[str, str],
                       work: Callable, holder: str) -> tuple[dict[str, dict], dict[str, str]]:
    """One database stage (``family``: LoadStaging, UpsertAgents or SnapshotHistory) of the accounts' day
    (``marker_ids``: account → its marker id), in one transaction: each account's day lock (a run loading the same
    day of an account waits), then ``work(cursor, accounts)`` for the accounts that have no marker yet, which
    returns the counts of the accounts done and the reasons of those it refused; the accounts done get their run
    rows and markers in the same transaction (done together, or not at all). An exception rolls everything back.
    The day's partitions of ``partitions`` are created first, in transactions of their own (pipeline.partitions).
    Returns the counts and the refusals."""
    started_at = now()
    for partitioned in partitions:
        with reported_outage(dsn, holder):
            create_day_partition(dsn, partitioned, sync_date)
    with reported_outage(dsn, holder), closing(connect(dsn)) as connection:
        with connection.cursor() as cursor:
            for account in sorted(marker_ids):  # one order for every run: no two runs wait for each other
                lock_day_in_database(cursor, sync_date, holder, account)
            meanwhile = present_markers(cursor, list(marker_ids.values()))
            if meanwhile:
                logger.info("%s: done by another run meanwhile: %s", holder,
                            ", ".join(account for account, marker in marker_ids.items() if marker in meanwhile))
            todo = [account for account, marker in marker_ids.items() if marker not in meanwhile]
            counts, refused = work(cursor, todo) if todo else ({}, {})
            record_task_runs(cursor, family, sync_date, started_at, counts)
            if counts:  # luigi's table_updates markers, as MarkerTarget.touch writes them
                execute_values(cursor, f"insert into {MarkerTarget.marker_table} (update_id, target_table) values %s",
                               [(marker_ids[account], table) for account in counts])
        connection.commit()
    return counts, refused


def from_earlier_version(what: str, sync_date, account_flag: str = "") -> PipelineError:
    """The error for a day's output that an earlier version of the pipeline wrote: ``what`` ends with the verb."""
    next_day = sync_date.fromordinal(sync_date.toordinal() + 1)
    return PipelineError(f"{what} by an earlier version of the pipeline; run Reprocess{account_flag} --start"
                         f" {sync_date} --stop {next_day} to load the day again")


def by_account(rows: list[dict]) -> dict[str, dict]:
    """A statement's rows (one per account) by account, without the ``account`` column."""
    return {row["account"]: {key: value for key, value in row.items() if key != "account"} for row in rows}


def run_for_accounts(cursor, file_name: str, sync_date, accounts, **params) -> dict[str, dict]:
    """Run one statement of ``sql/`` for the accounts' day; its rows by account."""
    return by_account(run_sql_file(cursor, file_name, {"sync_date": sync_date, "accounts": list(accounts), **params}))


def empty_accounts_day(cursor, table: str, sync_date, accounts) -> None:
    """Delete the accounts' rows of the day from ``table``'s day partition (the other accounts' rows stay)."""
    run_sql_file(cursor, "009_empty_day_partition.sql", {"table": table, "sync_date": sync_date,
                                                         "accounts": list(accounts)})


def analyze_day(cursor, table: str, sync_date) -> None:
    """Planner statistics for ``table``'s day partition, now that the day's rows are in (the next statements and
    tasks read it before autovacuum would analyze it)."""
    run_sql_file(cursor, "009_analyze_day_partition.sql", {"table": table, "sync_date": sync_date})


class ChainedFiles:
    """The files, one after the other, as one stream: a single ``COPY … FROM STDIN`` for every account."""

    def __init__(self, paths):
        self._paths = iter(paths)
        self._current = None

    def read(self, size=-1):
        while True:
            if self._current is None:
                path = next(self._paths, None)
                if path is None:
                    return b""
                self._current = open(path, "rb")  # noqa: SIM115  (closed once read)
            data = self._current.read(size)
            if data:
                return data
            self._current.close()
            self._current = None


def copy_lines(cursor, table: str, columns, folders) -> None:
    """COPY every Spark part file of ``folders`` into ``table``, in one statement."""
    parts = [part for folder in folders for part in sorted(Path(folder).glob("part-*"))]
    if parts:
        cursor.copy_expert(f"copy {table} ({', '.join(columns)}) from stdin", ChainedFiles(parts), size=1 << 20)


def line_count(folder: Path) -> int:
    """The lines of a folder's part files (COPY text: one row a line)."""
    count = 0
    for part in folder.glob("part-*"):
        with open(part, "rb") as stream:
            count += sum(chunk.count(b"\n") for chunk in iter(lambda s=stream: s.read(1 << 20), b""))
    return count


def quarantined_ids(transformed: Path, sync_date) -> list[int]:
    """The agent ids TransformAgents found quarantined (its ``quarantined/`` lines: the id, then the account)."""
    folder = transformed / "quarantined"
    if not folder.is_dir():
        raise from_earlier_version(f"{transformed} has no quarantined/ folder: it was transformed", sync_date)
    return [int(line.split("\t")[0]) for part in sorted(folder.glob("part-*"))
            for line in part.read_text().splitlines()]


def stage_accounts(cursor, sync_date, transformed: dict[str, Path], list_records: dict, max_share: float,
                   accept_incomplete: bool) -> tuple[dict[str, dict], dict[str, str]]:
    """Replace the accounts' staging and error rows of the day with their transformed files (``transformed``:
    account → folder), stage every known agent that no record names (sql/011_stage_unseen_agents.sql), and hold
    each account's day against its previous one (the completeness guard, unless ``accept_incomplete``).

    Returns the counts of the accounts staged, and the refusal of each account that looks incomplete: its rows are
    deleted again (the caller rolls back instead, when it stages one account)."""
    accounts = list(transformed)
    quarantined = {account: quarantined_ids(folder, sync_date) for account, folder in transformed.items()}
    empty_accounts_day(cursor, "stg_agents", sync_date, accounts)
    run_sql_file(cursor, "009_delete_day_errors.sql", {"sync_date": sync_date, "accounts": accounts})
    copy_lines(cursor, "stg_agents", STAGING_COLUMNS, [folder / "agents" for folder in transformed.values()])
    unseen = run_for_accounts(
        cursor, "011_stage_unseen_agents.sql", sync_date, accounts,
        quarantined_accounts=[account for account, ids in quarantined.items() for _ in ids],
        quarantined=[agent_id for ids in quarantined.values() for agent_id in ids],
        absent_fields=list(CARRIED_COLUMNS), sync_day=sync_date.isoformat())
    refused = {} if accept_incomplete else {
        account: reason for account, facts in run_for_accounts(cursor, "011_day_against_previous.sql", sync_date,
                                                               accounts).items()
        if (reason := refusal(sync_date, DayAgainstPrevious(list_records=list_records[account], **facts), max_share))}
    if refused:
        empty_accounts_day(cursor, "stg_agents", sync_date, refused)
    analyze_day(cursor, "stg_agents", sync_date)
    staged = [account for account in accounts if account not in refused]
    copy_lines(cursor, "agent_pipeline_errors", ERROR_COLUMNS, [transformed[account] / "errors" for account in staged])
    counts = {}
    for account in staged:
        transformed_counts = read_counts(transformed[account])
        counts[account] = {"staging_rows": transformed_counts["agents_staged"] + unseen[account]["agents_unseen"],
                           "error_rows": line_count(transformed[account] / "errors"),
                           "agents_quarantined": len(quarantined[account]), **unseen[account]}
    return counts, refused


def upsert_accounts(cursor, sync_date, accounts, deleted_after_days: int) -> dict[str, dict]:
    """Merge the accounts' staging rows of the day into ``agents``, field by field; then record deleted the agents
    whose details answered 404 for ``deleted_after_days`` days. Waits for any other day's merge first."""
    run_sql_file(cursor, "010_lock_agents.sql", {})
    counts = run_for_accounts(cursor, "010_upsert_agents.sql", sync_date, accounts)
    deleted = run_for_accounts(cursor, "010_mark_deleted_agents.sql", sync_date, accounts,
                               deleted_after_days=deleted_after_days)
    return {account: counts[account] | deleted[account] for account in accounts}


def snapshot_accounts(cursor, sync_date, accounts, holder: str) -> dict[str, dict]:
    """Record the versions of the accounts' agents whose values changed (waiting for any other day's versions
    first), then replace the accounts' history rows of the day; an account whose day no longer names agents it
    named before gets their ``agents`` rows back to what the other days say."""
    run_sql_file(cursor, "022_lock_agent_versions.sql", {})
    versions = run_for_accounts(cursor, "023_record_agent_versions.sql", sync_date, accounts)
    empty_accounts_day(cursor, "agent_status_history", sync_date, accounts)
    history = run_for_accounts(cursor, "020_snapshot_history.sql", sync_date, accounts)
    analyze_day(cursor, "agent_status_history", sync_date)
    replayed = [account for account in accounts if versions[account]["agents_replayed"]]
    if replayed:  # a re-processed day may no longer name agents it named before
        [restored] = run_sql_file(cursor, "024_restore_agents_left_by_the_day.sql",
                                  {"sync_date": sync_date, "accounts": replayed})
        if any(restored.values()):
            logger.info("%s: agents rows the day no longer gives, back to what the other days say: %s restored,"
                        " %s removed (recorded on no day)", holder, *restored.values())
    status = run_for_accounts(cursor, "021_day_status_counts.sql", sync_date, accounts)
    return {account: history[account] | status[account] | versions[account] for account in accounts}
