"""The validated day as ValidateRaw hands it to the transform: Parquet part files of typed columns.

Three kinds of part file per validated day, each with the columns below (name, SQL type):

- ``valid-NNNNN.parquet``: one row per valid record: where it came from, the loaded fields
  (``tables.RECORD_FIELDS``; the raw files keep the rest) and ``absent``, the fields whose key it lacks;
- ``list_ids-NNNNN.parquet``: every id that the list pages name, and whether that list record was valid;
- ``rejects-NNNNN.parquet``: one row per invalid record, per record loaded with a warning and per
  unreadable details file, with every reason.

The validation workers write them with pyarrow, a row group at a time; Spark reads them with the same
columns. Nothing is parsed twice.

Every file stage's folder (validated, transformed) also holds its counts, ``summary.json``
(:func:`write_counts`, :func:`read_counts`).
"""
import json
from pathlib import Path

from pipeline.tables import HANDOFF_ORDER, RECORD_FIELDS

VALID_COLUMNS = (
    ("kind", "string"), ("file_seq", "int"), ("pos", "int"),
    *((column, RECORD_FIELDS[column][1]) for column in HANDOFF_ORDER),
    ("absent", "array<string>"),
)
LIST_ID_COLUMNS = (("agent_id", "bigint"), ("valid", "boolean"))
REJECT_COLUMNS = (
    ("agent_id", "bigint"), ("source_file", "string"), ("record_index", "int"), ("error_type", "string"),
    ("error_message", "string"), ("raw_record", "string"),
)
PARTS = {"valid": VALID_COLUMNS, "list_ids": LIST_ID_COLUMNS, "rejects": REJECT_COLUMNS}


def spark_schema(columns) -> str:
    """The columns as a Spark DDL schema: ``kind string, file_seq int, …``."""
    return ", ".join(f"{name} {kind}" for name, kind in columns)


def arrow_schema(columns):
    import pyarrow as pa

    types = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(), "boolean": pa.bool_(),
             "array<string>": pa.list_(pa.string())}
    return pa.schema([(name, types[kind]) for name, kind in columns])


def part_path(folder: Path, name: str, part: int) -> Path:
    return folder / f"{name}-{part:05d}.parquet"


def part_glob(name: str) -> str:
    return f"{name}-*.parquet"


class PartWriter:
    """Rows (tuples in the columns' order) into one Parquet file, a row group per ``batch_rows``: a worker
    holds at most that many rows. The file is written even without rows, so that its schema is there."""

    def __init__(self, path: Path, columns, batch_rows: int = 1 << 16):
        import pyarrow.parquet as pq

        self.schema = arrow_schema(columns)
        self.batch_rows = batch_rows
        self.rows, self.written = [], False
        self.writer = pq.ParquetWriter(str(path), self.schema, compression="snappy")

    def write(self, row: tuple) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        columns = zip(*self.rows, strict=True) if self.rows else [()] * len(self.schema)
        arrays = [pa.array(values, type=field.type) for values, field in zip(columns, self.schema, strict=True)]
        self.writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self.rows, self.written = [], True

    def close(self) -> None:
        if self.rows or not self.written:
            self.flush()
        self.writer.close()

    def __enter__(self):
        return self

    def __exit__(self, error_type, *_):
        if error_type is None:
            self.close()  # the rows still held, then the footer
        else:
            self.writer.close()


def row_count(folder: Path, name: str) -> int:
    """The rows of the ``name`` part files of a validated folder, from their footers."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(path).metadata.num_rows for path in folder.glob(part_glob(name)))


def read_rows(folder: Path, name: str) -> list[dict]:
    """Every row of the ``name`` part files of a validated folder, in part order (for tests and inspection)."""
    import pyarrow.parquet as pq

    return [row for path in sorted(folder.glob(part_glob(name))) for row in pq.read_table(path).to_pylist()]


COUNTS_FILE = "summary.json"


def write_counts(folder: Path, counts: dict) -> None:
    """A file stage's counts, beside its output in ``folder``."""
    (folder / COUNTS_FILE).write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")


def read_counts(folder: Path) -> dict:
    """The counts that :func:`write_counts` wrote in ``folder``."""
    return json.loads((folder / COUNTS_FILE).read_text(encoding="utf-8"))
