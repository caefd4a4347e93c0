"""JSON Schema validation of single Freshdesk agent records: pure functions, no I/O but the schema files."""
import json
import re
from dataclasses import dataclass
from functools import cache, partial

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from pipeline.resources import resource_dir
from pipeline.strict_json import UNSTORABLE
from pipeline.tables import RECORD_FIELDS, RECORD_PATHS

LIST_SCHEMA = "agent.schema.json"
DETAILS_SCHEMA = "agent_details.schema.json"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
WIDE_OFFSET = re.compile(r"[+-](?:1[6-9]|2[0-3]):[0-5]\d$")  # a UTC offset PostgreSQL cannot store


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    if "date-time" not in checker.checkers:  # jsonschema checks date-time only with rfc3339-validator installed
        raise RuntimeError("rfc3339-validator is not installed: timestamps would not be checked")

    rfc3339, raises = checker.checkers["date-time"]

    @checker.checks("date-time", raises=raises)
    def is_storable_date_time(instance) -> bool:
        # RFC 3339 allows UTC offsets up to ±23:59; PostgreSQL stores them up to ±15:59
        return rfc3339(instance) and not (isinstance(instance, str) and WIDE_OFFSET.search(instance))

    @checker.checks("email")
    def is_email(instance) -> bool:
        # jsonschema's own check only asks for an '@'; an address needs a local part and a dotted domain.
        return not isinstance(instance, str) or bool(_EMAIL.match(instance))

    return checker


@cache
def schemas() -> dict:
    """Every schema file of the folder, by file name (its ``$id``)."""
    return {
        entry.name: json.loads(entry.read_text(encoding="utf-8"))
        for entry in resource_dir("schemas").iterdir()
        if entry.name.endswith(".schema.json")
    }


def registry_of(schemas_by_name: dict) -> Registry:
    """Every schema of ``schemas_by_name``, available to ``$ref`` by file name."""
    return Registry().with_resources((name, Resource.from_contents(schema)) for name, schema in schemas_by_name.items())


@cache
def registry() -> Registry:
    """Every schema of the folder, available to ``$ref`` by file name."""
    return registry_of(schemas())


@cache
def validator_for(schema_name: str) -> Draft202012Validator:
    """A validator for one schema file. Refuses a schema that does not declare every loaded field."""
    schema = schemas()[schema_name]
    Draft202012Validator.check_schema(schema)
    undeclared = undeclared_paths(schema_name)
    if undeclared:
        raise RuntimeError(f"schemas/{schema_name} does not declare {', '.join(undeclared)}, which"
                           " pipeline/tables.py loads: declare them in the schema or stop loading them")
    return Draft202012Validator(schema, registry=registry(), format_checker=_format_checker())


class _FormatResults(dict):
    """One format check's results by value, computed on first sight: a record repeats its timestamps, and
    a day its e-mail domains' shapes. Emptied when it holds ``limit`` values, so that memory stays bounded."""

    def __init__(self, conforms, limit: int = 1 << 16):
        super().__init__()
        self.conforms, self.limit = conforms, limit

    def __missing__(self, value) -> bool:
        if len(self) >= self.limit:
            self.clear()
        result = self[value] = self.conforms(value)
        return result


@cache
def fast_check_for(schema_name: str):
    """The same schema compiled by jsonschema-rs, with the same format checks: a fast pass/fail decision
    (``is_valid``). The schema files are its registry, as they are jsonschema's."""
    validator_for(schema_name)  # the same checks of the schema itself
    checker = _format_checker()
    formats = {name: _FormatResults(partial(checker.conforms, format=name)).__getitem__
               for name in ("date-time", "email")}
    return jsonschema_rs.validator_for(schemas()[schema_name], registry=jsonschema_rs.Registry(schemas().items()),
                                       formats=formats, validate_formats=True).is_valid


@dataclass(frozen=True)
class Verdict:
    """What a record's check found: ``errors`` reject it; ``warnings`` (violations confined to fields the
    pipeline does not load) are recorded, and the record loads."""

    errors: list[str]
    warnings: list[str]


def check(record, schema_name: str, duplicate_keys=()) -> Verdict:
    """Every violation of ``record`` as ``path: message`` lines, sorted into errors and warnings.

    ``duplicate_keys``: ``(path, reason)`` of each key that the record has twice (strict_json.duplicate_keys).
    The compiled check decides; only a record it rejects (or cannot take) is run through jsonschema, which
    names every violation (and has the last word: a record it finds no fault with is valid)."""
    try:
        if _passes(fast_check_for(schema_name), record):
            if not duplicate_keys:
                return _VALID
            found = []
        else:
            found = [(violation_path(error), reason(error)) for error in validator_for(schema_name).iter_errors(record)]
    except RecursionError:
        found = [((), "$: nested too deeply to check")]
    found += duplicate_keys
    return Verdict(errors=sorted(text for path, text in found if touches_loaded_field(path)),
                   warnings=sorted(text for path, text in found if not touches_loaded_field(path)))


_VALID = Verdict(errors=[], warnings=[])


def _passes(is_valid, record) -> bool:
    try:
        return is_valid(record)
    except (ValueError, OverflowError, RecursionError):  # e.g. nested deeper than the compiled check follows
        return False


LOADED_PATHS = tuple(RECORD_PATHS.values())


def touches_loaded_field(path: tuple) -> bool:
    """Whether a violation at ``path`` (keys and indexes from the record's root) concerns a loaded field:
    it is one, lies inside one, or holds one (the record itself, ``contact``)."""
    return any(path[:len(loaded)] == loaded or loaded[:len(path)] == path for loaded in LOADED_PATHS)


def violation_path(error) -> tuple:
    """Where a violation is: for a missing required key, the key itself, not the object that lacks it."""
    path = tuple(error.absolute_path)
    missing = required_key(error)
    return path if missing is None else (*path, missing)


def required_key(error):
    """The key a ``required`` violation is about (jsonschema names it only in its message)."""
    if error.validator != "required" or not isinstance(error.instance, dict):
        return None
    return next((key for key in error.validator_value
                 if key not in error.instance and error.message == f"{key!r} is a required property"), None)


def reason(error) -> str:
    """``path: message`` with every value in JSON terms: ``$.id: null is not of type "integer"``."""
    return f"{error.json_path}: {json_message(error)}"


def json_message(error) -> str:
    """jsonschema's message for the rules the schemas use, with JSON values instead of Python reprs."""
    value, rule, expected = short_json(error.instance), error.validator, error.validator_value
    if rule == "type":
        types = expected if isinstance(expected, list) else [expected]
        return f"{value} is not of type {', '.join(map(json.dumps, types))}"
    if rule == "required":
        return f"{json.dumps(required_key(error), ensure_ascii=False)} is a required property"
    if rule == "format":
        if expected == "date-time" and isinstance(error.instance, str) and WIDE_OFFSET.search(error.instance):
            return f"{value} is not a {json.dumps(expected)} PostgreSQL can store (its UTC offset is beyond ±15:59)"
        return f"{value} is not a {json.dumps(expected)}"
    if rule in ("minimum", "maximum"):
        return f"{value} is {'less' if rule == 'minimum' else 'greater'} than the {rule} of {short_json(expected)}"
    if rule == "minLength" and expected == 1:
        return f"{value} should be non-empty"
    if rule in ("enum", "const"):
        return f"{value} is not {'one of ' if rule == 'enum' else ''}{short_json(expected)}"
    python_value = repr(error.instance)  # any other rule: jsonschema's words, the value as JSON
    return value + error.message[len(python_value):] if error.message.startswith(python_value) else error.message


def short_json(value, limit: int = 40) -> str:
    """``value`` as it reads in JSON, shortened for a message: ``null``, ``true``, ``"yes"``, ``12345``,
    ``[1, 2, 3, …]``, ``{"a": 1, …}``, a long string cut with ``…``."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= limit else text[:max(limit - 2, 2)] + '…"'
    if not isinstance(value, (list, dict)):
        return json.dumps(value, allow_nan=True)
    opening, closing = "[]" if isinstance(value, list) else "{}"
    if limit < 8:
        return opening + ("…" if value else "") + closing
    items = (short_json(item, limit // 2) for item in value) if isinstance(value, list) else (
        f"{short_json(str(key), limit // 2)}: {short_json(item, limit // 2)}" for key, item in value.items())
    shown, length = [], 2
    for count, item in enumerate(items):
        if shown and length + len(item) + 2 > limit:
            shown.append("…")
            break
        shown.append(item)
        length += len(item) + 2
        if count + 1 == len(value):
            break
    return opening + ", ".join(shown) + closing


def undeclared_paths(schema_name: str, schemas_by_name: dict | None = None) -> list[str]:
    """The loaded fields (tables.RECORD_FIELDS) whose path the schema does not declare under ``properties``
    (following ``$ref`` and ``allOf``): each loaded field must be part of the written contract.
    ``schemas_by_name``: the schema files (by default, the folder's)."""
    def declares(subschema, resolver, keys) -> bool:
        if not keys:
            return True
        if not isinstance(subschema, dict):
            return False
        if "$ref" in subschema:
            resolved = resolver.lookup(subschema["$ref"])
            if declares(resolved.contents, resolved.resolver, keys):
                return True
        if any(declares(part, resolver, keys) for part in subschema.get("allOf", [])):
            return True
        properties = subschema.get("properties", {})
        return keys[0] in properties and declares(properties[keys[0]], resolver, keys[1:])

    schemas_by_name = schemas() if schemas_by_name is None else schemas_by_name
    resolver = registry_of(schemas_by_name).resolver(base_uri=schema_name)
    return [".".join(path) for path in LOADED_PATHS if not declares(schemas_by_name[schema_name], resolver, path)]


LOADED_TEXT_FIELDS = tuple(RECORD_PATHS[column] for column, (_, kind) in RECORD_FIELDS.items() if kind == "string")


def unstorable_text(record) -> list[str]:
    """A reason for each loaded text field holding a NUL or a lone surrogate: PostgreSQL cannot store
    the first, UTF-8 cannot encode the second."""
    reasons = []
    for path in LOADED_TEXT_FIELDS:
        value = record
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            found = UNSTORABLE.search(value)
            if found:
                character = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
                reasons.append(f"$.{'.'.join(path)}: contains {character} (\\u{ord(found.group()):04x}),"
                               " which PostgreSQL cannot store")
    return reasons


def violations(record, validator: Draft202012Validator) -> list[str]:
    """Every violation of ``record``, as sorted ``path: message`` lines (empty when valid)."""
    return sorted(map(reason, validator.iter_errors(record)))


BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


def readable_agent_id(record):
    """The record's id as an int when it can be read as one (``123``, ``"123"``, ``123.0``) and fits a BIGINT.

    None otherwise."""
    value = record.get("id") if isinstance(record, dict) else None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif (isinstance(value, float) and value.is_integer()) or (
            isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value)):
        number = int(value)
    else:
        number = None
    return number if number is not None and BIGINT_MIN <= number <= BIGINT_MAX else None
