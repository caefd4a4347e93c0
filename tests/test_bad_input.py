"""The bad-input corpus: whatever one details file holds, the day loads and the file or record gets an error row;
list pages stay strict. Each kind is checked on ValidateRaw's own output (no Spark, no database), and all the
details kinds together go through the whole graph on PostgreSQL and Spark in one day."""
import datetime
import json
import os
import re
import shutil
import subprocess
import sys

import luigi
import pytest
from luigi.execution_summary import LuigiStatusCode
from test_pipeline import run

from conftest import FIXTURES, REPO, query
from pipeline import Reprocess, SnapshotHistory, StatusReport, strict_json
from pipeline.completeness import RefusedDay
from pipeline.database import ensure_schema
from pipeline.handoff import read_rows
from pipeline.raw import RawInputError, validate_day

DAY = datetime.date(2024, 1, 2)
NEW_ID = 11200000009  # an agent the fixture day does not have
TEMPLATE = json.loads((FIXTURES / "2024-01-02/agent_details/11200000001.json").read_text())


def agent(**changes) -> dict:
    """A valid details record of the new agent, with ``changes`` (``contact__name`` changes contact.name)."""
    record = json.loads(json.dumps(TEMPLATE))
    record["id"] = NEW_ID
    record["contact"].update(email="new.agent@example.com", name="Riya Sen")
    for key, value in changes.items():
        target, _, field = key.rpartition("__")
        (record[target] if target else record)[field] = value
    return record


def text(record) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")


def replace_once(record: dict, old: bytes, new: bytes) -> bytes:
    data = text(record)
    assert old in data
    return data.replace(old, new, 1)


def deep(levels: int, inner: bytes = b"1") -> bytes:
    return b"[" * levels + inner + b"]" * levels


def link_to(levels: int, name: str, content: bytes):
    """What makes, at a path, a symbolic link to the file ``name`` (holding ``content``) in the folder ``levels``
    above the path's folder: 2 is the raw root, 3 the folder holding it."""
    def make_link(path):
        target = path.parents[levels] / name
        target.write_bytes(content)
        path.symlink_to(target)
    return make_link


VALID = "valid"  # the new agent's record loads
NOTHING = "nothing"  # no record, no error row
WARNING = "VALIDATION_WARNING"  # the new agent's record loads, with a warning row
PARSE_ERROR, UNREAD = "PARSE_ERROR", "UNREAD_FILE"
SECRET = b'{"id": 11200000042, "contact": {"email": "root@example.com", "name": "from outside the raw root"}}'
# kind: (file name, content: bytes or a function(path) that makes it, expected outcome, fragment of the reason)
DETAILS_CORPUS = {
    "truncated": ("x.json", text(agent())[:40], "PARSE_ERROR", "not valid JSON: Unterminated string"),
    "trailing garbage": ("x.json", text(agent()) + b" ]", "PARSE_ERROR", "Extra data"),
    "two documents": ("x.json", b'{"id": 1}{"id": 2}', "PARSE_ERROR", "Extra data"),
    "NaN": ("x.json", b'{"id": NaN}', "PARSE_ERROR", "NaN is not valid JSON"),
    "number out of range": ("x.json", b'{"id": 1e400}', "PARSE_ERROR", "out of range"),
    "5,000-digit integer": ("x.json", b'{"id": 1' + b"0" * 5000 + b"}", "PARSE_ERROR", "not valid JSON"),
    "0 bytes": ("x.json", b"", "PARSE_ERROR", "the file is empty"),
    "white space only": ("x.json", b" \r\n ", "PARSE_ERROR", "only white space"),
    "UTF-8 byte order mark": ("x.json", b"\xef\xbb\xbf" + text(agent()), VALID, None),
    "UTF-16": ("x.json", json.dumps(agent()).encode("utf-16"), "PARSE_ERROR", "not UTF-8"),
    "Latin-1 byte": ("x.json", replace_once(agent(), b"Riya", b"R\xefya"), "PARSE_ERROR", "not UTF-8"),
    "raw NUL byte": ("x.json", b'{"id": 1,\x00 "contact": {}}', "PARSE_ERROR", "not valid JSON"),
    "nested 10,000 deep": ("x.json", b'{"id": 1, "x": ' + deep(10_000) + b"}", "PARSE_ERROR", "nested too deeply"),
    "nested 500 deep in an unloaded field": ("x.json", replace_once(agent(), b'"signature": null',
                                                                    b'"extra": ' + deep(500)), VALID, None),
    "NUL in a loaded field": ("x.json", text(agent(contact__name="Riya\x00Sen")), "VALIDATION_ERROR",
                              "$.contact.name: contains a NUL character (\\u0000)"),
    "NUL in an unloaded field": ("x.json", text(agent(signature="a\x00b")), VALID, None),
    "lone surrogate in a loaded field": ("x.json", replace_once(agent(), b"Riya", b"Riya\\ud800"),
                                         "VALIDATION_ERROR", "$.contact.name: contains a lone surrogate (\\ud800)"),
    "lone surrogate in an unloaded key": ("x.json", replace_once(agent(), b'"signature"', b'"sig\\udc00"'),
                                          VALID, None),
    "duplicate id": ("x.json", replace_once(agent(), b'"id": 11200000009', b'"id": 11200000005, "id": 11200000099'),
                     "VALIDATION_ERROR", '$: duplicate key "id" (values 11200000005, 11200000099)'),
    "duplicate key in contact": ("x.json", replace_once(agent(), b'"name": "Riya',
                                                        b'"name": "Other", "name": "Riya'),
                                 "VALIDATION_ERROR", '$.contact: duplicate key "name"'),
    "a number, not an object": ("x.json", b"42", "VALIDATION_ERROR", '$: 42 is not of type "object"'),
    "null": ("x.json", b"null", "VALIDATION_ERROR", '$: null is not of type "object"'),
    "empty object": ("x.json", b"{}", "VALIDATION_ERROR", '$: "contact" is a required property'),
    "empty array": ("x.json", b"[]", NOTHING, None),
    "array of a valid and an invalid record": ("x.json", b"[" + text(agent()) + b", 7]", "VALIDATION_ERROR",
                                               '$: 7 is not of type "object"'),
    "id as text": ("x.json", text(agent(id="abc")), "VALIDATION_ERROR", '$.id: "abc" is not of type "integer"'),
    "id beyond BIGINT": ("x.json", text(agent(id=2**64)), "VALIDATION_ERROR", "is greater than the maximum"),
    "boolean as text": ("x.json", text(agent(available="false")), "VALIDATION_ERROR",
                        '$.available: "false" is not of type'),
    "contact null": ("x.json", text(agent(contact=None)), "VALIDATION_ERROR", '$.contact: null is not of type'),
    "an unloaded field of the wrong type": ("x.json", text(agent(role_ids="69000378065")), WARNING,
                                            '$.role_ids: "69000378065" is not of type "null", "array"'),
    "an unloaded contact field of the wrong type": ("x.json", text(agent(contact__active="yes")), WARNING,
                                                    '$.contact.active: "yes" is not of type "null", "boolean"'),
    "an unloaded key twice": ("x.json", replace_once(agent(), b'"signature": null', b'"signature": 1, "signature": 2'),
                              WARNING, '$: duplicate key "signature" (values 1, 2)'),
    "a timestamp offset PostgreSQL cannot store": (
        "x.json", text(agent(last_active_at="2026-01-04T08:57:30+20:00")), "VALIDATION_ERROR",
        "PostgreSQL can store (its UTC offset is beyond"),
    "timestamp not RFC 3339": ("x.json", text(agent(updated_at="26/03/2025")), "VALIDATION_ERROR",
                               '$.updated_at: "26/03/2025" is not a "date-time"'),
    "control characters and a 1 MB name": ("x.json", text(agent(contact__name="\x01\x7f\t\r\n\\" + "n" * 1_000_000)),
                                           VALID, None),
    "a folder named *.json": ("old.json", lambda path: path.mkdir(), "PARSE_ERROR", "a folder, not a file"),
    "a broken link": ("x.json", lambda path: path.symlink_to(path.parent / "gone.json"), "PARSE_ERROR",
                      "a broken symbolic link"),
    "a link to a valid file in the raw root": ("x.json", link_to(2, "elsewhere.json", text(agent())), VALID, None),
    "a link to a file outside the raw root": ("x.json", link_to(3, "secret.json", SECRET), PARSE_ERROR,
                                              "not read: a symbolic link to a file outside the raw root"),
    "a name ending in .JSON": ("x.JSON", text(agent()), VALID, None),
    "a named pipe": ("x.json", os.mkfifo, "PARSE_ERROR", "not a regular file"),
    "a name that is not UTF-8": (b"bad\xff.json".decode("utf-8", "surrogateescape"), b"{", "PARSE_ERROR",
                                 "not valid JSON"),
    "over the size limit": ("x.json", text(agent()) + b" " * 20_000, "PARSE_ERROR", "more than the limit"),
    "not a *.json name": ("notes.txt", b"{", UNREAD, "not read: not named *.json"),
    "a folder not named *.json": ("old", lambda path: path.mkdir(), UNREAD, "not read: not named *.json"),
    "a hidden file": (".DS_Store", b"\x00\x01", UNREAD, "not read: not named *.json"),
}



def make(path, content):
    if callable(content):
        content(path)
    else:
        path.write_bytes(content)


def lines(out_dir, name):
    return read_rows(out_dir, name)


@pytest.fixture
def day(tmp_path):
    target = tmp_path / "raw" / DAY.isoformat()
    shutil.copytree(FIXTURES / DAY.isoformat(), target)
    return target


def fixture_records():
    """(kind, id) of every record of the fixture day: all valid."""
    out = []
    for folder, kind in (("agents", "list"), ("agent_details", "details")):
        for path in (FIXTURES / DAY.isoformat() / folder).glob("*.json"):
            document = json.loads(path.read_text())
            out += [(kind, record["id"]) for record in (document if isinstance(document, list) else [document])]
    return sorted(out)


@pytest.mark.parametrize("kind", DETAILS_CORPUS)
def test_a_bad_details_file_is_isolated(kind, day, tmp_path, monkeypatch):
    name, content, outcome, reason = DETAILS_CORPUS[kind]
    monkeypatch.setattr(strict_json, "MAX_FILE_BYTES", 8192 if kind == "over the size limit" else 1 << 28)
    make(day / "agent_details" / name, content)
    counts = validate_day(day, tmp_path / "out")  # the day loads: no exception

    valid = sorted((row["kind"], row["agent_id"]) for row in lines(tmp_path / "out", "valid"))
    new = [("details", NEW_ID)] if outcome in (VALID, WARNING) or "valid and an invalid" in kind else []
    assert valid == sorted(fixture_records() + new)  # no valid record of the day was lost, none invented
    rejects = lines(tmp_path / "out", "rejects")
    if outcome in (VALID, NOTHING):
        assert rejects == []
        return
    [reject] = rejects
    assert reject["error_type"] == outcome
    assert reject["source_file"].startswith("2024-01-02/agent_details/")
    assert reason in reject["error_message"]
    assert counts[{PARSE_ERROR: "parse_errors", WARNING: "records_warned", UNREAD: "files_unread"}.get(
        outcome, "records_invalid")] == 1
    assert b"from outside the raw root" not in json.dumps(reject).encode()
    if outcome == WARNING:
        assert reject["agent_id"] == NEW_ID and counts["records_invalid"] == 0
    stored = json.dumps(reject)  # every text the error row holds can be written as UTF-8 without a NUL
    stored.encode("utf-8")
    assert "\\u0000" not in stored.replace("\\\\u0000", "")
    if kind == "duplicate id":
        assert reject["agent_id"] is None  # never the phantom 11200000099


def test_bad_characters_are_made_visible_in_the_error_row(day, tmp_path):
    make(day / "agent_details" / "x.json", DETAILS_CORPUS["NUL in a loaded field"][1])
    make(day / "agent_details" / "y.json", b'{"id": 1,\x00 "na\xffme": 1')
    make(day / "agent_details" / b"bad\xff.json".decode("utf-8", "surrogateescape"), b"{")
    validate_day(day, tmp_path / "out")
    rejects = {row["source_file"].rpartition("/")[2]: row for row in lines(tmp_path / "out", "rejects")}
    assert json.loads(rejects["x.json"]["raw_record"])["contact"]["name"] == "Riya\\u0000Sen"
    assert json.loads(rejects["y.json"]["raw_record"]) == '{"id": 1,\\u0000 "na\\xffme": 1'
    assert "bad\\xff.json" in rejects


def renaming_page_one(to: str, content: bytes):
    """What makes, at a path in agents/, a page holding ``content``, after renaming the day's 1.json ``to``."""
    def make_page(path):
        (path.parent / "1.json").rename(path.parent / to)
        path.write_bytes(content)
    return make_page


LIST_CORPUS = {
    "a gap in the page numbers": ("3.json", b"[]", RefusedDay, "list page 2 missing"),
    "a folder named like a page": ("2.json", lambda path: path.mkdir(), RawInputError,
                                   "list page cannot be read (a folder, not a file)"),
    "a page that is not UTF-8": ("2.json", b'[{"id": 1, "x": "\xe9"}]', RawInputError, "list page is not valid JSON"),
    "a page that is an object": ("2.json", b'{"id": 1}', RawInputError, "a list page must be a JSON array"),
    "a truncated page": ("2.json", b"[{", RawInputError, "list page is not valid JSON"),
    "an empty page file": ("2.json", b"", RawInputError, "the file is empty"),
    "a page still being copied": ("2.json.part", b"[", RefusedDay, "holds 2.json.part, not named *.json"),
    "a page saved without .json": ("2", b"[]", RefusedDay, "holds 2, not named *.json"),
    "a folder in agents/": ("old", lambda path: path.mkdir(), RefusedDay, "holds old, not named *.json"),
    "a copy named unlike the pages": ("1 (copy).json", b"[]", RefusedDay,
                                      "1 (copy).json not named like the other pages (1.json)"),
    "the same page number twice": ("01.json", b"[]", RefusedDay, "have the same page number"),
    "a gap among pages named with the date": ("agents_2024-01-02_p3.json",
                                              renaming_page_one("agents_2024-01-02_p1.json", b"[]"),
                                              RefusedDay, "list page 2 missing"),
    "two numbers that change from page to page": ("agents_0906_2.json", renaming_page_one("agents_0905_1.json", b"[]"),
                                                  RefusedDay, "which number is the page number cannot be told"),
    "a page that links outside the raw root": ("2.json", link_to(3, "page.json", b"[]"), RawInputError,
                                               "list page is a symbolic link to a file outside the raw root"),
    "a record whose id cannot be read": ("2.json", b'[[{"id": 11200000004}]]', RefusedDay,
                                         "the agent id of list record 2024-01-02/agents/2.json [0] cannot be read"),
    "a page written twice": ("2.json", lambda path: shutil.copy(path.parent / "1.json", path), RefusedDay,
                             "list page 2.json names the same agents as 1.json"),
    "an empty page before a full one": ("2.json", lambda path: path.write_bytes(b"[]") and (path.parent / "3.json")
                                        .write_text(json.dumps(json.loads((path.parent / "1.json").read_text())[:1])),
                                        RefusedDay, "list page 2.json holds no record while later pages do"),
}


@pytest.mark.parametrize("kind", LIST_CORPUS)
def test_an_unreadable_or_missing_list_page_refuses_the_day(kind, day, tmp_path):
    name, content, error, message = LIST_CORPUS[kind]
    make(day / "agents" / name, content)
    with pytest.raises(error, match=re.escape(message)):
        validate_day(day, tmp_path / "out")


def test_a_page_named_in_capitals_is_read_and_other_entries_of_the_day_are_recorded(day, tmp_path):
    (day / "agents" / "1.json").rename(day / "agents" / "1.JSON")
    (day / "notes.txt").write_text("exported by hand")
    (day / "agent_details" / "11200000004.json.bak").write_text("{}")
    counts = validate_day(day, tmp_path / "out")
    assert counts["list_records"] == 4 and counts["files_unread"] == 2
    assert sorted((row["source_file"], row["error_type"], row["error_message"])
                  for row in lines(tmp_path / "out", "rejects")) == [
        ("2024-01-02/agent_details/11200000004.json.bak", "UNREAD_FILE", "$: not read: not named *.json"),
        ("2024-01-02/notes.txt", "UNREAD_FILE",
         "$: not read: the day folder holds only agents/, agent_details/ and _manifest.json")]


def test_an_unreadable_details_folder_refuses_the_day_in_one_line(day, tmp_path):
    """Run as root, without the capabilities that let root read any folder (setpriv), as another user would."""
    (day / "agent_details").chmod(0)
    check = ("import sys; from pathlib import Path; from pipeline.raw import RawInputError, validate_day\n"
             "try: validate_day(Path(sys.argv[1]), Path(sys.argv[2]))\n"
             "except RawInputError as error: print(error); sys.exit(3)")
    result = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c", check,
                             str(day), str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr) == (3, "")
    assert result.stdout == (f"{day / 'agent_details'}: cannot be listed (Permission denied); refusing to load the"
                             " day, since what it holds cannot be seen\n")


def test_a_gap_is_let_through_when_accepted(day, tmp_path):
    (day / "agents" / "3.json").write_bytes(b"[]")
    assert validate_day(day, tmp_path / "out", accept_incomplete=True)["list_records"] == 4


def test_bad_list_records_quarantine_every_agent_they_might_be(day, tmp_path):
    page_path = day / "agents" / "1.json"
    data = page_path.read_bytes()
    data = data.replace(b'"id": 11200000001', b'"id": 11200000001, "id": 11200000077', 1)
    data = data.replace(b'"Priya Raman"', b'"Priya\\u0000Raman"', 1)
    page_path.write_bytes(b"\xef\xbb\xbf" + data)  # a byte order mark is fine
    validate_day(day, tmp_path / "out")
    listed = {row["agent_id"]: row["valid"] for row in lines(tmp_path / "out", "list_ids")}
    assert listed == {11200000001: False, 11200000077: False, 11200000002: False, 11200000003: True,
                      11200000005: True}
    reasons = {row["agent_id"]: row["error_message"] for row in lines(tmp_path / "out", "rejects")}
    assert reasons[None] == '$: duplicate key "id" (values 11200000001, 11200000077)'
    assert reasons[11200000002] == "$.contact.name: contains a NUL character (\\u0000), which PostgreSQL cannot store"


def test_every_bad_details_file_at_once_loads_the_day_on_postgres(pipeline_env, tmp_path, monkeypatch):
    """The whole corpus in one day, through Spark and PostgreSQL: the day loads, one error row per bad file
    or record, every fixture agent recorded, no phantom agent, and the unstorable characters shown."""
    dsn = pipeline_env["dsn"]
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURES / DAY.isoformat(), raw / DAY.isoformat())
    details = raw / DAY.isoformat() / "agent_details"
    expected = {}
    for number, (kind, (name, content, outcome, reason)) in enumerate(DETAILS_CORPUS.items()):
        if outcome not in (VALID, NOTHING) and kind != "over the size limit":
            path = details / f"{number:02d}-{name}"
            make(path, content)
            expected[strict_json.visible_file_name(path.name)] = (outcome, reason)
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(raw))
    run(SnapshotHistory(sync_date=DAY))

    rows = query(dsn, "select source_file, error_type, error_message, raw_record from agent_pipeline_errors")
    found = {source_file.rpartition("/")[2]: (error_type, message) for source_file, error_type, message, _ in rows}
    assert len(rows) == len(found) == len(expected)
    for name, (outcome, reason) in expected.items():
        assert found[name][0] == outcome and reason in found[name][1], name
    assert query(dsn, "select agent_id, is_active from agent_status_history order by 1") == [
        (11200000001, True), (11200000002, True), (11200000003, False), (11200000004, False),
        (11200000005, True), (11200000006, False),
        (NEW_ID, False)]  # from the array that also holds an invalid record; not listed, so inactive
    assert query(dsn, "select count(*) from agents where agent_id = 11200000099") == [(0,)]  # no phantom
    shown = query(dsn, "select raw_record -> 'contact' ->> 'name' from agent_pipeline_errors"
                       " where error_message like '%%NUL character%%'")
    assert shown == [("Riya\\u0000Sen",)]


DAY1, DAY3 = datetime.date(2024, 1, 1), datetime.date(2024, 1, 3)
PAGES = {  # the fixture day's one list page (agents 1, 2, 3, 5) laid out as pages named thus, with these agents
    "a page lost among pages named with the date": {"agents_2024-01-02_p1.json": [2],
                                                    "agents_2024-01-02_p3.json": [3, 5]},
    "a page still being copied": {"1.json": [1, 2], "2.json.part": [3, 5]},
    "a page named in capitals": {"1.json": [1, 2], "2.JSON": [3, 5]},
    "a page written twice in place of a lost one": {"1.json": [1, 2], "2.json": [1, 2]},
}


@pytest.mark.parametrize("kind", PAGES)
def test_list_pages_are_all_read_or_the_day_is_refused_on_postgres(kind, pipeline_env, tmp_path, monkeypatch):
    """Each of these once loaded with exit 0, deactivating the agents of the page it did not read."""
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURES / DAY.isoformat(), raw / DAY.isoformat())
    agents = raw / DAY.isoformat() / "agents"
    records = {record["id"] % 100: record for record in json.loads((agents / "1.json").read_text())}
    (agents / "1.json").unlink()
    for name, numbers in PAGES[kind].items():
        (agents / name).write_text(json.dumps([records[n] for n in numbers]))
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(raw))
    ensure_schema(pipeline_env["dsn"])
    result = luigi.build([SnapshotHistory(sync_date=DAY)], local_scheduler=True, detailed_summary=True,
                         log_level="CRITICAL")
    history = dict(query(pipeline_env["dsn"], "select agent_id % 100, is_active from agent_status_history"))
    if kind == "a page named in capitals":
        assert result.status == LuigiStatusCode.SUCCESS
        assert history == {1: True, 2: True, 3: False, 4: False, 5: True, 6: False}
    else:
        assert result.status == LuigiStatusCode.FAILED and history == {}
        assert query(pipeline_env["dsn"], "select count(*) from table_updates") == [(0,)]


def test_every_known_agent_is_accounted_for_on_postgres(pipeline_env, tmp_path, monkeypatch):
    """Days 1, 3, then 2 (late). Day 2 has no record of agent 6 (not listed, its details file gone), an invalid
    list record of agent 5 (quarantined) whose details record breaks the schema only in a field not loaded."""
    dsn, raw = pipeline_env["dsn"], tmp_path / "raw"
    shutil.copytree(FIXTURES / DAY1.isoformat(), raw / DAY1.isoformat())
    shutil.copytree(REPO / "data" / "raw" / DAY3.isoformat(), raw / DAY3.isoformat())
    day2 = raw / DAY.isoformat()
    shutil.copytree(FIXTURES / DAY.isoformat(), day2)
    (day2 / "agent_details" / "11200000006.json").unlink()
    page = json.loads((day2 / "agents" / "1.json").read_text())
    next(record for record in page if record["id"] == 11200000005)["available"] = "yes"
    (day2 / "agents" / "1.json").write_text(json.dumps(page))
    details = json.loads((day2 / "agent_details" / "11200000005.json").read_text())
    (day2 / "agent_details" / "11200000005.json").write_text(json.dumps(details | {"role_ids": "3"}))
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(raw))
    for day in (DAY1, DAY3, DAY):
        run(SnapshotHistory(sync_date=day))
    run(StatusReport(sync_date=DAY), StatusReport(sync_date=DAY3))

    # not seen: recorded inactive, counted, and so it stood that day
    assert query(dsn, "select agent_id %% 100, is_active, seen from agent_status_history where sync_date = %s"
                      " order by 1", (DAY,)) == [(1, True, True), (2, True, True), (3, False, True),
                                                 (4, False, True), (6, False, False)]  # 5 quarantined, 7 not known yet
    assert query(dsn, "select agents_unseen, agents_quarantined from agent_pipeline_runs where task = 'LoadStaging'"
                      " order by sync_date") == [(0, 0), (1, 1), (0, 1)]
    assert query(dsn, "select status, deactivated from agents_as_of(%s) where agent_id = 11200000006", (DAY,)) == [
        ("inactive", True)]
    assert query(dsn, "select status, name, first_sync_date from agents where agent_id = 11200000006") == [
        ("inactive", "Lucia Alves", DAY1)]
    report = (pipeline_env["output_root"] / "reports" / f"{DAY}.html").read_text()
    assert "Not seen this day (1)" in report and "<code>11200000006</code> Lucia Alves" in report

    # quarantined: its valid details record, which has a warning, is not said to be loaded
    loaded = report[report.index("Warnings by reason (the records loaded)"):report.index("Warnings on records not")]
    not_loaded = report[report.index("Warnings on records not loaded"):]
    assert "11200000005" not in loaded and "<code>11200000005</code>" in not_loaded

    # a day loaded after a later one: the later day's counts and lists agree (both from the history as it is now)
    later = (pipeline_env["output_root"] / "reports" / f"{DAY3}.html").read_text()
    counts = dict(re.findall(r"<tr><th>([a-z ()]+)</th><td class=n>([\d,]+)</td></tr>", later))
    assert counts["reactivated this day"] == "1" and "Reactivated this day (1)" in later  # 4, inactive on day 2
    assert query(dsn, "select agents_reactivated from agent_pipeline_runs where task = 'SnapshotHistory'"
                      " and sync_date = %s", (DAY3,)) == [(0,)]  # as the run counted it, before day 2 was loaded

    # day 3 corrected and re-processed: agent 7 was never there, agent 4's list record is invalid (quarantined):
    # agents goes back to what the other days say
    day3 = raw / DAY3.isoformat()
    (day3 / "agent_details" / "11200000007.json").unlink()
    for page_path in (day3 / "agents").glob("*.json"):
        page = [record for record in json.loads(page_path.read_text()) if record["id"] != 11200000007]
        for record in page:
            if record["id"] == 11200000004:
                record["available"] = "yes"
        page_path.write_text(json.dumps(page))
    run(Reprocess(start=DAY3, stop=DAY3 + datetime.timedelta(days=1)))
    run(SnapshotHistory(sync_date=DAY3))
    assert query(dsn, "select count(*) from agents where agent_id = 11200000007") == [(0,)]
    assert query(dsn, "select status, sync_date, job_title from agents where agent_id = 11200000004") == (
        query(dsn, "select status, %s::date, job_title from agents_as_of(%s) where agent_id = 11200000004",
              (DAY, DAY3))) == [("inactive", DAY, json.loads((day2 / "agent_details" / "11200000004.json")
                                                             .read_text())["contact"]["job_title"])]
