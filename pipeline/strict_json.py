"""Reading raw JSON strictly, and writing what was read so that PostgreSQL can always store it.

Strict: UTF-8 only (a leading UTF-8 byte order mark is skipped, as RFC 8259 allows), no NaN or
Infinity, no number beyond a double, no duplicate key in an object (reported, never last-wins),
no nesting deeper than the parser can follow.

Visible: PostgreSQL text cannot hold a NUL, and UTF-8 cannot hold a lone surrogate (``"\\ud800"``
is legal JSON). Rejected records and file names are written with such characters spelled out as
the six characters ``\\u0000`` / ``\\ud800``; invalid UTF-8 bytes of an unreadable file as ``\\xff``.
"""
import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import orjson

UTF8_BOM = b"\xef\xbb\xbf"
MAX_FILE_BYTES = 256 * 1024 * 1024  # a details page of 100 agents is about 200 KB
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# the JSON escape \u0000 (not itself escaped by a preceding backslash) in JSON text
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


class UnreadableFile(Exception):
    """A file that cannot be read as bytes: a folder, a broken link, too large, no permission."""


def read_bytes(path: str | Path, limit: int | None = None) -> bytes:
    """The file's bytes; UnreadableFile says in words why there are none. One open and one fstat: a
    day has one file per agent. Non-blocking, so that a named pipe is refused instead of waited on."""
    limit = MAX_FILE_BYTES if limit is None else limit
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except IsADirectoryError:
        raise UnreadableFile("a folder, not a file") from None
    except FileNotFoundError:
        raise UnreadableFile("a broken symbolic link" if os.path.islink(path) else "no such file") from None
    except OSError as error:
        raise UnreadableFile(f"cannot be read: {error.strerror or error}") from None
    try:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise UnreadableFile("a folder, not a file")
        if not stat.S_ISREG(status.st_mode):
            raise UnreadableFile("not a regular file")
        if status.st_size > limit:
            raise UnreadableFile(f"{status.st_size:,} bytes, more than the limit of {limit:,} bytes for one file")
        parts, size = [], 0
        while chunk := os.read(descriptor, max(status.st_size + 1 - size, 1 << 16)):  # to the end, as it is now
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                raise UnreadableFile(f"more than the limit of {limit:,} bytes for one file (it grew while read)")
        return b"".join(parts)
    except OSError as error:
        raise UnreadableFile(f"cannot be read: {error.strerror or error}") from None
    finally:
        os.close(descriptor)


@dataclass(frozen=True)
class DuplicateKey:
    """A key that appears more than once in one JSON object, with every value it was given."""

    owner: dict  # the parsed object (holding the last value); located in a record by identity
    key: str
    values: tuple


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:40]} is out of range")
    return number


def parse_json(data: bytes) -> tuple[object, list[DuplicateKey]]:
    """The document, and the duplicate keys found in it. ValueError when it is not strict JSON.

    orjson reads nearly every file; the standard library's parser, which reports duplicate keys and
    keeps integers of any size exact, reads the rest (see ``_fast_document``): both give the same
    document, and only the second gives the messages and duplicates of a file that is not strict JSON."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    document = _fast_document(data)
    if document is not _UNDECIDED:
        return document, []
    return _strict_document(data)


_UNDECIDED = object()
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19  # an integer orjson would read as a float has 20 digits or more (19 to be safe)


def _fast_document(data: bytes):
    """The document by orjson, when it is certainly the strict parser's document and has no duplicate key;
    otherwise _UNDECIDED. orjson refuses what the strict parser refuses (NaN, Infinity, an overflowing
    number, invalid UTF-8, a lone surrogate), but reads an integer beyond 64 bits as a float and keeps the
    last of two equal keys silently. A long digit run sends the text to the strict parser. A duplicate is
    ruled out by counting colons: each key has one, in the text and in orjson's compact rewrite, and so has
    each colon inside a string, unless the text writes it as ``\\u003a``. Equal counts mean no key was lost."""
    if (_LONG_NUMBER in data.translate(_DIGITS_AS_ZERO)) or b"\\u003a" in data or b"\\u003A" in data:
        return _UNDECIDED
    try:
        document = orjson.loads(data)
        rewritten = orjson.dumps(document)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # the strict parser says what is wrong
        return _UNDECIDED
    return document if data.count(b":") == rewritten.count(b":") else _UNDECIDED


def _strict_document(data: bytes) -> tuple[object, list[DuplicateKey]]:
    if not data.strip():
        raise ValueError("the file is empty" if not data else "the file holds only white space")
    duplicates = []

    def pairs_to_dict(pairs):
        obj = dict(pairs)
        if len(obj) != len(pairs):
            values = {}
            for key, value in pairs:
                values.setdefault(key, []).append(value)
            duplicates.extend(DuplicateKey(obj, key, tuple(found)) for key, found in values.items() if len(found) > 1)
        return obj

    try:
        text = data.decode("utf-8")
        document = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float,
                              object_pairs_hook=pairs_to_dict)
    except RecursionError:
        raise ValueError("nested too deeply to read") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8: {error.reason} at byte {error.start}") from None
    return document, duplicates


_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def may_hold_unstorable(data: bytes) -> bool:
    """Whether the strict JSON ``data`` may hold an unstorable character (a NUL, a lone surrogate): only the
    escapes ``\\u0000`` and ``\\udXXX`` can write them in valid UTF-8. A cheap look at a whole file; a hit
    is checked field by field."""
    return _UNSTORABLE_ESCAPE.search(data) is not None


def json_path(parts) -> str:
    """``$.contact.name``, ``$.group_ids[2]``, ``$['odd key']``: paths as jsonschema writes them."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.match(part):
            path += f".{part}"
        else:
            path += "[" + json.dumps(part, ensure_ascii=False) + "]"
    return path


def duplicate_keys(record, duplicates: list[DuplicateKey]) -> list[tuple[tuple, str]]:
    """For each duplicate key inside ``record``: its path (keys and indexes from the root) and a reason
    naming the path and every value."""
    if not duplicates:
        return []
    by_owner = {}
    for duplicate in duplicates:
        by_owner.setdefault(id(duplicate.owner), []).append(duplicate)
    found, stack = [], [(record, ())]
    while stack:  # iterative: a record may be nested too deeply for recursion
        value, path = stack.pop()
        if isinstance(value, dict):
            for duplicate in by_owner.get(id(value), []):
                shown = ", ".join(shorten(json_text(v)) for v in duplicate.values)
                found.append(((*path, duplicate.key),
                              f"{json_path(path)}: duplicate key {json_text(duplicate.key)} (values {shown})"))
            stack.extend((child, (*path, key)) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(value))
    return sorted(found, key=lambda item: item[1])


def duplicated_values(record, key: str, duplicates: list[DuplicateKey]) -> tuple | None:
    """Every value of ``key`` in the record's own object when the key is duplicated there, else None."""
    for duplicate in duplicates:
        if duplicate.owner is record and duplicate.key == key:
            return duplicate.values
    return None


def shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def json_text(value) -> str:
    """``value`` as compact JSON, with unstorable characters spelled out (see the module doc)."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except RecursionError:
        return json.dumps("(nested too deeply to write)")
    return visible_json(text)


def visible_text(text: str) -> str:
    """Plain text with NUL and lone surrogates spelled out: ``a\\x00b`` → ``a\\u0000b`` (six characters)."""
    return UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def visible_json(text: str) -> str:
    """JSON text whose string values hold NUL or lone surrogates, rewritten so that those values
    hold the spelled-out escape instead: PostgreSQL's jsonb refuses ``\\u0000`` and lone surrogates."""
    text = _NUL_ESCAPE.sub(lambda match: match.group(1) + "\\\\u0000", text)
    return re.sub(r"[\ud800-\udfff]", lambda match: f"\\\\u{ord(match.group()):04x}", text)


def visible_file_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 as ``\\xff``, NUL-free by construction."""
    if name.isascii():  # nearly every name: nothing to spell out
        return name
    return visible_text(os.fsencode(name).decode("utf-8", errors="backslashreplace"))


def visible_file_text(data: bytes, limit: int) -> str:
    """An unreadable file's content for ``raw_record``: invalid UTF-8 bytes as ``\\xff``, NUL spelled
    out, cut after ``limit`` characters with a note of the full size."""
    text = visible_text(data[:limit * 4].decode("utf-8", errors="backslashreplace"))
    if len(text) > limit:
        return text[:limit] + f"… (cut: the file has {len(data):,} bytes)"
    return text
