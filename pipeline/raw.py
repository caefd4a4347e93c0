"""Reading one raw sync day and sorting its records into valid records and rejects.

Layout of a day under the raw root::

    <raw root>/<YYYY-MM-DD>/agents/*.json          list pages: JSON arrays (who is active in this sync)
    <raw root>/<YYYY-MM-DD>/agent_details/*.json   detail responses: a JSON object or an array of them

The output folder gets three kinds of line-delimited part files that Spark reads with a fixed schema:
``valid-*.jsonl`` (valid records with where they came from), ``list_ids-*.jsonl`` (every id that the
list pages name, and whether that list record was valid) and ``rejects-*.jsonl`` (one row per invalid
record or unreadable details file, with every reason).
"""
import atexit
import json
import multiprocessing
import re
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.tables import CONTACT_FIELDS, RECORD_FIELDS
from pipeline.validation import DETAILS_SCHEMA, LIST_SCHEMA, check, readable_agent_id

LIST = "list"
DETAILS = "details"
FOLDERS = {LIST: "agents", DETAILS: "agent_details"}
SCHEMAS = {LIST: LIST_SCHEMA, DETAILS: DETAILS_SCHEMA}

VALIDATION_ERROR = "VALIDATION_ERROR"
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
        files += [RawFile(kind, folder_path / name, f"{day_dir.name}/{folder}/{name}", seq)
                  for seq, name in enumerate(names)]
    if not any(f.kind == LIST for f in files):
        raise RawInputError(
            f"{day_dir / FOLDERS[LIST]}: no list pages (*.json); without them every agent would look deactivated")
    return files


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(data: bytes):
    """Strict JSON: UTF-8 only, no NaN or Infinity."""
    return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)


def file_records(raw_file: RawFile) -> list:
    """The records of one file.

    Raises ValueError when it is not JSON, RawInputError for a list page that is not an array."""
    document = parse_json(raw_file.path.read_bytes())
    if raw_file.kind == LIST and not isinstance(document, list):
        raise RawInputError(f"{raw_file.path}: a list page must be a JSON array, found {type(document).__name__}")
    return document if isinstance(document, list) else [document]


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def reject_row(raw_file: RawFile, index: int | None, error_type: str, reasons: list[str], raw_record,
               agent_id) -> dict:
    return {
        "agent_id": agent_id,
        "source_file": raw_file.source_file,
        "record_index": index,
        "error_type": error_type,
        "error_message": "\n".join(reasons),
        "raw_record": _dumps(raw_record),
    }


def spark_fields(record: dict) -> dict:
    """The part of a valid record that the transform reads (the raw file keeps the rest)."""
    fields = {name: record.get(name) for name in RECORD_FIELDS}
    fields["id"] = readable_agent_id(record)  # 1.0 is a JSON Schema integer: written as 1 for Spark's bigint
    contact = record["contact"]
    fields["contact"] = {name: contact.get(name) for name in CONTACT_FIELDS}
    return fields


class _Outputs:
    """The three line-delimited output files of a day."""

    def __init__(self, valid, list_ids, rejects):
        self.valid, self.list_ids, self.rejects = valid, list_ids, rejects

    def write(self, stream, row: dict) -> None:
        stream.write(_dumps(row) + "\n")


PARALLEL_FROM_FILES = 200  # fewer files are validated in-process: starting workers would cost more


def validate_day(day_dir: Path, out_dir: Path, progress: Callable[[int, int, dict], None] = lambda *_: None,
                 workers: int = 1) -> dict:
    """Validate every record of a raw day into ``out_dir``; returns the counts.

    The files are dealt into chunks, each validated into its own part files (``valid-00003.jsonl`` …)
    by one of ``workers`` processes. Streams: a worker holds one raw file in memory at a time."""
    files = day_files(day_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = max(1, workers) if len(files) >= PARALLEL_FROM_FILES else 1
    chunk_count = 1 if workers == 1 else workers * 8  # several chunks per worker: progress as they finish
    chunks = [(files[n::chunk_count], out_dir, n) for n in range(chunk_count)]
    counts = dict.fromkeys(("records_read", "records_valid", "records_invalid", "parse_errors"), 0)
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
    Spawned, not forked: the parent may hold a JVM gateway and its threads."""
    if workers not in _pools:
        _pools[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        atexit.register(_pools[workers].shutdown)
    return _pools[workers]


def _validate_chunk(chunk) -> dict:
    return validate_files(*chunk)


def validate_files(files: list[RawFile], out_dir: Path, part: int) -> dict:
    """Validate ``files`` into the part files numbered ``part``; returns their counts."""
    counts = dict.fromkeys(("records_read", "records_valid", "records_invalid", "parse_errors"), 0)
    with ExitStack() as stack:
        streams = [stack.enter_context(open(out_dir / f"{name}-{part:05d}.jsonl", "w", encoding="utf-8"))
                   for name in ("valid", "list_ids", "rejects")]
        outputs = _Outputs(*streams)
        for raw_file in files:
            _validate_file(raw_file, outputs, counts)
    return counts


def _validate_file(raw_file: RawFile, outputs: _Outputs, counts: dict) -> None:
    try:
        records = file_records(raw_file)
    except (ValueError, UnicodeDecodeError) as error:  # json.JSONDecodeError is a ValueError
        if raw_file.kind == LIST:
            raise RawInputError(
                f"{raw_file.path}: list page is not valid JSON ({error}); refusing to load the day, "
                "since a lost page would wrongly deactivate its agents"
            ) from None
        counts["parse_errors"] += 1
        text = raw_file.path.read_bytes().decode("utf-8", errors="replace")
        reject = reject_row(raw_file, None, PARSE_ERROR, [f"$: not valid JSON: {error}"], text, None)
        outputs.write(outputs.rejects, reject)
        return
    schema = SCHEMAS[raw_file.kind]
    for index, record in enumerate(records):
        counts["records_read"] += 1
        reasons = check(record, schema)
        agent_id = readable_agent_id(record)
        if raw_file.kind == LIST and agent_id is not None:
            outputs.write(outputs.list_ids, {"agent_id": agent_id, "valid": not reasons})
        if reasons:
            counts["records_invalid"] += 1
            outputs.write(outputs.rejects, reject_row(raw_file, index, VALIDATION_ERROR, reasons, record, agent_id))
        else:
            counts["records_valid"] += 1
            valid = {"kind": raw_file.kind, "file_seq": raw_file.seq, "pos": index, "record": spark_fields(record)}
            outputs.write(outputs.valid, valid)
