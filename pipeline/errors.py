"""Errors whose message says everything a user needs: logged as one line, without a traceback."""
import errno
import logging
import os
import pwd
import re
from pathlib import Path

TRACEBACK = "Traceback (most recent call last)"
DATE_FORMS = {"%Y": "YYYY", "%m": "MM", "%d": "DD"}
UNCAUGHT = "Uncaught exception in luigi"  # what luigi logs for any error before it schedules a task


class PipelineError(Exception):
    """Raised for bad input or a missing prerequisite; the message names the file, record or setting."""


class NotWritable(PipelineError):
    """A file or folder cannot be written: the disk is full, or its file system is read-only or not writable by
    the user running the pipeline. The message names the path, the cause and the way out."""


NOT_WRITABLE = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)  # fixed outside the pipeline


def cause_in_words(code: int) -> str:
    """``no space left on device`` for ENOSPC, ``read-only file system`` for EROFS, ``permission denied`` …"""
    text = os.strerror(code)
    return text[:1].lower() + text[1:]


def errno_in_text(text: str, codes=NOT_WRITABLE) -> int | None:
    """The first of ``codes`` whose C library message (``No space left on device``) ``text`` holds: how a
    program that is not Python (a JVM, initdb) reports it."""
    return next((code for code in codes if os.strerror(code) in text), None)


def mount_point(path: Path) -> Path:
    """Where the file system that holds ``path`` (or would hold it: its nearest existing parent) is mounted."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    path = path.resolve()
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as mounts:  # also sees a folder bind-mounted on itself
            points = [Path(re.sub(r"\\([0-7]{3})", lambda octal: chr(int(octal.group(1), 8)), line.split()[4]))
                      for line in mounts]
        return max((point for point in points if path.is_relative_to(point)), key=lambda point: len(point.parts))
    except (OSError, ValueError, IndexError):
        while not os.path.ismount(path) and path != path.parent:
            path = path.parent
        return path


def user_name() -> str:
    """The name of the user this process runs as (``uid N`` when it has none, as in some containers)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def not_writable(error: BaseException, path: Path, action: str = "write", setting: str | None = None,
                 inside: tuple = ()) -> NotWritable | None:
    """``error`` as one line when it is an OSError that the user fixes outside the pipeline (a full disk, a
    read-only file system, a missing permission) met while writing ``path``; else None.

    ``action`` is what could not be done (``cannot write <path>``); ``setting``, the setting that chooses where
    ``path`` is, offered as the other way out. A missing permission counts only on ``path`` (or its temporary
    ``<path>-…`` twin, or what they hold), a path under one of the folders ``inside``, or an unnamed one: a
    file that the work reads is not written."""
    if not isinstance(error, OSError) or error.errno not in NOT_WRITABLE:
        return None
    code, path = error.errno, Path(path)
    failed = Path(error.filename) if isinstance(error.filename, str | os.PathLike) else None
    written = failed is None or str(failed).startswith(str(path))
    if code in (errno.EACCES, errno.EPERM) and not written and not any(failed.is_relative_to(f) for f in inside):
        return None
    where = path if written else failed  # the path, or where the work failed first (a lock file, a parent)
    user = user_name()
    if code == errno.ENOSPC:
        hint = f"the file system mounted on {mount_point(where)} is full: free space on it"
    elif code == errno.EDQUOT:
        hint = f"user {user} has used up its disk quota on {mount_point(where)}: free space or raise the quota"
    elif code == errno.EROFS:
        hint = f"the file system mounted on {mount_point(where)} is read-only: remount it read-write"
    else:
        hint = f"user {user} may not write in {where.parent}: give it write access"
    other = f" or set {setting} to another folder" if setting else ""
    return NotWritable(f"cannot {action} {path}: {cause_in_words(code)}{'' if written else f' ({failed})'};"
                       f" {hint}{other}, then run the same command again: it resumes where this run stopped")


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
