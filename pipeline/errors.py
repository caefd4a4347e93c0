"""Errors whose message says everything a user needs: logged as one line, without a traceback."""
import logging


class PipelineError(Exception):
    """Raised for bad input or a missing prerequisite; the message names the file, record or setting."""


class OneLineErrors(logging.Filter):
    """Turns a logged ``PipelineError`` traceback into one line that ends with its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, PipelineError):
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {error}"
            record.args = None
            record.exc_info = record.exc_text = None
        return True
