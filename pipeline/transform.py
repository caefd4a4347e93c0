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

from pipeline.tables import CONTACT_FIELDS, ERROR_COLUMNS, RECORD_FIELDS, STAGING_COLUMNS

SOURCE = "api"

SPARK_TYPES = {"bigint": T.LongType(), "boolean": T.BooleanType(), "string": T.StringType()}
CONTACT = T.StructType([T.StructField(name, T.StringType()) for name in CONTACT_FIELDS])

# Only the fields the pipeline reads (tables.RECORD_FIELDS): ValidateRaw writes no others.
RECORD = T.StructType([
    *(T.StructField(name, SPARK_TYPES[kind]) for name, kind in RECORD_FIELDS.items()),
    T.StructField("contact", CONTACT),
])

VALIDATED = T.StructType([
    T.StructField("kind", T.StringType()),
    T.StructField("file_seq", T.IntegerType()),
    T.StructField("pos", T.IntegerType()),
    T.StructField("record", RECORD),
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

def with_flat_record(records: DataFrame) -> DataFrame:
    """One column per staging field: ``record.*`` and ``record.contact.*`` lifted to the top level."""
    return records.select(
        "kind", "file_seq", "pos",
        F.col("record.id").alias("agent_id"),
        *(F.col(f"record.contact.{field}").alias(field) for field in CONTACT.fieldNames()),
        F.col("record.available").alias("available"),
        F.col("record.deactivated").alias("source_deactivated"),
        F.col("record.focus_mode").alias("focus_mode"),
        F.col("record.agent_operational_status").alias("agent_operational_status"),
        F.col("record.last_active_at").alias("last_active_at"),
        F.col("record.created_at").alias("created_at"),
        F.col("record.updated_at").alias("updated_at"),
    )


def rfc3339_timestamp(column: Column) -> Column:
    """An RFC 3339 string as a Spark timestamp, for ordering. Spark's parser needs upper-case ``T``/``Z``
    and knows no leap second: ``23:59:60`` orders as ``23:59:59``. Invalid or null input gives null."""
    return F.to_timestamp(F.regexp_replace(F.upper(column), r"(T\d\d:\d\d):60", "$1:59"))


def filter_latest_per_agent(agents: DataFrame) -> DataFrame:
    """Keep one record per agent: latest ``updated_at`` (null lowest), then the list record,
    then the later file, then the later position in the file.

    An agent normally has one list and one details record; ``duplicates`` counts the records
    beyond one of each kind (the same agent twice in the list pages, or twice in the details).
    One aggregation: no sort of the whole day."""
    updated = rfc3339_timestamp(F.col("updated_at"))
    is_list = F.col("kind") == F.lit("list")
    precedence = F.struct(updated.isNotNull(), F.coalesce(updated, F.lit(0).cast("timestamp")), is_list,
                          F.col("file_seq"), F.col("pos"))
    payload = [name for name in agents.columns if name not in ("agent_id", "kind", "file_seq", "pos")]
    return (
        agents.groupBy("agent_id")
        .agg(
            F.max_by(F.struct(*payload), precedence).alias("latest"),
            (F.count(F.lit(1)) - F.max(is_list.cast("int")) - F.max((~is_list).cast("int"))).alias("duplicates"),
        )
        .select("agent_id", "latest.*", "duplicates")
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
        .transform(with_flat_record)
        .transform(filter_latest_per_agent)
        .transform(with_list_status, list_ids)
        .transform(filter_quarantined)
        .transform(with_deactivation)
        .transform(with_sync_columns, sync_date)
    )


def copy_text_field(column: Column) -> Column:
    """A value in PostgreSQL COPY text format: ``\\N`` for null; backslash, tab, newline and CR escaped."""
    text = column.cast(T.StringType())
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = F.replace(text, F.lit(raw), F.lit(escaped))
    return F.when(column.isNull(), F.lit("\\N")).otherwise(text)


def to_copy_text(df: DataFrame, columns) -> DataFrame:
    """One ``value`` line per row, ready for ``COPY … FROM STDIN`` (text format) with ``columns`` in order."""
    return df.select(F.concat_ws("\t", *(copy_text_field(F.col(name)) for name in columns)).alias("value"))


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
