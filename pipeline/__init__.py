"""Daily pipeline: Freshdesk API v2 agent records into PostgreSQL, as a Luigi graph with a PySpark transform.

    luigi --module pipeline SnapshotHistory --sync-date 2024-01-02
"""
import atexit
import multiprocessing
import sys
from pathlib import Path

import luigi

from pipeline.config import SettingError, load_settings
from pipeline.logs import configure as configure_logs
from pipeline.names import DEFAULT_ACCOUNT
from pipeline.parameters import BadParameter, DayListParameter
from pipeline.summary import print_run_summary
from pipeline.tasks import (  # noqa: F401  (luigi --module pipeline finds the tasks here)
    AccountsReport,
    AllAccounts,
    ExtractAgents,
    LoadStaging,
    RawAgentsDay,
    Reprocess,
    SnapshotHistory,
    StatusReport,
    TransformAgents,
    UpsertAgents,
    ValidateRaw,
)

CENTRAL_SCHEDULER_FLAGS = ("--scheduler-host", "--scheduler-port", "--scheduler-url")


def prefer_named_scheduler(argv, config) -> bool:
    """luigi.cfg makes the local scheduler the default; naming a central scheduler on the command
    line switches it off (luigi has no ``--no-local-scheduler`` flag). Returns whether it did."""
    named = any(arg.split("=", 1)[0] in CENTRAL_SCHEDULER_FLAGS for arg in argv)
    if named:
        config.set("core", "local_scheduler", "false")
    return named


ACCEPT_FLAG = "--accept-incomplete-days"
ACCOUNT_FLAG = "--account"


def flag_values(argv, flag: str) -> list[str]:
    """The values given to ``flag`` on a command line: ``--flag VALUE`` or ``--flag=VALUE``."""
    values = []
    for n, arg in enumerate(argv):
        if arg == flag and n + 1 < len(argv):
            values.append(argv[n + 1])
        elif arg.startswith(flag + "="):
            values.append(arg[len(flag) + 1:])
    return values


def exit_on_bad_settings(argv) -> None:
    """A setting the pipeline cannot use, an accounts registry it cannot read, an ``--account`` it does not register
    or an ``--accept-incomplete-days`` that is not a list of days stops the command before any task, in one line
    (exit 40): luigi would read them only inside each task."""
    from pipeline.accounts import load_accounts, registered_account  # not at import: python -m pipeline.accounts

    try:
        load_settings()
        load_accounts()  # a registry the pipeline cannot read, or an --account that it does not name
        for account in flag_values(argv, ACCOUNT_FLAG):
            if account != DEFAULT_ACCOUNT:
                registered_account(account)
        for value in flag_values(argv, ACCEPT_FLAG):
            try:
                DayListParameter().parse(value)
            except BadParameter as error:
                raise BadParameter(f"{ACCEPT_FLAG}: {error}") from None
    except SettingError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        sys.exit(40)
    except BadParameter as error:
        print(f"ERROR: BadParameter: {error}", file=sys.stderr)
        sys.exit(40)


prefer_named_scheduler(sys.argv, luigi.configuration.get_config())
configure_logs()
# a command-line run ends with the pipeline's own summary (not its validation workers, which see the same argv)
if Path(sys.argv[0]).name == "luigi" and multiprocessing.parent_process() is None:
    exit_on_bad_settings(sys.argv[1:])
    atexit.register(print_run_summary)
