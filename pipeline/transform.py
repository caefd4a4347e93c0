"""The day's Spark transform: validated records in, one staging row per agent out, for one account or many at
once (an agent is an ``account`` and an ``agent_id``: two accounts may have the same agent id).

Every step is a pure ``DataFrame -> DataFrame`` function, chained with ``DataFrame.transform``.
``transform_accounts`` is the only function here that reads or writes files.
"""
import datetime
import math
import shutil
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipeline.handoff import PARTS, part_glob, row_count, spark_schema
from pipeline.names import DEFAULT_ACCOUNT
from pipeline.spark import job_write_errors
from pipeline.tables import CARRIED_COLUMNS, ERROR_COLUMNS, RECORD_FIELDS, STAGING_COLUMNS

SOURCE = "api"

MERGED_FIELDS = [column for column in RECORD_FIELDS if column != "agent_id"]
AGENT = ["account", "agent_id"]  # what names an agent: its account, and its id there


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
    each kind (the same agent twice in the list pages, or twice in the details).

    The ranking is one sort within each agent (a window), which numbers the records 1, 2, …; each field is
    then the value of the lowest number that carries it: comparing numbers is several times cheaper than
    comparing the ranking's five columns once per field."""
    updated = rfc3339_timestamp(F.col("updated_at"))
    is_list = F.col("kind") == F.lit("list")
    ranking = Window.partitionBy(*AGENT).orderBy(
        updated.desc_nulls_last(), is_list.desc(), F.col("file_seq").desc(), F.col("pos").desc())
    # (SQL expressions per field: one call to the JVM each)
    ranked = records.select(  # each record's place and which fields it carries, computed once
        *AGENT, *MERGED_FIELDS, is_list.alias("is_list"), F.row_number().over(ranking).alias("place"),
        *(F.expr(f"coalesce(not array_contains(absent, '{field}'), true) as carries_{field}")
          for field in MERGED_FIELDS),
    )
    # min_by skips rows whose ordering is null: the records that lack the field
    merged = [F.expr(f"min_by({field}, case when carries_{field} then place end) as {field}")
              for field in MERGED_FIELDS]
    absent = F.expr("array_compact(array(" + ", ".join(f"case when not max(carries_{field}) then '{field}' end"
                                                     for field in CARRIED_COLUMNS) + "))")
    return (
        ranked.groupBy(*AGENT)
        .agg(
            *merged,
            absent.alias("absent_fields"),
            (F.count(F.lit(1)) - F.max(F.col("is_list").cast("int")) - F.max((~F.col("is_list")).cast("int")))
            .alias("duplicates"),
        )
    )


def list_status(list_ids: DataFrame) -> DataFrame:
    """One row per agent that the day's list pages name: ``listed`` (true), and ``quarantined`` when one of its
    list records is invalid. Computed once a day: the plans that use it share its shuffle."""
    return list_ids.groupBy(*AGENT).agg(F.lit(True).alias("listed"), F.max(~F.col("valid")).alias("quarantined"))


def with_list_status(agents: DataFrame, list_ids: DataFrame) -> DataFrame:
    """``listed``: the day's list pages name the agent; ``quarantined``: one of its list records is invalid."""
    return (
        agents.join(list_status(list_ids).hint("shuffle_hash"), AGENT, "left")  # both sides are hashed by agent
        .withColumns({"listed": F.coalesce("listed", F.lit(False)),
                      "quarantined": F.coalesce("quarantined", F.lit(False))})
    )


def quarantined_agents(list_ids: DataFrame) -> DataFrame:
    """The agents with an invalid list record today, one row each: ``filter_quarantined`` drops them, and
    LoadStaging leaves them out of the known agents that no record named."""
    return list_status(list_ids).where(F.col("quarantined") & F.col("agent_id").isNotNull()).select(*AGENT)


def filter_quarantined(agents: DataFrame) -> DataFrame:
    """Drop every agent that has an invalid list record today: an invalid record never changes what we believe."""
    return agents.where(~F.col("quarantined")).drop("quarantined")


def with_deactivation(agents: DataFrame) -> DataFrame:
    """``deactivated`` = not in today's list pages, or deactivated by the source; ``status`` follows from it."""
    deactivated = ~F.col("listed") | F.coalesce(F.col("source_deactivated"), F.lit(False))
    return (
        agents
        .withColumns({"deactivated": deactivated,
                      "status": F.when(deactivated, F.lit("inactive")).otherwise(F.lit("active"))})
        .drop("listed", "source_deactivated")
    )


def with_sync_columns(df: DataFrame, sync_date: datetime.date) -> DataFrame:
    """The sync date, the raw day folder it came from, and the source."""
    return df.withColumns({"sync_date": F.lit(sync_date).cast(T.DateType()),
                           "sync_day": F.lit(sync_date.isoformat()), "source": F.lit(SOURCE)})


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


def copy_text_field(name: str, data_type: T.DataType) -> Column:
    """Column ``name`` in PostgreSQL COPY text format: ``\\N`` for null; backslash, tab, newline and CR
    escaped. An array of text becomes an array literal, each element quoted: ``{"language","time_zone"}``.

    Written as one SQL expression (characters by code: chr(92) is the backslash): one call to the JVM
    per column instead of one per function."""
    column = f"`{name}`"
    if isinstance(data_type, T.ArrayType):
        quoted = "concat('\"', replace(replace(x, chr(92), chr(92) || chr(92)), '\"', chr(92) || '\"'), '\"')"
        text = f"concat('{{', array_join(transform({column}, x -> {quoted}), ','), '}}')"
    else:
        text = f"cast({column} as string)"
    for code, letter in ((92, "chr(92)"), (9, "'t'"), (10, "'n'"), (13, "'r'")):
        text = f"replace({text}, chr({code}), chr(92) || {letter})"
    return F.expr(f"case when {column} is null then '\\\\N' else {text} end")


def copy_text_line(df: DataFrame, columns) -> Column:
    """A row of ``df`` as a ``COPY … FROM STDIN`` line (text format) of ``columns`` in order."""
    schema = df.schema  # one call to the JVM, not one per column
    return F.concat_ws("\t", *(copy_text_field(name, schema[name].dataType) for name in columns))


def to_copy_text(df: DataFrame, columns) -> DataFrame:
    """One ``value`` line per row, ready for ``COPY … FROM STDIN`` (text format) with ``columns`` in order."""
    return df.select(copy_text_line(df, columns).alias("value"))


def to_staging_lines(staged: DataFrame) -> DataFrame:
    """Each staged agent's stg_agents line (``output`` agents) and, for an agent whose duplicates were resolved, a
    line of their number and its account (``output`` counts): the day's counts come from the lines written, in
    the same pass over the staged agents (a second branch would merge the day's records twice)."""
    counted = F.concat(F.col("duplicates").cast("string"), F.lit("\t"), F.col("account"))
    return (
        staged.select(F.inline(F.array(
            F.struct(copy_text_line(staged, STAGING_COLUMNS).alias("value"), F.lit("agents").alias("output")),
            F.struct(F.when(F.col("duplicates") > 0, counted).alias("value"), F.lit(COUNTS).alias("output")),
        )))
        .where(F.col("value").isNotNull())
    )


# The folders of a transformed day: COPY text for stg_agents and for the errors, and the quarantined agent ids
OUTPUTS = ("agents", "errors", "quarantined")
COUNTS = "counts"  # a line per agent with duplicates resolved: their number, its account (read, then not kept)


def with_account_of_file(df: DataFrame, accounts: dict[str, Path]) -> DataFrame:
    """``account``: the account whose validated folder the row was read from (``accounts``: name → folder). The
    folders are ``<stage>/<account>/YYYY-MM-DD`` (``<stage>/YYYY-MM-DD`` for the default account): the name of
    the folder above the day's is the account's, or stands for the default account.

    Taken from the file even for one account: Spark knows then that the rows hashed by account and agent for
    the ranking are already where the merge and the join by agent need them; a literal account is a
    different key to it, and costs the day's records two more shuffles."""
    above = {folder.parent.name: account for account, folder in accounts.items()}
    if len(above) < len(accounts) or any(name != account for name, account in above.items()
                                         if account != DEFAULT_ACCOUNT):
        raise ValueError("the accounts' folders are not <stage>/<account>/<day>:"
                         f" {sorted(map(str, accounts.values()))}")
    folder = F.regexp_extract(F.input_file_name(), r"/([^/]+)/[^/]+/[^/]+$", 1)
    default = [name for name, account in above.items() if account == DEFAULT_ACCOUNT]
    return df.withColumn("account", F.when(folder == default[0], F.lit(DEFAULT_ACCOUNT)).otherwise(folder)
                         if default else folder)


def transform_accounts(spark: SparkSession, validated: dict[str, Path], lines: Path,
                       sync_date: datetime.date) -> dict[str, dict]:
    """Read the validated day of each account (``validated``: name → folder) and write, for each account,
    ``lines/account=<name>/<kind>/``: ``agents``, ``errors`` and ``quarantined`` as COPY text files
    (:func:`take_account_lines` moves them to the account's folder). Returns each account's counts.

    One Spark job for every account: all their lines are written by one write, partitioned by kind only (a
    partition per account would cost a sort and a file per account and task), each line ending with its account;
    the lines of each account are then split out here (for one account, its folders are only renamed). The
    counts come from the lines: the account's stg_agents lines, and its lines of duplicates resolved.

    Spark gets absolute paths: it resolves a relative one against its JVM's working folder, which need not be
    this process's (a JVM that several runs share, or a cluster's driver)."""
    validated = {account: Path(folder).absolute() for account, folder in validated.items()}
    lines = Path(lines).absolute()
    rows = sum(row_count(folder, "valid") for folder in validated.values())
    with shuffle_partitions(spark, rows), listed_by_the_driver(spark, len(validated)):
        _write_accounts(spark, validated, lines, sync_date)
    counts = {account: {"agents_staged": 0, "duplicates_resolved": 0} for account in validated}
    for part in sorted(lines.glob(f"output={COUNTS}/part-*")):
        for line in part.read_text(encoding="utf-8").splitlines():
            duplicates, account = line.split("\t")
            counts[account]["duplicates_resolved"] += int(duplicates)
    if len(validated) == 1:
        [account] = validated
        counts[account]["agents_staged"] = sum(map(count_lines, lines.glob("output=agents/part-*")))
        (lines / f"account={account}").mkdir()
        for name in OUTPUTS:
            if (lines / f"output={name}").is_dir():
                (lines / f"output={name}").rename(lines / f"account={account}" / name)
    else:
        for account, staged in split_by_account(lines, validated).items():
            counts[account]["agents_staged"] = staged
    return counts


def count_lines(path: Path) -> int:
    with open(path, "rb") as stream:
        return sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b""))


def split_by_account(lines: Path, accounts) -> dict[str, int]:
    """``lines/output=<kind>/part-*`` (lines ending with a tab and their account) into one file per account and
    kind, ``lines/account=<name>/<kind>/part-00000``; returns each account's number of ``agents`` lines."""
    staged = {}
    for name in OUTPUTS:
        by_account = {}
        for part in sorted(lines.glob(f"output={name}/part-*")):
            with open(part, "rb") as stream:
                for line in stream:
                    by_account.setdefault(line[line.rindex(b"\t") + 1:].rstrip(b"\n").decode(), []).append(line)
        for account, account_lines in by_account.items():
            folder = lines / f"account={account}" / name
            folder.mkdir(parents=True)
            with open(folder / "part-00000", "wb") as stream:
                stream.writelines(account_lines)
            if name == "agents":
                staged[account] = len(account_lines)
    return staged


def transform_day(spark: SparkSession, validated_dir: Path, out_dir: Path, sync_date: datetime.date,
                  account: str = DEFAULT_ACCOUNT) -> dict:
    """One account's day: :func:`transform_accounts`, its folders moved to ``out_dir``; returns its counts."""
    lines = out_dir / "_lines"
    counts = transform_accounts(spark, {account: validated_dir}, lines, sync_date)[account]
    take_account_lines(lines, account, out_dir)
    shutil.rmtree(lines)
    return counts


def take_account_lines(lines: Path, account: str, out_dir: Path) -> None:
    """Move the account's folders that :func:`transform_accounts` wrote to ``out_dir`` (a kind without lines gets
    an empty folder)."""
    for name in OUTPUTS:
        written = lines / f"account={account}" / name
        if written.is_dir():
            written.rename(out_dir / name)
        else:
            (out_dir / name).mkdir()


ROWS_PER_PARTITION = 250_000


def partitions_for(rows: int, cores: int, most: int) -> int:
    """One partition per ROWS_PER_PARTITION records, at least one per core, at most ``most``: a small day's job
    is not cut into tasks of a few rows."""
    return min(most, max(cores, math.ceil(rows / ROWS_PER_PARTITION)))


@contextmanager
def shuffle_partitions(spark: SparkSession, rows: int):
    """The day's shuffles in :func:`partitions_for` partitions (``spark.sql.shuffle.partitions`` is the most)."""
    key = "spark.sql.shuffle.partitions"
    configured = spark.conf.get(key)
    spark.conf.set(key, str(partitions_for(rows, spark.sparkContext.defaultParallelism, int(configured))))
    try:
        yield
    finally:
        spark.conf.set(key, configured)


@contextmanager
def listed_by_the_driver(spark: SparkSession, folders: int):
    """The folders of many accounts listed by the driver: past ``parallelPartitionDiscovery.threshold`` paths (32),
    Spark lists them with a job of its own, which costs seconds where the driver takes milliseconds."""
    key = "spark.sql.sources.parallelPartitionDiscovery.threshold"
    configured = spark.conf.get(key)
    spark.conf.set(key, str(max(int(configured), folders + 1)))
    try:
        yield
    finally:
        spark.conf.set(key, configured)


def _write_accounts(spark: SparkSession, validated: dict[str, Path], lines: Path, sync_date: datetime.date) -> None:
    def read(name):
        paths = [str(folder / part_glob(name)) for folder in validated.values()]
        return (spark.read.schema(spark_schema(PARTS[name])).parquet(*paths)
                .transform(with_account_of_file, validated))

    # account is the last column of stg_agents' and the errors' COPY lines: each line ends with it
    agents = staged_agents(read("valid"), read("list_ids"), sync_date).transform(to_staging_lines)
    errors = (read("rejects").transform(with_sync_columns, sync_date).transform(to_copy_text, ERROR_COLUMNS)
              .withColumn("output", F.lit("errors")))
    quarantined = (quarantined_agents(read("list_ids")).transform(to_copy_text, ["agent_id", "account"])
                   .withColumn("output", F.lit("quarantined")))
    with job_write_errors(lines.parent):  # a full or read-only disk: the OSError it is, worded by pipeline.locks
        agents.unionByName(errors).unionByName(quarantined).write.partitionBy("output").text(
            str(lines))
