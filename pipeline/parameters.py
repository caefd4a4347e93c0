"""Command-line parameters whose bad values are reported in one line (``PipelineError``), not a traceback."""
import datetime
import re

import luigi

from pipeline.errors import PipelineError
from pipeline.names import NAME_PATTERN, NAME_RULE


class BadParameter(PipelineError, ValueError):
    """A command-line value the pipeline cannot use; the message says what it expects."""


class SyncDateParameter(luigi.DateParameter):
    """A sync day, ``YYYY-MM-DD``: the name of its raw folder."""

    def parse(self, s):
        try:
            return super().parse(s)
        except ValueError:
            raise BadParameter(f"--sync-date {s!r} is not a date: expected YYYY-MM-DD, the name of the day's "
                               "raw folder (<raw_root>/YYYY-MM-DD)") from None


class DayListParameter(luigi.Parameter):
    """Days as ``2024-01-02,2024-01-05``."""

    def parse(self, x):
        try:
            return tuple(sorted(datetime.date.fromisoformat(day.strip()) for day in x.split(",") if day.strip()))
        except ValueError:
            raise BadParameter(f"expected days as YYYY-MM-DD[,YYYY-MM-DD…], not {x!r}") from None

    def serialize(self, x):
        return ",".join(day.isoformat() for day in x)


class AccountParameter(luigi.Parameter):
    """A Freshdesk account's short name (pipeline.names), or ``default``."""

    def parse(self, x):
        if not re.fullmatch(NAME_PATTERN, x):
            raise BadParameter(f"--account {x!r} is not an account name: expected {NAME_RULE} (pipeline.accounts"
                               " lists the registered ones)")
        return x
