"""Pure functions behind the hostile-input rules: strict JSON, visible text, page gaps, the guard, one-line errors."""
import datetime
import json
import re

import pytest

from conftest import FIXTURES
from pipeline.completeness import (
    DayAgainstPrevious,
    RefusedDay,
    check_page_numbers,
    missing_page_numbers,
    page_numbers,
    refusal,
)
from pipeline.config import SettingError, share
from pipeline.errors import one_line
from pipeline.parameters import BadParameter, DayListParameter, SyncDateParameter
from pipeline.strict_json import (
    _UNDECIDED,
    _fast_document,
    _strict_document,
    duplicate_keys,
    json_text,
    parse_json,
    visible_file_name,
    visible_text,
)
from pipeline.validation import unstorable_text

DAY = datetime.date(2024, 1, 2)


def test_a_utf8_byte_order_mark_is_skipped():
    assert parse_json(b'\xef\xbb\xbf{"id": 1}') == ({"id": 1}, [])


@pytest.mark.parametrize("data, message", [
    (b"", "the file is empty"),
    (b" \n\t", "the file holds only white space"),
    (b'{"id": 1e400}', "the number 1e400 is out of range"),
    (b'{"id": -Infinity}', "-Infinity is not valid JSON"),
    (b'{"name": "caf\xe9"}', "not UTF-8: invalid continuation byte at byte 13"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply to read"),
])
def test_what_strict_json_refuses(data, message):
    with pytest.raises(ValueError, match=message):
        parse_json(data)


def test_duplicate_keys_are_found_with_every_value_and_their_path():
    document, duplicates = parse_json(b'[{"id": 5, "contact": {"name": "A", "name": "B"}, "id": 99}, {"id": 7}]')
    assert document[0]["id"] == 99  # what json.loads keeps; the record is rejected for it
    assert duplicate_keys(document[0], duplicates) == [
        (("contact", "name"), '$.contact: duplicate key "name" (values "A", "B")'),
        (("id",), '$: duplicate key "id" (values 5, 99)')]
    assert duplicate_keys(document[1], duplicates) == []
    assert duplicate_keys(document[1], []) == []


TRICKY = [
    b'{"a": 1, "a": 2}', b'{"a" : 1, "a": 2}', b'{"a":1,"b":{"a":1,"a":1}}', b'[{"k\\":": 1, "k\\":": 2}]',
    b'{"a\\u0022:": 1, "a\\":": 2}', b'{"s": "x\\":y", "t": 1}', b'{"id": 18446744073709551616}',
    b'{"id": -9223372036854775809}', b'{"id": 9223372036854775807, "f": 1.0, "e": 1E5, "z": -0}',
    b'{"n": "\\u0000", "u": "\\u00e9\\ud83d\\ude00"}', b'{"lone": "\\ud800"}', b'{"tab": "a\tb"}',
    b'[' * 300 + b']' * 300, b'{"a": 1} {"b": 2}', b'"just text"', b'{"a":1,"a":1}',
]


@pytest.mark.parametrize("data", TRICKY)
def test_the_fast_parser_gives_the_strict_parsers_document_or_defers_to_it(data):
    try:
        expected = _strict_document(data)
    except ValueError as error:
        expected = error
    if isinstance(expected, ValueError):
        with pytest.raises(ValueError, match=re.escape(str(expected))):
            parse_json(data)
    else:
        assert parse_json(data) == expected
        assert type(parse_json(data)[0]) is type(expected[0])
    if not isinstance(expected, ValueError) and expected[1]:  # a duplicate key never takes the fast path
        assert _fast_document(data) is _UNDECIDED and parse_json(data)[1] != []


def test_the_fixture_files_take_the_fast_path_with_the_same_documents():
    files = sorted(FIXTURES.glob("*/*/*.json"))
    assert files
    for path in files:
        data = path.read_bytes()
        assert _fast_document(data) == _strict_document(data)[0], path


def test_unstorable_characters_are_spelled_out():
    assert visible_text("a\x00b\ud800c") == "a\\u0000b\\ud800c"
    record = {"name": "x\x00y", "odd\ud83d": ["\udfff"], "fine": "\\u0000 already text"}
    text = json_text(record)
    assert "\x00" not in text and "\\u0000" not in text.replace("\\\\u0000", "")
    assert json.loads(text) == {"name": "x\\u0000y", "odd\\ud83d": ["\\udfff"], "fine": "\\u0000 already text"}
    text.encode("utf-8")  # no lone surrogate left
    assert json_text(None) == "null"


def test_file_names_that_are_not_utf8_are_shown_with_escapes():
    assert visible_file_name(b"bad\xff.json".decode("utf-8", "surrogateescape")) == "bad\\xff.json"


def test_a_nul_or_lone_surrogate_in_a_loaded_field_is_a_reason():
    record = {"agent_operational_status": "on\x00", "signature": "\x00 not loaded",
              "contact": {"name": "Zo\ud800", "email": None}}
    assert sorted(unstorable_text(record)) == [
        "$.agent_operational_status: contains a NUL character (\\u0000), which PostgreSQL cannot store",
        "$.contact.name: contains a lone surrogate (\\ud800), which PostgreSQL cannot store",
    ]
    assert unstorable_text({"contact": "not an object"}) == []
    assert unstorable_text(None) == []


@pytest.mark.parametrize("names, missing", [
    (["1.json", "2.json", "3.json"], []),
    (["1.json", "3.json"], [2]),
    (["2.json", "3.json"], [1]),
    (["2.json"], [1]),
    (["0.json", "2.json"], [1]),
    (["page-1.json", "page-4.json"], [2, 3]),
    (["1.JSON", "3.json"], [2]),
    (["agents_2024-01-02_p1.json", "agents_2024-01-02_p3.json"], [2]),  # the sync date is not a page number
    (["agents_20240102_1.json", "agents_20240102_2.json"], []),
    (["page-1-of-3.json", "page-3-of-3.json"], [2]),  # the one number that changes is the page number
    (["agents_2024-01-02.json"], []),  # one page, no number
    ([], []),
])
def test_missing_page_numbers(names, missing):
    numbers, unreadable = page_numbers(names, "2024-01-02")
    assert unreadable is None and missing_page_numbers(numbers.values()) == missing


@pytest.mark.parametrize("names, problem", [
    (["1.json", "2.json", "notes.json"], "notes.json not named like the other pages (1.json, 2.json)"),
    (["all.json", "2.json"], "all.json not named like the other pages (2.json)"),
    (["a.json", "b.json"], "b.json not named like the other pages (a.json)"),
    (["v2-page1.json"], "v2-page1.json: which number is the page number cannot be told (more than one number)"),
    (["x_10_1.json", "x_11_2.json"], "which number is the page number cannot be told (more than one number changes"),
    (["1.json", "01.json"], "list pages 1.json and 01.json have the same page number"),
])
def test_page_names_the_rule_cannot_number_refuse_the_day_by_name(names, problem, tmp_path):
    with pytest.raises(RefusedDay, match="list page") as refused:
        check_page_numbers("2024-01-02", tmp_path, names)
    assert problem in str(refused.value) and "--accept-incomplete-days 2024-01-02" in str(refused.value)


def test_a_gap_refusal_names_the_page_and_how_to_let_the_day_through(tmp_path):
    with pytest.raises(RefusedDay) as refused:
        check_page_numbers("2024-01-02", tmp_path, ["1.json", "3.json"])
    assert "list page 2 missing" in str(refused.value)
    assert "--sync-date 2024-01-02 --accept-incomplete-days 2024-01-02" in str(refused.value)


def facts(list_records=100, previous_day=DAY - datetime.timedelta(days=1), previously_active=100, deactivating=0):
    return DayAgainstPrevious(list_records, previous_day, previously_active, deactivating)


@pytest.mark.parametrize("day_facts, max_share, refused", [
    (facts(deactivating=20), 0.2, False),  # exactly the share: allowed
    (facts(deactivating=21), 0.2, True),
    (facts(previously_active=40, deactivating=9), 0.2, False),  # fewer than 10: never refused
    (facts(previously_active=40, deactivating=10), 0.2, True),
    (facts(deactivating=100), 1, False),  # 1 turns the guard off
    (facts(list_records=0, previously_active=3, deactivating=3), 1, True),  # an empty list is refused anyway
    (facts(list_records=0, previous_day=None, previously_active=0), 0.2, False),  # nothing earlier to lose
    (facts(list_records=0, previously_active=0), 0.2, False),
    (facts(list_records=None, deactivating=5), 0.2, False),
])
def test_refusal(day_facts, max_share, refused):
    assert (refusal(DAY, day_facts, max_share) is not None) is refused


def test_an_empty_list_refusal_offers_only_what_lets_it_through():
    message = refusal(DAY, facts(list_records=0, previously_active=5, deactivating=5), 0.2)
    assert "its list pages hold no record, so all of the 5 agents active on 2024-01-01" in message
    assert "--accept-incomplete-days 2024-01-02" in message
    assert "PIPELINE_MAX_DEACTIVATION_SHARE" not in message  # that setting does not lift this check


def test_a_refusal_gives_both_counts_the_earlier_day_and_the_way_through():
    message = refusal(DAY, facts(previously_active=3006, deactivating=1525), 0.2)
    assert "1,525 of the 3,006 agents active on 2024-01-01 would become inactive (50.7%" in message
    assert "--accept-incomplete-days 2024-01-02" in message and "PIPELINE_MAX_DEACTIVATION_SHARE" in message


@pytest.mark.parametrize("text", ["-0.1", "1.5", "lots", ""])
def test_max_deactivation_share_must_be_a_share(text):
    with pytest.raises(SettingError, match="max_deactivation_share"):
        share(text)


def test_parameters_say_what_they_expect():
    assert SyncDateParameter().parse("2024-01-02") == DAY
    with pytest.raises(BadParameter, match="'sync-day1' is not a date: expected YYYY-MM-DD"):
        SyncDateParameter().parse("sync-day1")
    assert DayListParameter().parse("2024-01-05, 2024-01-02") == (DAY, datetime.date(2024, 1, 5))
    with pytest.raises(BadParameter):
        DayListParameter().parse("yesterday")


def test_a_logged_traceback_of_a_pipeline_error_becomes_one_line():
    message = ("Will not run X due to error in complete() method:\nTraceback (most recent call last):\n"
               '  File "x.py", line 1, in f\n    raise DatabaseUnavailable("...")\n'
               "pipeline.database.DatabaseUnavailable: cannot connect to PostgreSQL at host=db: refused\n")
    assert one_line(message) == ("Will not run X due to error in complete() method: DatabaseUnavailable: "
                                 "cannot connect to PostgreSQL at host=db: refused")
    assert one_line("Traceback (most recent call last):\nKeyError: 'x'\n") is None  # a real bug keeps its trace
    assert one_line("no traceback here") is None
