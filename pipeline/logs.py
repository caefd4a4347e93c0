"""Quiet, useful logs by default: the pipeline's INFO lines, luigi's progress (a task running, done, failed), its
summary and the warnings that matter; no third-party noise.

``--log-level DEBUG`` (luigi's own flag; ``[core] log_level`` in ``luigi.cfg``) brings everything back: luigi's
scheduling chatter, its per-day "Data for … does not exist" warnings and Spark's own log4j defaults.
"""
import logging
import warnings
from pathlib import Path

from pipeline.errors import OneLineErrors

LUIGI_LOGGER = "luigi-interface"
SPARK_LOG_CONFIG = Path(__file__).with_name("log4j2.properties")

# luigi's INFO and WARNING lines shown only at DEBUG: one per task and day at scheduling and again when it is done
# (the "running"/"done" lines say it), and the per-day missing-data warning (the run ends with one line naming
# every missing day: pipeline.rawdays).
DEMOTED = ("Informed scheduler that task", "Shutting down Keep-Alive thread", "does not exist (yet?)")


class DemoteChatter(logging.Filter):
    """Logs luigi's per-task scheduling lines at DEBUG instead of INFO or WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR and any(text in str(record.msg) for text in DEMOTED):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def configure() -> None:
    """Install the pipeline's filters on luigi's logger (whose level and handler luigi sets up from --log-level)."""
    luigi_logger = logging.getLogger(LUIGI_LOGGER)
    luigi_logger.addFilter(DemoteChatter())
    luigi_logger.addFilter(OneLineErrors())
    # luigi's own RangeDaily declares param_name=None with a string parameter, and warns on every range run
    warnings.filterwarnings("ignore", message='Parameter "param_name" with value "None" is not of type string')


def debugging() -> bool:
    """Whether the run logs at DEBUG (luigi's --log-level DEBUG, or luigi's default when [core] log_level is unset)."""
    return logging.getLogger(LUIGI_LOGGER).getEffectiveLevel() <= logging.DEBUG


def spark_java_options(configured: str) -> str:
    """The driver's Java options: the configured ones plus the quiet log4j2 configuration, unless the run debugs
    or the configured options name a log4j2 configuration of their own."""
    if debugging() or "log4j2.configurationFile" in configured:
        return configured
    return f"{configured} -Dlog4j2.configurationFile={SPARK_LOG_CONFIG.as_uri()}".strip()
