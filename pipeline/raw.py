"""Reading one raw sync day and sorting its records into valid records and rejects.

Layout of a day under the raw root::

    <raw root>/<YYYY-MM-DD>/agents/*.json          list pages: JSON arrays (who is active in this sync)
    <raw root>/<YYYY-MM-DD>/agent_details/*.json   detail responses: a JSON object or an array of them
    <raw root>/<YYYY-MM-DD>/_manifest.json         what ExtractAgents fetched, when it did (pipeline.manifest)

The output folder gets three kinds of Parquet part files (pipeline.handoff): the loaded fields of valid
records, the ids the list pages name, and the rejects with every reason.
"""
import atexit
import contextlib
import ctypes
import gc
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
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from pipeline.completeness import PageFacts, check_page_contents, check_page_numbers, refuse_strays
from pipeline.errors import PipelineError
from pipeline.handoff import PARTS, PartWriter, part_path
from pipeline.manifest import MANIFEST, check_files, check_page_records, fetch_error_rows, read_manifest
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
from pipeline.tables import HANDOFF_ORDER, RECORD_GROUPS, RECORD_PATHS
from pipeline.validation import DETAILS_SCHEMA, LIST_SCHEMA, check, readable_agent_id, unstorable_text

LIST = "list"
DETAILS = "details"
FOLDERS = {LIST: "agents", DETAILS: "agent_details"}
SCHEMAS = {LIST: LIST_SCHEMA, DETAILS: DETAILS_SCHEMA}

VALIDATION_ERROR = "VALIDATION_ERROR"
VALIDATION_WARNING = "VALIDATION_WARNING"
PARSE_ERROR = "PARSE_ERROR"
UNREAD_FILE = "UNREAD_FILE"


class RawInputError(PipelineError):
    """The day's raw input cannot be loaded safely; the message names the file."""


class RawFile(NamedTuple):  # a day may have a file per agent: a tuple is cheap to make and to send to a worker
    kind: str  # LIST or DETAILS
    path: str
    source_file: str  # path relative to the raw root, as stored in agent_pipeline_errors
    seq: int  # position of the file in natural name order within its folder: "later file name" wins ties


def natural_key(name: str) -> list:
    """Sort key that puts ``2.json`` before ``10.json``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class DayInventory(NamedTuple):
    """A raw day folder, listed once: what is read, what is not (and why), and the manifest."""

    files: list[RawFile]  # the list pages, then the details files, each in natural name order
    strays: list[str]  # entries of agents/ that are not list pages (*.json): the day is refused while there are any
    unread: list[tuple]  # rejects (handoff.REJECT_COLUMNS) for what is not read: an UNREAD_FILE or PARSE_ERROR row each
    manifest: dict | None  # _manifest.json, when ExtractAgents fetched the day


DAY_ENTRIES = (*FOLDERS.values(), MANIFEST)


def is_json_name(name: str) -> bool:
    return name.lower().endswith(".json")  # 1.JSON is a page too


def day_inventory(day_dir: Path) -> DayInventory:
    """List the day folder, ``agents/`` and ``agent_details/`` once. Refused (RawInputError): a day without both
    folders, without a list page, with a folder that cannot be listed, or with a list page that is a symbolic
    link to outside the raw root. Recorded, and the day loads: a details file that is such a link (PARSE_ERROR),
    and any entry that is not read (UNREAD_FILE): one in ``agent_details/`` not named ``*.json``, one in the day
    folder besides ``agents/``, ``agent_details/`` and ``_manifest.json``."""
    day = day_dir.name
    within = _link_boundaries(day_dir)
    files, strays, unread = [], [], []
    for entry in _listing(day_dir):
        if entry.name not in DAY_ENTRIES:
            unread.append(_unread(visible_file_name(f"{day}/{entry.name}"),
                                  f"the day folder holds only agents/, agent_details/ and {MANIFEST}"))
    for kind, folder in FOLDERS.items():
        folder_path = day_dir / folder
        if not folder_path.is_dir():
            raise RawInputError(f"{folder_path}: folder missing; a sync day needs agents/ and agent_details/")
        seq = 0
        for entry in sorted(_listing(folder_path), key=lambda entry: natural_key(entry.name)):
            source_file = visible_file_name(f"{day}/{folder}/{entry.name}")
            if not is_json_name(entry.name):
                if kind == LIST:
                    strays.append(visible_file_name(entry.name))
                else:
                    unread.append(_unread(source_file, "not named *.json"))
                continue
            if entry.is_symlink() and not _resolves_within(entry.path, within):
                if kind == LIST:
                    raise RawInputError(f"{entry.path}: list page is a symbolic link to a file outside the raw root;"
                                        " refusing to load the day: replace the link with the page itself")
                unread.append((None, source_file, None, PARSE_ERROR,
                               "$: not read: a symbolic link to a file outside the raw root", json_text("")))
                continue
            files.append(RawFile(kind, entry.path, source_file, seq))
            seq += 1
    if not any(f.kind == LIST for f in files):
        raise RawInputError(
            f"{day_dir / FOLDERS[LIST]}: no list pages (*.json); without them every agent would look deactivated")
    return DayInventory(files, strays, unread, read_manifest(day_dir))


def day_files(day_dir: Path) -> list[RawFile]:
    """The day's files that are read, list pages first (:func:`day_inventory`)."""
    return day_inventory(day_dir).files


def _listing(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as error:
        raise RawInputError(f"{folder}: cannot be listed ({error.strerror or error}); refusing to load the day,"
                            " since what it holds cannot be seen") from None


def _link_boundaries(day_dir: Path) -> tuple[str, ...]:
    """The folders a symbolic link in the day may point into: the raw root and the day folder, resolved."""
    return tuple(os.path.join(os.path.realpath(folder), "") for folder in (day_dir.parent, day_dir))


def _resolves_within(path: str, boundaries: tuple[str, ...]) -> bool:
    target = os.path.realpath(path)
    return any(target.startswith(boundary) for boundary in boundaries)


def _unread(source_file: str, why: str) -> tuple:
    return (None, source_file, None, UNREAD_FILE, f"$: not read: {why}", json_text(""))


def file_records(raw_file: RawFile, data: bytes) -> tuple[list, list]:
    """The records of one file's ``data``, and the duplicate keys found in it.

    Raises ValueError when it is not strict JSON, RawInputError for a list page that is not an array."""
    document, duplicates = parse_json(data)
    if raw_file.kind == LIST and not isinstance(document, list):
        raise RawInputError(f"{raw_file.path}: a list page must be a JSON array, found {type(document).__name__}")
    return (document if isinstance(document, list) else [document]), duplicates


PARSE_ERROR_TEXT_LIMIT = 1 << 20  # characters of an unreadable file kept in raw_record


def reject_row(raw_file: RawFile, index: int | None, error_type: str, reasons: list[str], raw_json: str,
               agent_id) -> tuple:
    """One row of agent_pipeline_errors (handoff.REJECT_COLUMNS); ``raw_json`` is the record as JSON text
    (strict_json.json_text)."""
    return (agent_id, raw_file.source_file, index, error_type, visible_text("\n".join(reasons)), raw_json)


def _group_getter(keys: tuple):
    """A function of an object giving the values of ``keys`` as a tuple (KeyError if one is missing)."""
    if len(keys) == 1:
        return lambda holder: (holder[keys[0]],)
    return itemgetter(*keys)


LOADED_GROUPS = tuple((parent, _group_getter(tuple(RECORD_PATHS[column][-1] for column in columns)))
                      for parent, columns in RECORD_GROUPS.items())
AGENT_ID_AT = HANDOFF_ORDER.index("agent_id")


def loaded_fields(record: dict) -> tuple[list, list]:
    """The values of a valid record's loaded fields (in tables.HANDOFF_ORDER; the raw file keeps the rest) and
    ``absent``: the columns whose key the record does not have (absent is not null). ``agent_id`` is
    written as an int: 1.0 is a JSON Schema integer."""
    values = []
    try:
        for parent, getter in LOADED_GROUPS:
            holder = record
            for key in parent:
                holder = holder[key]
            values.extend(getter(holder))
        absent = []
    except (KeyError, TypeError, IndexError):  # a key, or the object holding it, is missing: field by field
        values, absent = _fields_one_by_one(record)
    if type(values[AGENT_ID_AT]) is not int:
        values[AGENT_ID_AT] = readable_agent_id(record)
    return values, absent


def _fields_one_by_one(record: dict) -> tuple[list, list]:
    values, absent = [], []
    for column in HANDOFF_ORDER:
        try:
            value = record
            for key in RECORD_PATHS[column]:
                value = value[key]
        except (KeyError, TypeError, IndexError):
            absent.append(column)
            value = None
        values.append(value)
    return values, absent


class _Outputs:
    """The three part files of a chunk (handoff.PARTS)."""

    def __init__(self, out_dir: Path, part: int, stack: ExitStack):
        self.valid, self.list_ids, self.rejects = (
            stack.enter_context(PartWriter(part_path(out_dir, name, part), columns)) for name, columns in PARTS.items())


PARALLEL_FROM_FILES = 200  # fewer files are validated in-process: starting workers would cost more
FILES_PER_CHUNK = 2000


COUNTS = ("records_read", "records_valid", "records_invalid", "records_warned", "parse_errors", "list_records")


def validate_day(day_dir: Path, out_dir: Path, progress: Callable[[int, int, dict], None] = lambda *_: None,
                 workers: int = 1, accept_incomplete: bool = False) -> dict:
    """Validate every record of a raw day into ``out_dir``; returns the counts.

    A day whose ``agents/`` holds anything but list pages, whose list page names cannot be numbered or have a
    gap, or that does not match its ``_manifest.json``, is refused unless ``accept_incomplete``; what is not
    read (day_inventory) and the manifest's failed details calls become rejects.
    The files are dealt into chunks, each validated into its own part files (``valid-00003.jsonl`` …)
    by one of ``workers`` processes. Streams: a worker holds one raw file in memory at a time."""
    inventory = day_inventory(day_dir)
    files, manifest, unread = inventory.files, inventory.manifest, list(inventory.unread)
    if accept_incomplete:  # let through: what is not a page is not read, and said so
        unread += [_unread(visible_file_name(f"{day_dir.name}/{FOLDERS[LIST]}/{name}"), "not named *.json")
                   for name in inventory.strays]
    else:
        refuse_strays(day_dir.name, day_dir / FOLDERS[LIST], inventory.strays)
        list_pages = [os.path.basename(f.path) for f in files if f.kind == LIST]
        page_order = check_page_numbers(day_dir.name, day_dir / FOLDERS[LIST], list_pages)
        if manifest:
            check_files(day_dir, manifest, list_pages, sum(f.kind == DETAILS for f in files))
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = max(1, workers) if len(files) >= PARALLEL_FROM_FILES else 1
    # Several chunks per worker on a large day, for progress as they finish; few part files on a small one.
    chunk_count = 1 if workers == 1 else max(workers, min(workers * 8, len(files) // FILES_PER_CHUNK))
    chunks = [(files[n::chunk_count], out_dir, n) for n in range(chunk_count)]
    counts = dict.fromkeys(COUNTS, 0)
    pages = PageFacts({}, {}, [])
    done = 0

    def add(chunk_files, chunk_counts):
        nonlocal done
        done += len(chunk_files)
        chunk_pages = chunk_counts.pop("pages")
        pages.records.update(chunk_pages.records)
        pages.agents.update(chunk_pages.agents)
        pages.unidentified.extend(chunk_pages.unidentified)
        for key, value in chunk_counts.items():
            counts[key] += value
        progress(done, len(files), counts)

    if workers == 1:
        add(files, validate_files(*chunks[0]))
    else:
        with validation_pool(workers) as pool:
            for chunk, chunk_counts in zip(chunks, pool.map(_validate_chunk, chunks), strict=True):
                add(chunk[0], chunk_counts)
    if not accept_incomplete:
        check_page_contents(day_dir.name, day_dir / FOLDERS[LIST], page_order, pages)
        if manifest:
            check_page_records(day_dir, manifest, pages.records)
    fetch_errors = fetch_error_rows(day_dir.name, manifest) if manifest else []
    write_rejects(out_dir, chunk_count, unread + fetch_errors)
    counts["parse_errors"] += sum(row[3] == PARSE_ERROR for row in unread)
    counts["files_unread"] = sum(row[3] == UNREAD_FILE for row in unread)
    if manifest:
        counts["fetch_errors"] = len(fetch_errors)
    return {"files_read": len(files), **counts}


def write_rejects(out_dir: Path, part: int, rows: list[tuple]) -> int:
    """Rejects that come from no file's records (handoff.REJECT_COLUMNS) as part files numbered ``part``."""
    if rows:
        with ExitStack() as stack:
            outputs = _Outputs(out_dir, part, stack)
            for agent_id, source_file, index, error_type, message, raw_json in rows:
                outputs.rejects.write((agent_id, source_file, index, error_type, visible_text(message), raw_json))
    return len(rows)


_pools = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    """The process's validation workers, started once and kept for the next days of a backfill.
    Spawned, not forked: the parent may hold a JVM gateway and its threads. They exit when it dies."""
    if workers not in _pools:
        _pools[workers] = _new_pool(workers)
        atexit.register(_pools[workers].shutdown)
    return _pools[workers]


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=exit_with_parent,
                               initargs=(os.getpid(),))


@contextlib.contextmanager
def validation_pool(workers: int):
    """The process's pool; in a task process of ``--workers N`` (which ends with its task, runs no atexit handler
    and joins its children first) a pool of its own, shut down when the day is validated."""
    if multiprocessing.parent_process() is None:
        try:
            yield _pool(workers)
        except BrokenProcessPool:  # a worker died: the next day starts a new pool
            if workers in _pools:
                _pools.pop(workers).shutdown()
            raise
        return
    with _new_pool(workers) as pool:
        yield pool


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
    counts = dict.fromkeys(COUNTS, 0) | {"pages": PageFacts({}, {}, [])}
    with ExitStack() as stack:
        stack.enter_context(_fewer_collections())
        outputs = _Outputs(out_dir, part, stack)
        for raw_file in files:
            _validate_file(raw_file, outputs, counts)
    return counts


@contextlib.contextmanager
def _fewer_collections(first_generation: int = 50_000):
    """Python's cycle collector runs every 700 new objects by default, and each run walks the rows a part
    file holds before its next row group: a quarter of the validation time. Parsed records hold no cycles."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(first_generation, thresholds[0]), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


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
        outputs.rejects.write(reject_row(raw_file, None, PARSE_ERROR, [reason], json_text(text), None))
        return
    listed = [] if raw_file.kind == LIST else None  # the agent ids the page names
    schema = SCHEMAS[raw_file.kind]
    unstorable_possible = may_hold_unstorable(data)  # rare: then each record's loaded text is looked at
    for index, record in enumerate(records):
        counts["records_read"] += 1
        counts["list_records"] += raw_file.kind == LIST
        verdict = check(record, schema, duplicate_keys(record, duplicates))
        errors = verdict.errors
        if errors or unstorable_possible:
            errors = sorted(errors + unstorable_text(record))
        agent_ids = record_agent_ids(record, duplicates)
        if listed is not None:
            for agent_id in agent_ids:
                outputs.list_ids.write((agent_id, not errors))
            listed += agent_ids
            if not agent_ids:
                counts["pages"].unidentified.append((raw_file.source_file, index))
        agent_id = agent_ids[0] if len(agent_ids) == 1 else None
        if errors:  # rejected: the row names every reason, warnings included
            counts["records_invalid"] += 1
            outputs.rejects.write(reject_row(raw_file, index, VALIDATION_ERROR, sorted(errors + verdict.warnings),
                                             json_text(record), agent_id))
            continue
        counts["records_valid"] += 1
        values, absent = loaded_fields(record)
        outputs.valid.write((raw_file.kind, raw_file.seq, index, *values, absent))
        if verdict.warnings:  # loaded: only fields the pipeline does not load break the contract
            counts["records_warned"] += 1
            outputs.rejects.write(reject_row(raw_file, index, VALIDATION_WARNING, verdict.warnings,
                                             json_text(record), agent_id))
    if listed is not None:
        name = os.path.basename(raw_file.path)
        counts["pages"].records[name] = len(records)
        counts["pages"].agents[name] = hash(tuple(sorted(listed))) if listed else None


def record_agent_ids(record, duplicates) -> list[int]:
    """The agent ids a record names: one, none, or (with a duplicated ``id`` key) every readable one,
    so that an invalid list record quarantines each agent it might be."""
    if not duplicates:
        agent_id = readable_agent_id(record)
        return [] if agent_id is None else [agent_id]
    values = duplicated_values(record, "id", duplicates)
    candidates = [{"id": value} for value in values] if values else [record]
    return sorted({agent_id for agent_id in map(readable_agent_id, candidates) if agent_id is not None})
