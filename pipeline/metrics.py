"""Run metrics: one ``agent_pipeline_runs`` row per task per sync date per run, and the end-of-run summary."""
import datetime
import uuid

from pipeline.database import run_sql_file
from pipeline.names import DEFAULT_ACCOUNT
from pipeline.resources import read_sql
from pipeline.tables import RUN_COUNTS

# One command is one run; worker processes forked by luigi inherit it.
RUN_ID = uuid.uuid4().hex[:12]

SUMMARY_COLUMNS = (
    ("sync_date", "sync date"), ("records_read", "records"), ("records_invalid", "invalid"),
    ("records_warned", "warnings"), ("duplicates_resolved", "duplicates"), ("agents_staged", "staged"),
    ("agents_quarantined", "quarantined"), ("agents_unseen", "not seen"),
    ("agents_active", "active"), ("agents_inactive", "inactive"), ("agents_reactivated", "reactivated"),
    ("rows_inserted", "inserted"), ("rows_updated", "changed"), ("rows_unchanged", "unchanged"),
    ("history_rows", "history"),
)


COUNT_LABELS = {  # what each count of agent_pipeline_runs says, in words: luigid's status messages, the report
    "files_read": "files read", "records_read": "records read", "records_valid": "records valid",
    "records_invalid": "records rejected",
    "records_warned": "records with warnings (loaded unless their agent is quarantined)",
    "parse_errors": "unreadable details files", "list_records": "list records",
    "duplicates_resolved": "duplicate records resolved", "agents_staged": "agents staged",
    "agents_active": "active on this day", "agents_inactive": "inactive on this day (newly or not)",
    "agents_reactivated": "reactivated this day", "staging_rows": "staging rows", "error_rows": "error rows",
    "rows_inserted": "agents inserted", "rows_updated": "agents changed", "rows_unchanged": "agents unchanged",
    "history_rows": "history rows",
    "list_pages": "list pages fetched", "details_requested": "details requested",
    "details_fetched": "details fetched", "details_missing": "details not found (404)",
    "details_failed": "details calls failed", "requests": "API requests", "retries": "API retries",
    "throttled_seconds": "seconds throttled", "fetch_errors": "details not fetched (error rows)",
    "versions_opened": "versions opened", "versions_closed": "versions closed",
    "agents_replayed": "agents whose versions were replayed (late or re-processed day)",
    "files_unread": "entries not read (UNREAD_FILE rows)",
    "agents_quarantined": "agents quarantined (an invalid list record: not recorded this day)",
    "agents_unseen": "known agents no record named (recorded inactive, not seen)",
    "agents_deleted": "agents recorded deleted (their details answered 404 for deleted_after_days days)",
}


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def record_task_run(cursor, task: str, sync_date, started_at, counts: dict, run_id: str = RUN_ID,
                    account: str = DEFAULT_ACCOUNT) -> None:
    """Insert (or, for a repeat within the same run, replace) a task's row of counts for one account's day."""
    record_task_runs(cursor, task, sync_date, started_at, {account: counts}, run_id)


def record_task_runs(cursor, task: str, sync_date, started_at, counts: dict[str, dict], run_id: str = RUN_ID) -> None:
    """:func:`record_task_run` for many accounts' days at once (``counts``: account → its counts)."""
    from psycopg2.extras import execute_batch

    rows = []
    for account, account_counts in counts.items():
        unknown = set(account_counts) - set(RUN_COUNTS)
        if unknown:
            raise ValueError(f"{task} reports counts with no column in agent_pipeline_runs: {sorted(unknown)}")
        rows.append(dict.fromkeys(RUN_COUNTS) | account_counts | {
            "run_id": run_id, "task": task, "account": account, "sync_date": sync_date, "started_at": started_at})
    execute_batch(cursor, read_sql("030_record_task_run.sql"), rows, page_size=500)


def run_summary_rows(cursor, run_id: str = RUN_ID) -> list[dict]:
    return run_sql_file(cursor, "040_run_summary.sql", {"run_id": run_id})


def format_summary(rows: list[dict], run_id: str = RUN_ID) -> str:
    """A plain-text table, one line per sync date (and account: a column of its own once a registered account is
    in the run); '-' where no task of this run recorded the count. A day of which this run only fetched the raw
    files (ExtractAgents, whose counts its own log line gives) has no line."""
    rows = [row for row in rows if any(row[key] is not None for key, _ in SUMMARY_COLUMNS[1:])]
    if not rows:
        return ""
    columns = SUMMARY_COLUMNS
    if any(row.get("account", DEFAULT_ACCOUNT) != DEFAULT_ACCOUNT for row in rows):
        columns = (SUMMARY_COLUMNS[0], ("account", "account"), *SUMMARY_COLUMNS[1:])
    cells = [[title for _, title in columns]]
    cells += [["-" if row[key] is None else f"{row[key]:,}" if isinstance(row[key], int) else str(row[key])
               for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
    return "\n".join([f"===== Agents pipeline summary (run {run_id}) =====", *lines, ""])
