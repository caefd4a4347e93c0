"""The end-of-run summary a command-line run prints after luigi's execution summary."""
import logging
from contextlib import closing

import psycopg2

from pipeline.config import account_folder, load_settings
from pipeline.database import DatabaseUnavailable, connect, database_dsn, embedded_server_attached, present_markers
from pipeline.errors import PipelineError
from pipeline.metrics import format_summary, run_summary_rows
from pipeline.rawdays import missing_days, missing_message

logger = logging.getLogger("luigi-interface.pipeline")

_wanted: dict[str, object] = {}  # the accounts' days that AllAccounts asked for in this run, by marker id


def note_wanted(day_tasks) -> None:
    """Note the SnapshotHistory tasks of an AllAccounts day: those without a marker when the run ends are named."""
    _wanted.update((task.task_id, task) for task in day_tasks)


def not_loaded_message(tasks) -> str:
    """One line naming the accounts whose day was not loaded, by day."""
    days = {}
    for task in sorted(tasks, key=lambda task: (task.sync_date, task.account)):
        days.setdefault(task.sync_date, []).append(task.account)
    listed = "; ".join(f"{day}: {', '.join(accounts)}" for day, accounts in days.items())
    count = sum(len(accounts) for accounts in days.values())
    others = " the other accounts' days are." if count < len(_wanted) else ""
    return (f"{count} account day{'s' if count > 1 else ''} not loaded ({listed});{others}"
            " The errors above say why; run the same command again once each cause is fixed")


def print_run_summary() -> None:
    """Name the days whose raw input is missing, in one line per account; print this run's counts per sync date
    (and account), if any task of it recorded some; name the accounts' days that AllAccounts did not load."""
    settings = load_settings()
    for account, days in missing_days().items():
        logger.error("%s", missing_message(days, account_folder(settings.raw_root, account)))
    if not settings.dsn and not embedded_server_attached(settings.output_root):
        return  # no task reached the database (a bad command line): do not start or attach to it for nothing
    try:
        with closing(connect(database_dsn(settings))) as connection, connection.cursor() as cursor:
            rows = run_summary_rows(cursor)
            done = present_markers(cursor, list(_wanted)) if _wanted else set()
    except psycopg2.errors.UndefinedTable:  # nothing was ever loaded into this database
        return
    except DatabaseUnavailable as error:  # luigi has said so already, if any task needed it
        logger.debug("No run summary: %s", error)
        return
    except (PipelineError, psycopg2.Error) as error:  # the run is over: a summary is never worth a traceback
        logger.warning("No run summary: %s", error)
        return
    text = format_summary(rows)
    if text:
        print(text, flush=True)
    not_loaded = [task for task_id, task in _wanted.items() if task_id not in done]
    if not_loaded:
        logger.error("%s", not_loaded_message(not_loaded))
