"""The JSON Schemas and the record checks, as pure functions."""
import copy
import json

import pytest

from bench.synth import INVALID_KINDS
from conftest import FIXTURES
from pipeline.validation import (
    DETAILS_SCHEMA,
    LIST_SCHEMA,
    Verdict,
    check,
    fast_check_for,
    readable_agent_id,
    schemas,
    short_json,
    undeclared_paths,
    validator_for,
    violations,
)

LIST = validator_for(LIST_SCHEMA)
DETAILS = validator_for(DETAILS_SCHEMA)


def fixture_records(folder):
    for path in sorted(FIXTURES.glob(f"*/{folder}/*.json")):
        document = json.loads(path.read_text())
        yield from document if isinstance(document, list) else [document]


def a_record():
    return copy.deepcopy(next(fixture_records("agent_details")))


def test_every_fixture_record_is_valid():
    assert [violations(r, LIST) for r in fixture_records("agents")] == [[]] * 10
    assert [violations(r, DETAILS) for r in fixture_records("agent_details")] == [[]] * 12


@pytest.mark.parametrize("change, expected", [
    (lambda r: r.pop("id"), '$: "id" is a required property'),
    (lambda r: r.update(id=None), '$.id: null is not of type "integer"'),
    (lambda r: r.update(id="123"), '$.id: "123" is not of type "integer"'),
    (lambda r: r.update(id=0), "$.id: 0 is less than the minimum of 1"),
    (lambda r: r.update(contact="x"), '$.contact: "x" is not of type "object"'),
    (lambda r: r["contact"].pop("email"), '$.contact: "email" is a required property'),
    (lambda r: r["contact"].update(email="alex.example.com"), '$.contact.email: "alex.example.com" is not a "email"'),
    (lambda r: r["contact"].update(email="alex@"), '$.contact.email: "alex@" is not a "email"'),
    (lambda r: r["contact"].pop("name"), '$.contact: "name" is a required property'),
    (lambda r: r["contact"].update(name=""), '$.contact.name: "" should be non-empty'),
    (lambda r: r.update(available="yes"), '$.available: "yes" is not of type "null", "boolean"'),
    (lambda r: r.update(updated_at="2024-01-02 10:00"), '$.updated_at: "2024-01-02 10:00" is not a "date-time"'),
    (lambda r: r["availability"][0].update(available_since="soon"),
     '$.availability[0].available_since: "soon" is not a "date-time"'),
    (lambda r: r.update(role_ids="1,2"), '$.role_ids: "1,2" is not of type "null", "array"'),
    (lambda r: r.update(ticket_scope=True), '$.ticket_scope: true is not of type "null", "integer"'),
    (lambda r: r.update(group_ids=[{"id": 1, "name": "Tier 1 support", "members": list(range(50))}]),
     '$.group_ids[0]: {"id": 1, "name": "Tier 1 support", …} is not of type "null", "integer"'),
    (lambda r: r.update(skill_ids=[1, "2"]), '$.skill_ids[1]: "2" is not of type "null", "integer"'),
])
def test_each_rule_names_the_path(change, expected):
    record = a_record()
    change(record)
    assert violations(record, DETAILS) == [expected]


def test_every_violation_is_reported_not_just_the_first():
    record = a_record()
    record.update(id="7", focus_mode="no", created_at="yesterday")
    record["contact"]["email"] = None
    assert violations(record, DETAILS) == [
        '$.contact.email: null is not of type "string"',
        '$.created_at: "yesterday" is not a "date-time"',
        '$.focus_mode: "no" is not of type "null", "boolean"',
        '$.id: "7" is not of type "integer"',
    ]


def test_nullable_fields_may_be_null_and_unknown_fields_are_allowed():
    record = a_record()
    record.update(available=None, updated_at=None, signature=None, brand_new_field={"x": [1]})
    record["contact"].update(job_title=None, phone=None, last_login_at=None)
    assert violations(record, DETAILS) == []
    assert violations(record, LIST) == []


def test_timestamps_with_offsets_and_fractions_are_rfc3339():
    record = a_record()
    record.update(updated_at="2024-01-02T10:00:00.123456+05:30", created_at="2024-01-02T10:00:00z")
    assert violations(record, LIST) == []


def test_a_record_that_is_not_an_object():
    assert violations([1, 2], LIST) == ['$: [1, 2] is not of type "object"']


@pytest.mark.parametrize("value, expected", [
    (11200000001, 11200000001), ("11200000001", 11200000001), (" 42 ", 42), (7.0, 7), (-3, -3),
    (None, None), (True, None), ("abc", None), (7.5, None), (2**63, None), ([1], None),
])
def test_readable_agent_id(value, expected):
    assert readable_agent_id({"id": value}) == expected


def test_readable_agent_id_of_a_non_object():
    assert readable_agent_id(["id"]) is None
    assert readable_agent_id({}) is None


def fast_accepts(record, schema_name):
    return fast_check_for(schema_name)(record)


@pytest.mark.parametrize("kind", sorted(INVALID_KINDS))
def test_the_compiled_check_rejects_every_kind_of_invalid_record(kind):
    for schema_name in (LIST_SCHEMA, DETAILS_SCHEMA):
        record = a_record()
        INVALID_KINDS[kind](record)
        assert not fast_accepts(record, schema_name)
        assert check(record, schema_name) == Verdict(errors=violations(record, validator_for(schema_name)), warnings=[])
        assert check(record, schema_name).errors != []


def test_the_compiled_check_accepts_what_jsonschema_accepts():
    records = list(fixture_records("agent_details"))
    edge = a_record()
    edge.update(id=7.0, updated_at="2024-01-02T10:00:00.5+05:30", brand_new={"x": None}, available=None)
    edge["contact"].update(email="a.b+c@example.co.uk", job_title="", last_login_at="2024-01-02t10:00:00z")
    leap = a_record()
    leap.update(id=2**63 - 1, created_at="2016-12-31T23:59:59.999999+14:00", ticket_scope=-(2**63))
    leap["contact"].update(email="x@y.z", name="\u0000 \ud83d\ude00")
    for record in [*records, edge, leap]:
        assert violations(record, DETAILS) == []
        assert fast_accepts(record, DETAILS_SCHEMA)
        assert check(record, DETAILS_SCHEMA) == Verdict(errors=[], warnings=[])


@pytest.mark.parametrize("change, kind", [
    (lambda r: r.update(role_ids="1,2"), "warning"),  # a field the pipeline does not load
    (lambda r: r["contact"].update(active="yes"), "warning"),
    (lambda r: r.update(ticket_scope="1"), "warning"),
    (lambda r: r["availability"][0].update(available="no"), "warning"),
    (lambda r: r.update(available="yes"), "error"),  # a loaded field
    (lambda r: r["contact"].update(time_zone=5), "error"),
    (lambda r: r.update(contact=None), "error"),  # the object that holds loaded fields
    (lambda r: r["contact"].pop("email"), "error"),  # a required loaded field
    (lambda r: r.update(id=None), "error"),
])
def test_violations_in_fields_the_pipeline_does_not_load_are_warnings(change, kind):
    record = a_record()
    change(record)
    verdict = check(record, DETAILS_SCHEMA)
    assert (verdict.errors != [], verdict.warnings != []) == ((True, False) if kind == "error" else (False, True))


@pytest.mark.parametrize("change", [
    lambda r: r.update(id=2**63), lambda r: r.update(id=-(2**70)), lambda r: r.update(id=True),
    lambda r: r.update(id=7.5), lambda r: r.update(updated_at="2024-01-02 10:00:00Z"),
    lambda r: r.update(updated_at="2024-02-30T10:00:00Z"), lambda r: r["contact"].update(email="a@b"),
    lambda r: r["contact"].update(email="a b@c.de"), lambda r: r.update(available=0),
])
def test_the_compiled_check_rejects_edge_cases_that_jsonschema_rejects(change):
    record = a_record()
    change(record)
    assert violations(record, DETAILS) != []
    assert not fast_accepts(record, DETAILS_SCHEMA)


def test_a_deeply_nested_field_that_the_schema_leaves_open_is_valid():
    record = a_record()
    nested = []
    record["brand_new"] = nested
    for _ in range(3000):
        nested.append([])
        nested = nested[0]
    assert check(record, DETAILS_SCHEMA) == Verdict(errors=[], warnings=[])


def test_a_record_with_errors_and_warnings_keeps_both():
    record = a_record()
    record.update(id=None, role_ids="1,2")
    assert check(record, DETAILS_SCHEMA) == Verdict(errors=['$.id: null is not of type "integer"'],
                                                    warnings=['$.role_ids: "1,2" is not of type "null", "array"'])


def test_duplicate_keys_are_warnings_only_outside_loaded_fields():
    keys = [(("role_ids",), "$: duplicate key \"role_ids\""), (("contact", "active"), "$.contact: dup")]
    assert check(a_record(), DETAILS_SCHEMA, keys) == Verdict(errors=[], warnings=sorted(r for _, r in keys))
    assert check(a_record(), DETAILS_SCHEMA, [(("contact", "name"), "$.contact: dup")]).errors == ["$.contact: dup"]


@pytest.mark.parametrize("value, expected", [
    (None, "null"), (True, "true"), ("yes", '"yes"'), (12345, "12345"), (1.5, "1.5"), ([], "[]"), ({}, "{}"),
    ("x" * 100, '"' + "x" * 37 + '…"'),
    (list(range(100)), "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, …]"),
    ({"a": {"b": {"c": {"d": 1}}}}, '{"a": {"b": {"c": {…}}}}'),
    ({"name": "Tier 1", "members": [1, 2], "owner": {"id": 7}}, '{"name": "Tier 1", "members": [1, 2], …}'),
])
def test_values_in_messages_read_as_json(value, expected):
    assert short_json(value) == expected


def test_both_schemas_declare_every_loaded_field_and_a_missing_one_is_found():
    assert undeclared_paths(LIST_SCHEMA) == [] and undeclared_paths(DETAILS_SCHEMA) == []
    changed = copy.deepcopy(schemas())
    del changed[LIST_SCHEMA]["$defs"]["contact"]["properties"]["time_zone"]
    del changed[LIST_SCHEMA]["properties"]["focus_mode"]
    assert undeclared_paths(LIST_SCHEMA, changed) == ["contact.time_zone", "focus_mode"]
    assert undeclared_paths(DETAILS_SCHEMA, changed) == ["contact.time_zone", "focus_mode"]  # through allOf/$ref
