"""The end-of-run summary a command-line run prints after luigi's execution summary."""
import logging
from contextlib import closing

import psycopg2

from pipeline.config import load_settings
from pipeline.database import DatabaseUnavailable, connect, database_dsn, embedded_server_attached
from pipeline.errors import PipelineError
from pipeline.metrics import format_summary, run_summary_rows
from pipeline.rawdays import missing_days, missing_message

logger = logging.getLogger("luigi-interface.pipeline")


def print_run_summary() -> None:
    """Name the days whose raw input is missing, in one line; print this run's counts per sync date, if any task
    of it recorded some."""
    settings = load_settings()
    missing = missing_days()
    if missing:
        logger.error("%s", missing_message(missing, settings.raw_root))
    if not settings.dsn and not embedded_server_attached(settings.output_root):
        return  # no task reached the database (a bad command line): do not start or attach to it for nothing
    try:
        with closing(connect(database_dsn(settings))) as connection, connection.cursor() as cursor:
            rows = run_summary_rows(cursor)
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
