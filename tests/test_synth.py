"""The raw day generator: the real layout and shape, churn, and the same files for the same seed."""
import json

from bench.synth import main as synth
from pipeline.handoff import read_rows
from pipeline.raw import natural_key, validate_day


def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def test_the_same_seed_writes_the_same_files(tmp_path):
    for name in ("a", "b"):
        synth(["--agents", "250", "--days", "3", "--out", str(tmp_path / name), "--seed", "7"])
    assert files(tmp_path / "a") == files(tmp_path / "b")
    synth(["--agents", "250", "--days", "3", "--out", str(tmp_path / "c"), "--seed", "8"])
    assert files(tmp_path / "c") != files(tmp_path / "a")


def test_days_churn_and_carry_every_kind_of_invalid_record(tmp_path):
    synth(["--agents", "1000", "--days", "2", "--out", str(tmp_path), "--deactivate-rate", "0.05",
           "--new-rate", "0.01", "--edit-rate", "0.02", "--invalid-rate", "0.008", "--details-per-file", "100"])
    day1, day2 = tmp_path / "2024-01-01", tmp_path / "2024-01-02"
    pages = sorted(day2.glob("agents/*.json"), key=lambda p: natural_key(p.name))
    assert all(len(json.loads(p.read_text())) == 100 for p in pages[:-1])
    listed = {r["id"] for p in pages for r in json.loads(p.read_text())}
    details = [r for p in day2.glob("agent_details/*.json") for r in json.loads(p.read_text())]
    assert len(details) == 1010 and len(list(day2.glob("agent_details/*.json"))) == 11
    assert 900 < len(listed) < 970  # 5% deactivated, some reactivated, 10 new
    counts = validate_day(day2, tmp_path / "out")
    assert counts["records_invalid"] == 8  # one of each of the eight kinds
    reasons = "\n".join(row["error_message"] for row in read_rows(tmp_path / "out", "rejects"))
    for reason in ('"id" is a required property', 'is not of type "integer"', "less than the minimum of 1",
                   '$.contact: "n/a" is not of type "object"', 'is not a "email"', "should be non-empty",
                   'is not of type "null", "boolean"', 'is not a "date-time"'):
        assert reason in reasons
    assert validate_day(day1, tmp_path / "out1")["records_read"] > 1000
