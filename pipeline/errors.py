"""Errors whose message says everything a user needs: logged as one line, without a traceback."""
import logging
import re

TRACEBACK = "Traceback (most recent call last)"
DATE_FORMS = {"%Y": "YYYY", "%m": "MM", "%d": "DD"}
UNCAUGHT = "Uncaught exception in luigi"  # what luigi logs for any error before it schedules a task


class PipelineError(Exception):
    """Raised for bad input or a missing prerequisite; the message names the file, record or setting."""


def pipeline_error_names() -> set[str]:
    """The class names of PipelineError and luigi's ParameterException (a command line it cannot use: a missing
    --start of a range), and of every subclass defined so far."""
    from luigi.parameter import ParameterException

    names, pending = set(), [PipelineError, ParameterException]
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


def command_line_error(error) -> str | None:
    """One line for a command line luigi cannot use: a value a parameter cannot parse (``--start sync-day1``,
    found in the parsing frame of the traceback) or a missing or unknown parameter; else None."""
    from luigi.parameter import MissingParameterException, ParameterException

    missing = re.match(r"(\w+)\[.*\]: requires the '(\w+)' parameter", str(error))
    if isinstance(error, MissingParameterException) and missing:
        return f"{missing.group(1)} needs --{missing.group(2).replace('_', '-')} (see --help)"
    if isinstance(error, ParameterException):
        return f"{error} (see --help)"
    traceback = error.__traceback__ if isinstance(error, ValueError) else None
    while traceback is not None:
        frame = traceback.tb_frame
        if frame.f_code.co_name == "_get_task_kwargs" and "param_obj" in frame.f_locals:
            flag, value = "--" + frame.f_locals["param_name"].replace("_", "-"), frame.f_locals["attr"]
            date_format = getattr(frame.f_locals["param_obj"], "date_format", None)  # luigi's date parameters
            if date_format:
                expected = re.sub("%[Ymd]", lambda code: DATE_FORMS[code.group()], date_format)
                return f"{flag} {value!r} is not a date: expected {expected}"
            return f"{flag} {value!r} cannot be used: {error}"
        traceback = traceback.tb_next
    return None


class OneLineErrors(logging.Filter):
    """Turns a logged ``PipelineError`` traceback, or luigi's traceback of a command line it cannot use, into one
    line that ends with its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        bad_command_line = command_line_error(error) if record.msg == UNCAUGHT and error is not None \
            and not isinstance(error, PipelineError) else None
        if bad_command_line:
            record.msg, record.args = bad_command_line, None
            record.exc_info = record.exc_text = None
        elif isinstance(error, PipelineError):
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
