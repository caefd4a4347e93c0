"""The Spark transform functions, on tiny inline DataFrames (null cases included)."""
import datetime

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from conftest import without
from pipeline.handoff import LIST_ID_COLUMNS, VALID_COLUMNS, PartWriter, spark_schema
from pipeline.raw import loaded_fields
from pipeline.tables import STAGING_COLUMNS
from pipeline.transform import (
    copy_text_field,
    filter_quarantined,
    quarantined_agents,
    rfc3339_timestamp,
    staged_agents,
    to_copy_text,
    with_deactivation,
    with_fields_merged_per_agent,
    with_list_status,
    with_sync_columns,
)

DAY = datetime.date(2024, 1, 2)


def record(agent_id, updated_at="2024-01-01T00:00:00Z", deactivated=False, email="a@example.com", **contact):
    return {
        "id": agent_id, "available": True, "deactivated": deactivated, "focus_mode": None,
        "agent_operational_status": "available", "last_active_at": None, "created_at": None,
        "updated_at": updated_at, "contact": {"email": email, "name": contact.get("name", "A"),
                                              "job_title": contact.get("job_title"), "language": None,
                                              "mobile": None, "phone": None, "time_zone": None},
    }


def validated(spark, *rows):
    """rows: (kind, file_seq, pos, record), each written as ValidateRaw writes a valid record"""
    return (spark.createDataFrame([(k, f, p, *loaded_fields(r)[0], loaded_fields(r)[1]) for k, f, p, r in rows],
                                  spark_schema(VALID_COLUMNS))
            .withColumn("account", F.lit("default")))


def list_ids(spark, *rows):
    return spark.createDataFrame(list(rows), spark_schema(LIST_ID_COLUMNS)).withColumn("account", F.lit("default"))


def test_validated_rows_keep_nulls_and_name_absent_keys_through_the_parquet_hand_off(spark, tmp_path):
    with PartWriter(tmp_path / "valid-00000.parquet", VALID_COLUMNS, batch_rows=1) as writer:
        for kind, record_ in (("list", record(1, job_title=None)),
                              ("details", without(record(2, updated_at=None), "focus_mode", "contact.language"))):
            values, absent = loaded_fields(record_)
            writer.write((kind, 0, 0, *values, absent))
    df = spark.read.schema(spark_schema(VALID_COLUMNS)).parquet(str(tmp_path / "valid-*.parquet"))
    rows = {r.agent_id: r for r in df.collect()}
    assert rows[1].email == "a@example.com" and rows[1].job_title is None and rows[1].absent == []
    assert rows[2].updated_at is None and rows[2].focus_mode is None
    assert rows[2].absent == ["focus_mode", "language"]
    assert rows[1].source_deactivated is False


def test_with_list_status_and_filter_quarantined(spark):
    agents = spark.createDataFrame([("default", 1), ("default", 2), ("default", 3), ("default", 4)],
                                   "account string, agent_id long")
    ids = list_ids(spark, (1, True), (2, False), (2, True), (4, True), (4, True))
    rows = {r.agent_id: (r.listed, r.quarantined) for r in agents.transform(with_list_status, ids).collect()}
    assert rows == {1: (True, False), 2: (True, True), 3: (False, False), 4: (True, False)}
    kept = agents.transform(with_list_status, ids).transform(filter_quarantined)
    assert sorted(r.agent_id for r in kept.collect()) == [1, 3, 4]
    assert "quarantined" not in kept.columns


def test_quarantined_agents_are_those_with_an_invalid_list_record_once_each(spark):
    ids = list_ids(spark, (1, True), (2, False), (2, False), (2, True), (3, False), (None, False))
    assert sorted(r.agent_id for r in ids.transform(quarantined_agents).collect()) == [2, 3]


def latest(spark, *rows):
    return {r.agent_id: r for r in validated(spark, *rows).transform(with_fields_merged_per_agent).collect()}


def test_latest_updated_at_wins_and_null_is_lowest(spark):
    rows = latest(
        spark,
        ("list", 0, 0, record(1, "2024-01-01T00:00:00Z", name="old")),
        ("details", 0, 0, record(1, "2024-01-01T01:00:00+00:30", name="new")),  # 00:30 UTC: later
        ("list", 0, 1, record(2, None, name="null")),
        ("details", 1, 0, record(2, "2020-01-01T00:00:00Z", name="dated")),
    )
    assert rows[1].name == "new"
    assert rows[2].name == "dated"


@pytest.mark.parametrize("text, expected", [
    ("2024-01-02T10:00:00Z", "2024-01-02 10:00:00.000"),
    ("2024-01-02t10:00:00z", "2024-01-02 10:00:00.000"),
    ("2024-01-02T10:00:00.5+05:30", "2024-01-02 04:30:00.500"),
    ("2024-01-02T23:59:60Z", "2024-01-02 23:59:59.000"),
    ("not a time", None),
    (None, None),
])
def test_rfc3339_timestamp(spark, text, expected):
    df = spark.createDataFrame([(text,)], "v string")
    as_utc = F.date_format(rfc3339_timestamp(F.col("v")), "yyyy-MM-dd HH:mm:ss.SSS")  # session time zone: UTC
    assert df.select(as_utc.alias("t")).first().t == expected


def test_a_tie_goes_to_the_list_record_then_later_file_then_later_position(spark):
    rows = latest(
        spark,
        ("details", 9, 0, record(1, name="details")),
        ("list", 0, 0, record(1, name="list")),
        ("list", 1, 0, record(2, name="earlier file")),
        ("list", 2, 0, record(2, name="later file")),
        ("list", 3, 0, record(3, name="earlier position")),
        ("list", 3, 1, record(3, name="later position")),
        ("list", 4, 0, record(4, None, name="both null, first")),
        ("list", 4, 1, record(4, None, name="both null, second")),
    )
    assert {k: v.name for k, v in rows.items()} == {
        1: "list", 2: "later file", 3: "later position", 4: "both null, second"}


def test_duplicates_count_records_beyond_one_list_and_one_details_record(spark):
    rows = latest(
        spark,
        ("list", 0, 0, record(1)), ("details", 0, 0, record(1)),  # the normal pair: no duplicate
        ("list", 0, 1, record(2)), ("list", 1, 0, record(2)), ("details", 1, 0, record(2)),
    )
    assert {k: v.duplicates for k, v in rows.items()} == {1: 0, 2: 1}


def test_with_deactivation(spark):
    agents = spark.createDataFrame(
        [(1, False, True), (2, True, True), (3, False, False), (4, None, True), (5, None, False)],
        "agent_id long, source_deactivated boolean, listed boolean")
    rows = {r.agent_id: (r.deactivated, r.status) for r in agents.transform(with_deactivation).collect()}
    assert rows == {
        1: (False, "active"),  # listed, not deactivated by the source
        2: (True, "inactive"),  # listed but deactivated by the source
        3: (True, "inactive"),  # known but not listed
        4: (False, "active"),  # listed, the source says nothing
        5: (True, "inactive"),  # not listed, the source says nothing
    }


def test_with_sync_columns(spark):
    [row] = spark.createDataFrame([(1,)], "agent_id long").transform(with_sync_columns, DAY).collect()
    assert (row.sync_date, row.sync_day, row.source) == (DAY, "2024-01-02", "api")


def test_staged_agents_end_to_end(spark):
    records = validated(
        spark,
        ("list", 0, 0, record(1)), ("details", 0, 0, record(1)),
        ("details", 1, 0, record(2)),  # known, not listed: deactivated
        ("details", 2, 0, record(3)),  # its list record was invalid: quarantined
    )
    ids = list_ids(spark, (1, True), (3, False))
    rows = {r.agent_id: r for r in staged_agents(records, ids, DAY).collect()}
    assert sorted(rows) == [1, 2]
    assert (rows[1].status, rows[2].status) == ("active", "inactive")
    assert rows[2].sync_date == DAY


def test_a_field_the_winning_record_lacks_comes_from_the_next_record_that_carries_it(spark):
    rows = latest(
        spark,
        # the list record wins (later updated_at) but has no focus_mode; the details record has no language
        ("list", 0, 0, without(record(1, "2024-01-02T00:00:00Z", name="list"), "focus_mode")),
        ("details", 0, 0, without(record(1, "2024-01-01T00:00:00Z", name="details") | {"focus_mode": True},
                                  "contact.language")),
        # the other way round: details wins and lacks what the list record has
        ("list", 0, 1, record(2, "2024-01-01T00:00:00Z", name="list", job_title="from list")),
        ("details", 1, 0, without(record(2, "2024-01-02T00:00:00Z", name="details"), "contact.job_title")),
        # an explicit null in the winner is a value: it wins over the other record's value
        ("list", 0, 2, record(3, "2024-01-02T00:00:00Z", job_title=None)),
        ("details", 2, 0, record(3, "2024-01-01T00:00:00Z", job_title="older")),
        # no record carries time_zone or available: absent, not null
        ("details", 3, 0, without(record(4), "contact.time_zone", "available")),
    )
    assert (rows[1].name, rows[1].focus_mode, rows[1].language) == ("list", True, None)
    assert rows[1].absent_fields == []  # the list record carries language (as null)
    assert (rows[2].name, rows[2].job_title) == ("details", "from list")
    assert rows[3].job_title is None and rows[3].absent_fields == []
    assert rows[4].absent_fields == ["time_zone", "available"]
    assert rows[4].time_zone is None and rows[4].available is None


@pytest.mark.parametrize("value, expected", [
    (None, "\\N"),
    ("", ""),
    ("plain", "plain"),
    ('say "hi"', 'say "hi"'),
    ("a\tb", "a\\tb"),
    ("line1\nline2\r\n", "line1\\nline2\\r\\n"),
    ("back\\slash \\N", "back\\\\slash \\\\N"),
    ("Zoë 日本 🙂", "Zoë 日本 🙂"),
])
def test_copy_text_field_escapes_for_postgres(spark, value, expected):
    df = spark.createDataFrame([(value,)], "v string")
    assert df.select(copy_text_field("v", T.StringType()).alias("out")).first().out == expected


@pytest.mark.parametrize("value, expected", [
    ([], "{}"), (None, "\\N"), (["language", "time_zone"], '{"language","time_zone"}'),
    (['odd "quote"', "back\\slash", "tab\t"], '{"odd \\\\"quote\\\\"","back\\\\\\\\slash","tab\\t"}'),
])
def test_copy_text_field_writes_an_array_literal(spark, value, expected):
    df = spark.createDataFrame([(value,)], "v array<string>")
    assert df.select(copy_text_field("v", T.ArrayType(T.StringType())).alias("out")).first().out == expected


def test_to_copy_text_joins_columns_with_tabs(spark):
    df = spark.createDataFrame([Row(a=1, b=None, c=True, d=DAY)], "a long, b string, c boolean, d date")
    assert df.transform(to_copy_text, ["a", "b", "c", "d"]).first().value == "1\t\\N\ttrue\t2024-01-02"


def test_a_day_is_one_spark_job_that_writes_both_outputs_and_counts(spark, tmp_path):
    from conftest import FIXTURES
    from pipeline.raw import validate_day
    from pipeline.transform import transform_day

    validate_day(FIXTURES / "2024-01-02", tmp_path / "validated")
    (tmp_path / "out").mkdir()
    spark.sparkContext.setJobGroup("one-day", "transform_day")
    try:
        counts = transform_day(spark, tmp_path / "validated", tmp_path / "out", DAY)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    assert len(spark.sparkContext.statusTracker().getJobIdsForGroup("one-day")) == 1
    assert counts == {"agents_staged": 6, "duplicates_resolved": 0}
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["agents", "errors", "quarantined"]
    lines = [line for part in (tmp_path / "out" / "agents").glob("part-*") for line in part.read_text().splitlines()]
    assert len(lines) == 6 and all(line.count("\t") == len(STAGING_COLUMNS) - 1 for line in lines)
    assert [p for p in (tmp_path / "out" / "errors").glob("part-*") if p.read_text()] == []


@pytest.mark.parametrize("rows, cores, partitions", [(0, 2, 2), (40_000, 2, 2), (1_000_000, 2, 4), (10_000_000, 2, 8),
                                                     (0, 1, 1), (1_000_000, 16, 8)])
def test_a_day_is_shuffled_into_partitions_by_its_size_at_least_one_a_core_up_to_the_setting(rows, cores, partitions):
    from pipeline.transform import partitions_for

    assert partitions_for(rows, cores, 8) == partitions


def test_the_days_shuffle_partitions_are_set_for_its_job_then_restored(spark):
    from pipeline.transform import partitions_for, shuffle_partitions

    key = "spark.sql.shuffle.partitions"
    before = spark.conf.get(key)
    spark.conf.set(key, "8")
    try:
        with shuffle_partitions(spark, 1_000_000):
            assert spark.conf.get(key) == str(partitions_for(1_000_000, spark.sparkContext.defaultParallelism, 8))
        assert spark.conf.get(key) == "8"
    finally:
        spark.conf.set(key, before)


def test_a_day_validated_by_an_earlier_version_is_refused_with_the_way_out(tmp_path):
    from pipeline.errors import PipelineError
    from pipeline.tasks import TransformAgents

    (tmp_path / "valid-00000.jsonl").write_text("{}\n")  # the JSON lines of earlier versions
    with pytest.raises(PipelineError, match="earlier version .* Reprocess --start 2024-01-02 --stop 2024-01-03"):
        TransformAgents(sync_date=DAY).produce(tmp_path, tmp_path / "out")


def test_many_accounts_are_one_spark_job_and_keep_their_agents_apart(spark, tmp_path):
    """Two accounts with the same agent ids, and a third whose day differs: one job, each account's own lines."""
    from conftest import FIXTURES
    from pipeline.raw import validate_day
    from pipeline.transform import take_account_lines, transform_accounts

    folders = {name: tmp_path / "validated" / name / DAY.isoformat() for name in ("acme", "beta", "gamma")}
    validate_day(FIXTURES / "2024-01-02", folders["acme"])
    validate_day(FIXTURES / "2024-01-02", folders["beta"])
    validate_day(FIXTURES / "2024-01-01", folders["gamma"])
    spark.sparkContext.setJobGroup("accounts", "transform_accounts")
    try:
        counts = transform_accounts(spark, folders, tmp_path / "lines", DAY)
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    assert len(spark.sparkContext.statusTracker().getJobIdsForGroup("accounts")) == 1
    assert counts == {name: {"agents_staged": 6, "duplicates_resolved": 0} for name in folders}
    lines = {}
    for name in folders:
        (tmp_path / name).mkdir()
        take_account_lines(tmp_path / "lines", name, tmp_path / name)
        lines[name] = sorted(line for part in (tmp_path / name / "agents").glob("part-*")
                             for line in part.read_text().splitlines())
        assert {line.rsplit("\t", 1)[1] for line in lines[name]} == {name}
    assert [line.rsplit("\t", 1)[0] for line in lines["acme"]] == [line.rsplit("\t", 1)[0] for line in lines["beta"]]
    assert lines["gamma"] != lines["acme"]  # the first day: other statuses


def test_the_duplicates_resolved_are_counted_for_their_own_account(spark, tmp_path):
    """The bundled sample's third day resolves a duplicate; the fixture day beside it has none."""
    from conftest import FIXTURES, REPO
    from pipeline.raw import validate_day
    from pipeline.transform import transform_accounts

    folders = {name: tmp_path / "validated" / name / DAY.isoformat() for name in ("acme", "beta")}
    validate_day(REPO / "data" / "raw" / "2024-01-03", folders["acme"])
    validate_day(FIXTURES / "2024-01-02", folders["beta"])
    assert transform_accounts(spark, folders, tmp_path / "lines", DAY) == {
        "acme": {"agents_staged": 6, "duplicates_resolved": 1}, "beta": {"agents_staged": 6, "duplicates_resolved": 0}}
