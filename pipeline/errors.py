"""Errors whose message says everything a user needs: logged as one line, without a traceback."""
import logging

TRACEBACK = "Traceback (most recent call last)"
UNCAUGHT = "Uncaught exception in luigi"  # what luigi logs for any error before it schedules a task


class PipelineError(Exception):
    """Raised for bad input or a missing prerequisite; the message names the file, record or setting."""


def pipeline_error_names() -> set[str]:
    """The class names of PipelineError and every subclass defined so far."""
    names, pending = set(), [PipelineError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return names


def one_line(message: str) -> str | None:
    """A message that ends with a formatted traceback of a PipelineError (luigi writes those when
    ``complete()`` or ``requires()`` fails), as ``<headline>: <Error>: <its message>``; else None."""
    headline, found, trace = message.partition(TRACEBACK)
    names = pipeline_error_names()
    for line in reversed(trace.splitlines() if found else []):
        name, _, text = line.partition(": ")
        if name.rsplit(".", 1)[-1] in names and not line[:1].isspace():
            return f"{headline.rstrip().rstrip(':')}: {name.rsplit('.', 1)[-1]}: {text}"
    return None


class OneLineErrors(logging.Filter):
    """Turns a logged ``PipelineError`` traceback into one line that ends with its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, PipelineError):
            headline = record.getMessage()
            prefix = "" if headline == UNCAUGHT else f"{headline}: "  # a bad command line is no crash
            record.msg = f"{prefix}{type(error).__name__}: {error}"
            record.args = None
            record.exc_info = record.exc_text = None
        elif TRACEBACK in str(record.msg):
            shortened = one_line(record.getMessage())
            if shortened:
                record.msg, record.args = shortened, None
        return True
