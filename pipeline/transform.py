"""The day's Spark transform: validated records in, one staging row per agent out.

Every step is a pure ``DataFrame -> DataFrame`` function, chained with ``DataFrame.transform``.
``transform_day`` is the only function here that reads or writes files.
"""
import datetime
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipeline.tables import CARRIED_COLUMNS, ERROR_COLUMNS, RECORD_FIELDS, STAGING_COLUMNS

SOURCE = "api"

SPARK_TYPES = {"bigint": T.LongType(), "boolean": T.BooleanType(), "string": T.StringType()}

# One line per valid record: where it came from, the loaded fields (tables.RECORD_FIELDS: ValidateRaw
# writes no others) and ``absent``, the fields whose key the record does not have.
VALIDATED = T.StructType([
    T.StructField("kind", T.StringType()),
    T.StructField("file_seq", T.IntegerType()),
    T.StructField("pos", T.IntegerType()),
    *(T.StructField(column, SPARK_TYPES[kind]) for column, (_, kind) in RECORD_FIELDS.items()),
    T.StructField("absent", T.ArrayType(T.StringType())),
])

LIST_IDS = T.StructType([T.StructField("agent_id", T.LongType()), T.StructField("valid", T.BooleanType())])

REJECTS = T.StructType([
    T.StructField("agent_id", T.LongType()),
    T.StructField("source_file", T.StringType()),
    T.StructField("record_index", T.IntegerType()),
    T.StructField("error_type", T.StringType()),
    T.StructField("error_message", T.StringType()),
    T.StructField("raw_record", T.StringType()),
])

MERGED_FIELDS = [column for column in RECORD_FIELDS if column != "agent_id"]


def rfc3339_timestamp(column: Column) -> Column:
    """An RFC 3339 string as a Spark timestamp, for ordering. Spark's parser needs upper-case ``T``/``Z``
    and knows no leap second: ``23:59:60`` orders as ``23:59:59``. Invalid or null input gives null."""
    return F.to_timestamp(F.regexp_replace(F.upper(column), r"(T\d\d:\d\d):60", "$1:59"))


def with_fields_merged_per_agent(records: DataFrame) -> DataFrame:
    """One row per agent: the winning record, each field it lacks taken from the next record that carries it.

    Records rank by latest ``updated_at`` (null lowest), then the list record, then the later file, then the
    later position in the file. For each field, the best-ranked record whose keys include it gives the value
    (an explicit null is a value); ``absent_fields`` names the fields that no record of the agent carried.
    An agent normally has one list and one details record; ``duplicates`` counts the records beyond one of
    each kind (the same agent twice in the list pages, or twice in the details). One aggregation: no sort."""
    updated = rfc3339_timestamp(F.col("updated_at"))
    is_list = F.col("kind") == F.lit("list")
    ranked = records.select(  # each record's rank and which fields it carries, computed once
        "agent_id", *MERGED_FIELDS, is_list.alias("is_list"),
        F.struct(updated.isNotNull(), F.coalesce(updated, F.lit(0).cast("timestamp")), is_list,
                 F.col("file_seq"), F.col("pos")).alias("rank"),
        *(F.coalesce(~F.array_contains("absent", field), F.lit(True)).alias(f"carries_{field}")
          for field in MERGED_FIELDS),
    )
    # max_by skips rows whose ordering is null: the records that lack the field
    merged = [F.max_by(field, F.when(F.col(f"carries_{field}"), F.col("rank"))).alias(field) for field in MERGED_FIELDS]
    absent = F.array_compact(F.array(*(F.when(~F.max(f"carries_{field}"), F.lit(field)) for field in CARRIED_COLUMNS)))
    return (
        ranked.groupBy("agent_id")
        .agg(
            *merged,
            absent.alias("absent_fields"),
            (F.count(F.lit(1)) - F.max(F.col("is_list").cast("int")) - F.max((~F.col("is_list")).cast("int")))
            .alias("duplicates"),
        )
    )


def with_list_status(agents: DataFrame, list_ids: DataFrame) -> DataFrame:
    """``listed``: the day's list pages name the agent; ``quarantined``: one of its list records is invalid."""
    status = list_ids.groupBy("agent_id").agg(F.lit(True).alias("listed"), F.max(~F.col("valid")).alias("quarantined"))
    return (
        agents.join(status, "agent_id", "left")
        .withColumn("listed", F.coalesce("listed", F.lit(False)))
        .withColumn("quarantined", F.coalesce("quarantined", F.lit(False)))
    )


def filter_quarantined(agents: DataFrame) -> DataFrame:
    """Drop every agent that has an invalid list record today: an invalid record never changes what we believe."""
    return agents.where(~F.col("quarantined")).drop("quarantined")


def with_deactivation(agents: DataFrame) -> DataFrame:
    """``deactivated`` = not in today's list pages, or deactivated by the source; ``status`` follows from it."""
    deactivated = ~F.col("listed") | F.coalesce(F.col("source_deactivated"), F.lit(False))
    return (
        agents
        .withColumn("deactivated", deactivated)
        .withColumn("status", F.when(F.col("deactivated"), F.lit("inactive")).otherwise(F.lit("active")))
        .drop("listed", "source_deactivated")
    )


def with_sync_columns(df: DataFrame, sync_date: datetime.date) -> DataFrame:
    """The sync date, the raw day folder it came from, and the source."""
    return (
        df.withColumn("sync_date", F.lit(sync_date).cast(T.DateType()))
        .withColumn("sync_day", F.lit(sync_date.isoformat()))
        .withColumn("source", F.lit(SOURCE))
    )


def staged_agents(records: DataFrame, list_ids: DataFrame, sync_date: datetime.date) -> DataFrame:
    """One staging row per known, not quarantined agent of the day (plus its ``duplicates`` count)."""
    return (
        records
        .transform(with_fields_merged_per_agent)
        .transform(with_list_status, list_ids)
        .transform(filter_quarantined)
        .transform(with_deactivation)
        .transform(with_sync_columns, sync_date)
    )


def copy_text_field(column: Column, data_type: T.DataType) -> Column:
    """A value in PostgreSQL COPY text format: ``\\N`` for null; backslash, tab, newline and CR escaped.
    An array of text becomes an array literal, each element quoted: ``{"language","time_zone"}``."""
    if isinstance(data_type, T.ArrayType):
        def quoted(element: Column) -> Column:
            escaped = F.replace(F.replace(element, F.lit("\\"), F.lit("\\\\")), F.lit('"'), F.lit('\\"'))
            return F.concat(F.lit('"'), escaped, F.lit('"'))

        text = F.concat(F.lit("{"), F.array_join(F.transform(column, quoted), ","), F.lit("}"))
    else:
        text = column.cast(T.StringType())
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = F.replace(text, F.lit(raw), F.lit(escaped))
    return F.when(column.isNull(), F.lit("\\N")).otherwise(text)


def to_copy_text(df: DataFrame, columns) -> DataFrame:
    """One ``value`` line per row, ready for ``COPY … FROM STDIN`` (text format) with ``columns`` in order."""
    return df.select(F.concat_ws("\t", *(copy_text_field(F.col(name), df.schema[name].dataType)
                                         for name in columns)).alias("value"))


def transform_day(spark: SparkSession, validated_dir: Path, out_dir: Path, sync_date: datetime.date) -> dict:
    """Read a validated day, write ``agents/`` and ``errors/`` as COPY text files, return the day's counts."""
    def read(name, schema):
        return spark.read.schema(schema).option("mode", "FAILFAST").json(str(validated_dir / name))

    staged = staged_agents(read("valid-*.jsonl", VALIDATED), read("list_ids-*.jsonl", LIST_IDS), sync_date)
    staged = staged.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        staged.transform(to_copy_text, STAGING_COLUMNS).write.text(str(out_dir / "agents"))
        (read("rejects-*.jsonl", REJECTS).transform(with_sync_columns, sync_date)
         .transform(to_copy_text, ERROR_COLUMNS).write.text(str(out_dir / "errors")))
        totals = staged.agg(
            F.count(F.lit(1)).alias("agents_staged"),
            F.coalesce(F.sum("duplicates"), F.lit(0)).alias("duplicates_resolved"),
        ).first()
    finally:
        staged.unpersist()
    return totals.asDict()
