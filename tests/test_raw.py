"""Reading a raw day: files, parse errors, rejects and list ids (no Spark, no database)."""
import json
import shutil

import pytest

from conftest import FIXTURES
from pipeline.handoff import read_rows
from pipeline.manifest import ManifestUnreadable
from pipeline.raw import RawInputError, day_files, natural_key, validate_day


@pytest.fixture
def day(tmp_path):
    """A copy of the 2024-01-02 fixture day that a test may change."""
    target = tmp_path / "raw" / "2024-01-02"
    shutil.copytree(FIXTURES / "2024-01-02", target)
    return target


def test_a_fixture_day_is_all_valid(day, tmp_path):
    counts = validate_day(day, tmp_path / "out")
    assert counts == {"files_read": 7, "records_read": 10, "records_valid": 10, "records_invalid": 0,
                      "records_warned": 0, "parse_errors": 0, "list_records": 4, "files_unread": 0}
    valid = read_rows(tmp_path / "out", "valid")
    assert [(r["kind"], r["file_seq"], r["pos"]) for r in valid][:2] == [("list", 0, 0), ("list", 0, 1)]
    assert sorted(r["agent_id"] for r in read_rows(tmp_path / "out", "list_ids")) == [
        11200000001, 11200000002, 11200000003, 11200000005]
    assert read_rows(tmp_path / "out", "rejects") == []


def test_invalid_records_become_rejects_with_every_reason(day, tmp_path):
    page = json.loads((day / "agents" / "1.json").read_text())
    page[1]["available"] = "yes"
    page[1]["contact"]["name"] = ""
    (day / "agents" / "1.json").write_text(json.dumps(page))
    validate_day(day, tmp_path / "out")
    [reject] = read_rows(tmp_path / "out", "rejects")
    assert reject["agent_id"] == page[1]["id"]
    assert reject["source_file"] == "2024-01-02/agents/1.json"
    assert reject["record_index"] == 1
    assert reject["error_type"] == "VALIDATION_ERROR"
    assert reject["error_message"].splitlines() == [
        '$.available: "yes" is not of type "null", "boolean"', '$.contact.name: "" should be non-empty']
    assert json.loads(reject["raw_record"]) == page[1]
    ids = {r["agent_id"]: r["valid"] for r in read_rows(tmp_path / "out", "list_ids")}
    assert ids[page[1]["id"]] is False  # still listed, but quarantined downstream


def test_a_details_file_that_is_not_json_is_a_parse_error(day, tmp_path):
    (day / "agent_details" / "11200000009.json").write_text('{"id": 11200000009, "contact": ')
    counts = validate_day(day, tmp_path / "out")
    assert counts["parse_errors"] == 1
    [reject] = read_rows(tmp_path / "out", "rejects")
    assert reject["error_type"] == "PARSE_ERROR"
    assert reject["agent_id"] is None
    assert reject["source_file"] == "2024-01-02/agent_details/11200000009.json"
    assert json.loads(reject["raw_record"]) == '{"id": 11200000009, "contact": '
    assert reject["error_message"].startswith("$: not valid JSON: ")


def test_nan_is_not_json(day, tmp_path):
    (day / "agent_details" / "11200000009.json").write_text('{"id": NaN}')
    assert validate_day(day, tmp_path / "out")["parse_errors"] == 1


def test_a_list_page_that_is_not_json_fails_the_day_naming_the_file(day, tmp_path):
    (day / "agents" / "2.json").write_text("[{]")
    with pytest.raises(RawInputError, match=r"agents/2.json: list page is not valid JSON"):
        validate_day(day, tmp_path / "out")


def test_a_list_page_that_is_not_an_array_fails_the_day(day, tmp_path):
    (day / "agents" / "2.json").write_text('{"id": 1}')
    with pytest.raises(RawInputError, match=r"agents/2.json: a list page must be a JSON array"):
        validate_day(day, tmp_path / "out")


def test_a_details_array_holds_many_agents(day, tmp_path):
    for path in (day / "agent_details").glob("*.json"):
        path.unlink()
    records = json.loads((day / "agents" / "1.json").read_text())
    (day / "agent_details" / "page-1.json").write_text(json.dumps(records))
    counts = validate_day(day, tmp_path / "out")
    assert counts["records_valid"] == 8
    assert [r["pos"] for r in read_rows(tmp_path / "out", "valid") if r["kind"] == "details"] == [0, 1, 2, 3]


@pytest.mark.parametrize("folder", ["agents", "agent_details"])
def test_a_day_without_a_folder_is_refused(day, folder):
    shutil.rmtree(day / folder)
    with pytest.raises(RawInputError, match=folder + ": folder missing"):
        day_files(day)


def test_a_day_without_list_pages_is_refused(day):
    (day / "agents" / "1.json").unlink()
    with pytest.raises(RawInputError, match="no list pages"):
        day_files(day)


def test_files_come_in_natural_order():
    assert sorted(["10.json", "9.json", "1.json"], key=natural_key) == ["1.json", "9.json", "10.json"]


def test_an_integral_float_id_is_valid_and_written_as_an_integer(day, tmp_path):
    page = json.loads((day / "agents" / "1.json").read_text())
    page[0]["id"] = float(page[0]["id"])
    (day / "agents" / "1.json").write_text(json.dumps(page))
    assert validate_day(day, tmp_path / "out")["records_invalid"] == 0
    first = read_rows(tmp_path / "out", "valid")[0]
    assert first["agent_id"] == int(page[0]["id"]) and isinstance(first["agent_id"], int)


def all_lines(out_dir, name):
    return sorted(map(repr, read_rows(out_dir, name)))


def test_parallel_validation_writes_what_one_process_writes(tmp_path):
    from bench.synth import main as synth

    synth(["--agents", "300", "--days", "1", "--out", str(tmp_path / "raw"), "--invalid-rate", "0.02",
           "--duplicate-rate", "0.01"])
    day_dir = tmp_path / "raw" / "2024-01-01"
    one = validate_day(day_dir, tmp_path / "one", workers=1)
    two = validate_day(day_dir, tmp_path / "two", workers=2)
    assert one == two and one["records_invalid"] == 6 and one["files_read"] == 304
    assert len(list((tmp_path / "two").glob("valid-*.parquet"))) == 2  # 304 files: one chunk per worker
    for name in ("valid", "list_ids", "rejects"):
        assert all_lines(tmp_path / "one", name) == all_lines(tmp_path / "two", name)

    (day_dir / "agents" / "3.json").write_text("[")
    with pytest.raises(RawInputError, match="agents/3.json: list page is not valid JSON"):
        validate_day(day_dir, tmp_path / "three", workers=2)


@pytest.mark.parametrize("missing", [["11200000004"], [1e20], [11200000004.5], [2**63], [True]])
def test_a_manifest_naming_an_agent_id_that_is_not_one_is_unreadable_in_one_line(day, tmp_path, missing):
    manifest = {"pages": [{"file": "agents/1.json", "records": 4}],
                "details": {"requested": 1, "fetched": 0, "missing": missing, "failed": []}}
    (day / "_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestUnreadable, match="not a readable extraction manifest .*is not an agent id"):
        validate_day(day, tmp_path / "out")
