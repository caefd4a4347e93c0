"""Reading one raw sync day and sorting its records into valid records and rejects.

Layout of a day under the raw root::

    <raw root>/<YYYY-MM-DD>/agents/*.json          list pages: JSON arrays (who is active in this sync)
    <raw root>/<YYYY-MM-DD>/agent_details/*.json   detail responses: a JSON object or an array of them

The output folder gets three kinds of line-delimited part files that Spark reads with a fixed schema:
``valid-*.jsonl`` (the loaded fields of valid records, with where they came from and which keys they
lack), ``list_ids-*.jsonl`` (every id that the list pages name, and whether that list record was valid)
and ``rejects-*.jsonl`` (one row per invalid record, per record loaded with a warning, and per unreadable
details file, with every reason).
"""
import atexit
import contextlib
import ctypes
import json
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from pipeline.completeness import check_page_numbers
from pipeline.errors import PipelineError
from pipeline.strict_json import (
    UnreadableFile,
    duplicate_keys,
    duplicated_values,
    json_text,
    may_hold_unstorable,
    parse_json,
    read_bytes,
    visible_file_name,
    visible_file_text,
    visible_text,
)
from pipeline.tables import RECORD_PATHS
from pipeline.validation import DETAILS_SCHEMA, LIST_SCHEMA, check, readable_agent_id, unstorable_text

LIST = "list"
DETAILS = "details"
FOLDERS = {LIST: "agents", DETAILS: "agent_details"}
SCHEMAS = {LIST: LIST_SCHEMA, DETAILS: DETAILS_SCHEMA}

VALIDATION_ERROR = "VALIDATION_ERROR"
VALIDATION_WARNING = "VALIDATION_WARNING"
PARSE_ERROR = "PARSE_ERROR"


class RawInputError(PipelineError):
    """The day's raw input cannot be loaded safely; the message names the file."""


@dataclass(frozen=True)
class RawFile:
    kind: str  # LIST or DETAILS
    path: Path
    source_file: str  # path relative to the raw root, as stored in agent_pipeline_errors
    seq: int  # position of the file in natural name order within its folder: "later file name" wins ties


def natural_key(name: str) -> list:
    """Sort key that puts ``2.json`` before ``10.json``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def day_files(day_dir: Path) -> list[RawFile]:
    """The day's JSON files, list pages first. A day without both folders, or without a list page, is refused."""
    files = []
    for kind, folder in FOLDERS.items():
        folder_path = day_dir / folder
        if not folder_path.is_dir():
            raise RawInputError(f"{folder_path}: folder missing; a sync day needs agents/ and agent_details/")
        names = sorted((p.name for p in folder_path.glob("*.json")), key=natural_key)
        files += [RawFile(kind, folder_path / name, visible_file_name(f"{day_dir.name}/{folder}/{name}"), seq)
                  for seq, name in enumerate(names)]
    if not any(f.kind == LIST for f in files):
        raise RawInputError(
            f"{day_dir / FOLDERS[LIST]}: no list pages (*.json); without them every agent would look deactivated")
    return files


def file_records(raw_file: RawFile, data: bytes) -> tuple[list, list]:
    """The records of one file's ``data``, and the duplicate keys found in it.

    Raises ValueError when it is not strict JSON, RawInputError for a list page that is not an array."""
    document, duplicates = parse_json(data)
    if raw_file.kind == LIST and not isinstance(document, list):
        raise RawInputError(f"{raw_file.path}: a list page must be a JSON array, found {type(document).__name__}")
    return (document if isinstance(document, list) else [document]), duplicates


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


PARSE_ERROR_TEXT_LIMIT = 1 << 20  # characters of an unreadable file kept in raw_record


def reject_row(raw_file: RawFile, index: int | None, error_type: str, reasons: list[str], raw_json: str,
               agent_id) -> dict:
    """One row of agent_pipeline_errors; ``raw_json`` is the record as JSON text (strict_json.json_text)."""
    return {
        "agent_id": agent_id,
        "source_file": raw_file.source_file,
        "record_index": index,
        "error_type": error_type,
        "error_message": visible_text("\n".join(reasons)),
        "raw_record": raw_json,
    }


def loaded_fields(record: dict) -> dict:
    """The fields of a valid record that the transform reads, one column each (the raw file keeps the
    rest), and ``absent``: the columns whose key the record does not have (absent is not null)."""
    row, absent = {}, []
    for column, path in RECORD_PATHS.items():
        value = record
        for key in path:
            if not isinstance(value, dict) or key not in value:
                absent.append(column)
                value = None
                break
            value = value[key]
        row[column] = value
    row["agent_id"] = readable_agent_id(record)  # 1.0 is a JSON Schema integer: written as 1 for Spark's bigint
    row["absent"] = absent
    return row


class _Outputs:
    """The three line-delimited output files of a day."""

    def __init__(self, valid, list_ids, rejects):
        self.valid, self.list_ids, self.rejects = valid, list_ids, rejects

    def write(self, stream, row: dict) -> None:
        stream.write(_dumps(row) + "\n")


PARALLEL_FROM_FILES = 200  # fewer files are validated in-process: starting workers would cost more


COUNTS = ("records_read", "records_valid", "records_invalid", "records_warned", "parse_errors", "list_records")


def validate_day(day_dir: Path, out_dir: Path, progress: Callable[[int, int, dict], None] = lambda *_: None,
                 workers: int = 1, accept_incomplete: bool = False) -> dict:
    """Validate every record of a raw day into ``out_dir``; returns the counts.

    A day whose numbered list pages have a gap is refused unless ``accept_incomplete``.
    The files are dealt into chunks, each validated into its own part files (``valid-00003.jsonl`` …)
    by one of ``workers`` processes. Streams: a worker holds one raw file in memory at a time."""
    files = day_files(day_dir)
    if not accept_incomplete:
        check_page_numbers(day_dir.name, day_dir / FOLDERS[LIST], [f.path.name for f in files if f.kind == LIST])
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = max(1, workers) if len(files) >= PARALLEL_FROM_FILES else 1
    chunk_count = 1 if workers == 1 else workers * 8  # several chunks per worker: progress as they finish
    chunks = [(files[n::chunk_count], out_dir, n) for n in range(chunk_count)]
    counts = dict.fromkeys(COUNTS, 0)
    done = 0

    def add(chunk_files, chunk_counts):
        nonlocal done
        done += len(chunk_files)
        for key, value in chunk_counts.items():
            counts[key] += value
        progress(done, len(files), counts)

    if workers == 1:
        add(files, validate_files(*chunks[0]))
    else:
        try:
            for chunk, chunk_counts in zip(chunks, _pool(workers).map(_validate_chunk, chunks), strict=True):
                add(chunk[0], chunk_counts)
        except BrokenProcessPool:
            _pools.pop(workers).shutdown()
            raise
    return {"files_read": len(files), **counts}


_pools = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    """The process's validation workers, started once and kept for the next days of a backfill.
    Spawned, not forked: the parent may hold a JVM gateway and its threads. They exit when it dies."""
    if workers not in _pools:
        _pools[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                              initializer=exit_with_parent, initargs=(os.getpid(),))
        atexit.register(_pools[workers].shutdown)
    return _pools[workers]


def exit_with_parent(parent_pid: int, poll_seconds: float = 0.5) -> None:
    """Make this worker exit when ``parent_pid`` dies, even by ``kill -9``: a pool worker otherwise
    waits forever on a queue whose writing end it holds itself. Linux delivers SIGKILL at once
    (PR_SET_PDEATHSIG); a watcher thread covers other systems and the start-up race."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _validate_chunk(chunk) -> dict:
    return validate_files(*chunk)


def validate_files(files: list[RawFile], out_dir: Path, part: int) -> dict:
    """Validate ``files`` into the part files numbered ``part``; returns their counts."""
    counts = dict.fromkeys(COUNTS, 0)
    with ExitStack() as stack:
        streams = [stack.enter_context(open(out_dir / f"{name}-{part:05d}.jsonl", "w", encoding="utf-8"))
                   for name in ("valid", "list_ids", "rejects")]
        outputs = _Outputs(*streams)
        for raw_file in files:
            _validate_file(raw_file, outputs, counts)
    return counts


def _validate_file(raw_file: RawFile, outputs: _Outputs, counts: dict) -> None:
    data = None
    try:
        data = read_bytes(raw_file.path)
        records, duplicates = file_records(raw_file, data)
    except (UnreadableFile, ValueError) as error:  # json.JSONDecodeError is a ValueError
        if raw_file.kind == LIST:
            problem = "cannot be read" if isinstance(error, UnreadableFile) else "is not valid JSON"
            raise RawInputError(
                f"{raw_file.path}: list page {problem} ({error}); refusing to load the day, "
                "since a lost page would wrongly deactivate its agents"
            ) from None
        counts["parse_errors"] += 1
        if data is None:
            reason, text = f"$: not a readable file: {error}", ""
        else:
            reason, text = f"$: not valid JSON: {error}", visible_file_text(data, PARSE_ERROR_TEXT_LIMIT)
        outputs.write(outputs.rejects, reject_row(raw_file, None, PARSE_ERROR, [reason], json_text(text), None))
        return
    schema = SCHEMAS[raw_file.kind]
    for index, record in enumerate(records):
        counts["records_read"] += 1
        counts["list_records"] += raw_file.kind == LIST
        verdict, valid_line = check(record, schema, duplicate_keys(record, duplicates)), None
        errors = verdict.errors
        if errors:
            errors = sorted(errors + unstorable_text(record))
        else:
            valid_line = _dumps({"kind": raw_file.kind, "file_seq": raw_file.seq, "pos": index,
                                 **loaded_fields(record)})
            if may_hold_unstorable(valid_line):  # rare: then look field by field
                errors = unstorable_text(record)
        agent_ids = record_agent_ids(record, duplicates)
        if raw_file.kind == LIST:
            for agent_id in agent_ids:
                outputs.write(outputs.list_ids, {"agent_id": agent_id, "valid": not errors})
        agent_id = agent_ids[0] if len(agent_ids) == 1 else None
        if errors:  # rejected: the row names every reason, warnings included
            counts["records_invalid"] += 1
            outputs.write(outputs.rejects, reject_row(raw_file, index, VALIDATION_ERROR,
                                                      sorted(errors + verdict.warnings), json_text(record), agent_id))
            continue
        counts["records_valid"] += 1
        outputs.valid.write(valid_line + "\n")
        if verdict.warnings:  # loaded: only fields the pipeline does not load break the contract
            counts["records_warned"] += 1
            outputs.write(outputs.rejects, reject_row(raw_file, index, VALIDATION_WARNING, verdict.warnings,
                                                      json_text(record), agent_id))


def record_agent_ids(record, duplicates) -> list[int]:
    """The agent ids a record names: one, none, or (with a duplicated ``id`` key) every readable one,
    so that an invalid list record quarantines each agent it might be."""
    values = duplicated_values(record, "id", duplicates)
    candidates = [{"id": value} for value in values] if values else [record]
    return sorted({agent_id for agent_id in map(readable_agent_id, candidates) if agent_id is not None})
