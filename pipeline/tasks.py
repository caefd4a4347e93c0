"""The daily graph: RawAgentsDay → ValidateRaw → TransformAgents → LoadStaging → UpsertAgents → SnapshotHistory."""
import json
import logging
from contextlib import closing
from pathlib import Path

import luigi

from pipeline.config import load_settings
from pipeline.database import MarkerTarget, database_dsn, ensure_schema, existing_markers
from pipeline.errors import PipelineError
from pipeline.raw import validate_day
from pipeline.resources import read_sql
from pipeline.tables import ERROR_COLUMNS, STAGING_COLUMNS

logger = logging.getLogger("luigi-interface.pipeline")  # shown with luigi's own log lines


class DayTask(luigi.Task):
    sync_date = luigi.DateParameter(description="The sync day: the raw folder <raw_root>/YYYY-MM-DD to load.")

    @property
    def settings(self):
        return load_settings()

    def on_failure(self, exception):
        if isinstance(exception, PipelineError):
            return f"{type(exception).__name__}: {exception}"  # the message says it all; no traceback
        return super().on_failure(exception)


class RawAgentsDay(luigi.ExternalTask):
    """The raw files of one sync day, written by the Freshdesk export."""

    sync_date = luigi.DateParameter(description="The sync day: the raw folder <raw_root>/YYYY-MM-DD.")

    def output(self):
        return luigi.LocalTarget(str(load_settings().raw_day(self.sync_date)))

    def complete(self):
        found = super().complete()
        if not found:
            logger.error("Raw input missing: %s does not exist", self.output().path)
        return found


class FileDayTask(DayTask):
    """A day task whose output is a folder under the output root, written atomically."""

    stage = None  # folder name under the output root

    def output(self):
        return luigi.LocalTarget(str(self.settings.output_dir(self.stage, self.sync_date)))

    def run(self):
        with self.output().temporary_path() as tmp:
            counts = self.produce(Path(self.input().path), Path(tmp))
            (Path(tmp) / "summary.json").write_text(json.dumps(counts, indent=2) + "\n", encoding="utf-8")
        logger.info("%s: %s", self, counts)
        self.set_status_message(", ".join(f"{key}: {value:,}" for key, value in counts.items()))

    def produce(self, input_dir: Path, out_dir: Path) -> dict:
        raise NotImplementedError


class ValidateRaw(FileDayTask):
    """Valid records, list ids and rejects of one raw day, as line-delimited JSON."""

    stage = "validated"

    def requires(self):
        return RawAgentsDay(self.sync_date)

    def produce(self, input_dir, out_dir):
        return validate_day(input_dir, out_dir, progress=self._progress)

    def _progress(self, done_files, total_files, counts):
        if done_files % 500 == 0 or done_files == total_files:
            self.set_progress_percentage(round(100 * done_files / total_files))
            self.set_status_message(f"read {done_files:,} of {total_files:,} files; {counts['records']:,} records")


class TransformAgents(FileDayTask):
    """One staging row per agent of the day, in COPY text format (Spark)."""

    stage = "transformed"

    def requires(self):
        return ValidateRaw(self.sync_date)

    def produce(self, input_dir, out_dir):
        from pipeline.spark import get_spark
        from pipeline.transform import transform_day

        spark = get_spark(self.settings.spark_conf)
        return transform_day(spark, input_dir, out_dir, self.sync_date)


class DatabaseDayTask(DayTask):
    """A day task whose work is one database transaction, ending with luigi's marker in ``table_updates``."""

    table = None  # the table this task writes, recorded with the marker

    def output(self):
        return MarkerTarget(database_dsn(self.settings), self.table, self.task_id)

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        """The days already done, in one query: luigi's range tasks call this instead of complete() per day."""
        tasks = [cls(sync_date=day) for day in parameter_tuples]  # cls may be a functools.partial
        if not tasks:
            return []
        done = existing_markers(tasks[0].output().dsn, (task.task_id for task in tasks))
        return [task.sync_date for task in tasks if task.task_id in done]

    def run(self):
        marker = self.output()
        ensure_schema(marker.dsn)
        with closing(marker.connect()) as connection:
            with connection.cursor() as cursor:
                self.write(cursor)
            marker.touch(connection)  # mark as complete in the same transaction
            connection.commit()

    def write(self, cursor) -> None:
        raise NotImplementedError

    def execute_sql_file(self, cursor, file_name: str) -> int:
        cursor.execute(read_sql(file_name), {"sync_date": self.sync_date})
        return cursor.rowcount


def copy_files(cursor, table: str, columns, folder: Path) -> int:
    """COPY every Spark part file of ``folder`` into ``table``; returns the rows copied."""
    statement = f"copy {table} ({', '.join(columns)}) from stdin"
    rows = 0
    for part in sorted(folder.glob("part-*")):
        with open(part, "rb") as stream:
            cursor.copy_expert(statement, stream, size=1 << 20)
        rows += cursor.rowcount
    return rows


class LoadStaging(DatabaseDayTask):
    """Replaces the day's rows of ``stg_agents`` and ``agent_pipeline_errors``."""

    table = "stg_agents"

    def requires(self):
        return TransformAgents(self.sync_date)

    def write(self, cursor):
        transformed = Path(self.input().path)
        self.execute_sql_file(cursor, "006_delete_staged_day.sql")
        self.execute_sql_file(cursor, "007_delete_day_errors.sql")
        self.set_status_message("COPY staging rows")
        staged = copy_files(cursor, "stg_agents", STAGING_COLUMNS, transformed / "agents")
        errors = copy_files(cursor, "agent_pipeline_errors", ERROR_COLUMNS, transformed / "errors")
        self.set_status_message(f"COPY {staged:,} staging rows, {errors:,} error rows")
        logger.info("%s: copied %s staging rows and %s error rows", self, staged, errors)


class UpsertAgents(DatabaseDayTask):
    """Merges the day's staging rows into ``agents`` (latest state per agent)."""

    table = "agents"

    def requires(self):
        return LoadStaging(self.sync_date)

    def write(self, cursor):
        rows = self.execute_sql_file(cursor, "010_upsert_agents.sql")
        self.set_status_message(f"upserted {rows:,} agents")


class SnapshotHistory(DatabaseDayTask):
    """Records the day's status of every staged agent in ``agent_status_history``."""

    table = "agent_status_history"

    def requires(self):
        return UpsertAgents(self.sync_date)

    def write(self, cursor):
        rows = self.execute_sql_file(cursor, "020_snapshot_history.sql")
        self.set_status_message(f"wrote {rows:,} history rows")
