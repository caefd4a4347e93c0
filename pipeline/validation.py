"""JSON Schema validation of single Freshdesk agent records: pure functions, no I/O but the schema files."""
import json
import re
from functools import cache, lru_cache, partial

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from pipeline.resources import resource_dir
from pipeline.strict_json import UNSTORABLE
from pipeline.tables import CONTACT_FIELDS, RECORD_FIELDS

LIST_SCHEMA = "agent.schema.json"
DETAILS_SCHEMA = "agent_details.schema.json"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    if "date-time" not in checker.checkers:  # jsonschema checks date-time only with rfc3339-validator installed
        raise RuntimeError("rfc3339-validator is not installed: timestamps would not be checked")

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


@cache
def validator_for(schema_name: str) -> Draft202012Validator:
    """A validator for one schema file, with every schema of the folder available to ``$ref``."""
    registry = Registry().with_resources(
        (name, Resource.from_contents(schema)) for name, schema in schemas().items()
    )
    schema = schemas()[schema_name]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=registry, format_checker=_format_checker())


@cache
def fast_check_for(schema_name: str):
    """The same schema compiled to Python by fastjsonschema, with the same format checks: a fast
    pass/fail decision. It raises ``JsonSchemaValueException`` on the first violation.

    Format results are cached: a record repeats its timestamps, and a day its e-mail domains' shapes."""
    checker = _format_checker()
    formats = {name: lru_cache(maxsize=1 << 16)(partial(checker.conforms, format=name))
               for name in ("date-time", "email")}
    return fastjsonschema.compile(schemas()[schema_name], handlers={"": schemas().__getitem__},
                                  formats=formats, use_default=False)


def check(record, schema_name: str) -> list[str]:
    """Every violation of ``record`` as ``path: message`` lines, empty when valid.

    The compiled check decides; only a record it rejects is run through jsonschema, which names
    every violation (and has the last word: a record it finds no fault with is valid)."""
    try:
        try:
            fast_check_for(schema_name)(record)
            reasons = []
        except fastjsonschema.JsonSchemaValueException:
            reasons = violations(record, validator_for(schema_name))
    except RecursionError:
        return ["$: nested too deeply to check"]
    return reasons


LOADED_TEXT_FIELDS = (
    *((name,) for name, kind in RECORD_FIELDS.items() if kind == "string"),
    *(("contact", name) for name in CONTACT_FIELDS),
)


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
    return sorted(f"{error.json_path}: {error.message}" for error in validator.iter_errors(record))


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
