"""Each stage's own floor, measured in the benchmark's process on the same day the pipeline just ran.

- **read and validate**: every raw file of the day opened, read and closed, parsed by orjson, and each record
  checked by the compiled jsonschema-rs schema (the pipeline's own, with its format checks), in one process:
  what ValidateRaw cannot do without;
- **transform**: Spark reading the day's Parquet hand-off (what ValidateRaw wrote) and writing it back unchanged,
  in a warm session; the pipeline's transform of the same folder is timed in the same session, after a first
  run of each (the JVM's warm-up), so the two compare work with work. TransformAgents in the run also pays its
  JVM's start, overlapped with validation;
- **database**: PostgreSQL's own COPY of the final staging rows, a plain upsert and the history insert, each
  timed alone (bench.run.floor_stages_by_day).
"""
import datetime
import os
import shutil
import time
from pathlib import Path

import orjson

from pipeline.handoff import PARTS, part_glob, spark_schema
from pipeline.raw import FOLDERS, SCHEMAS
from pipeline.validation import fast_check_for


def read_and_validate_floor(day_dir: Path) -> dict:
    """Seconds to read, parse and check every raw file of ``day_dir`` in one process; and the files and
    records."""
    checks = {kind: fast_check_for(schema) for kind, schema in SCHEMAS.items()}
    paths = [(kind, entry.path) for kind, folder in FOLDERS.items()
             for entry in os.scandir(day_dir / folder) if entry.name.endswith(".json")]
    records = 0
    began = time.perf_counter()
    for kind, path in paths:
        with open(path, "rb") as stream:
            document = orjson.loads(stream.read())
        for record in document if isinstance(document, list) else (document,):
            checks[kind](record)
            records += 1
    return {"seconds": time.perf_counter() - began, "files": len(paths), "records": records}


def spark_copy(spark, validated: Path, out: Path) -> float:
    """Seconds for Spark to read each kind of the hand-off's part files and write it back unchanged (Parquet)."""
    began = time.perf_counter()
    for name, columns in PARTS.items():
        (spark.read.schema(spark_schema(columns)).parquet(str(validated / part_glob(name)))
         .write.parquet(str(out / name)))
    return time.perf_counter() - began


def transform_floor(spark, validated: Path, sync_date: datetime.date, work: Path) -> dict:
    """The hand-off's copy (the floor) and the pipeline's transform of it, each run twice in the warm session
    ``spark``, alternately; the second runs' seconds."""
    from pipeline.transform import transform_day

    def transform(out):
        out.mkdir(parents=True)
        began = time.perf_counter()
        transform_day(spark, validated.absolute(), out.absolute(), sync_date)
        return time.perf_counter() - began

    seconds = {}
    for attempt in range(2):
        seconds["floor"] = spark_copy(spark, validated.absolute(), (work / f"copy-{attempt}").absolute())
        seconds["transform"] = transform(work / f"transformed-{attempt}")
    for attempt in range(2):
        shutil.rmtree(work / f"copy-{attempt}")
        shutil.rmtree(work / f"transformed-{attempt}")
    return seconds
