"""The daily graph of one account: RawAgentsDay → ValidateRaw → TransformAgents → LoadStaging → UpsertAgents →
SnapshotHistory, plus StatusReport (an HTML page per day) and Reprocess (forget days so that they load again). With
a base URL for the account, ExtractAgents (the day fetched from the API) takes RawAgentsDay's place. AllAccounts
is the day of every registered account (pipeline.accounts)."""
import datetime
import logging
from contextlib import closing
from pathlib import Path

import luigi
from luigi.task import task_id_str

from pipeline.completeness import RefusedDay
from pipeline.config import accepted_incomplete, account_folder, load_settings
from pipeline.database import (
    MarkerTarget,
    connect,
    database_dsn,
    ensure_schema,
    existing_markers,
    reported_outage,
)
from pipeline.errors import PipelineError
from pipeline.handoff import part_glob, read_counts, write_counts
from pipeline.loading import (
    from_earlier_version,
    in_one_transaction,
    snapshot_accounts,
    stage_accounts,
    upsert_accounts,
)
from pipeline.locks import day_file_lock, lock_day_in_database, write_day_target
from pipeline.metrics import COUNT_LABELS, now, record_task_run
from pipeline.names import DEFAULT_ACCOUNT
from pipeline.parameters import AccountParameter, SyncDateParameter
from pipeline.partitions import drop_expired_staging
from pipeline.rawdays import note_missing
from pipeline.refetch import remove_file_target, set_aside_refused_day, validate_or_set_aside
from pipeline.summary import note_wanted

logger = logging.getLogger("luigi-interface.pipeline")  # shown with luigi's own log lines


def account_parameter() -> AccountParameter:
    """The ``account`` of a day task, declared after its ``sync_date``: ``SnapshotHistory(day)`` (and luigi's range
    tasks, which pass the day alone) still name the default account's day."""
    return AccountParameter(default=DEFAULT_ACCOUNT,
                            description="The Freshdesk account (python -m pipeline.accounts list): its raw days are"
                                        " <raw_root>/<account>/YYYY-MM-DD. Default: 'default', the account of a"
                                        " pipeline that registers none, whose raw days are <raw_root>/YYYY-MM-DD.")


class AccountDay:
    """A task of one account's sync day (a ``sync_date``, then an ``account``). The default account's tasks have the
    ids (and so the markers) that they had before accounts: a one-account pipeline's finished days stay done."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.account == DEFAULT_ACCOUNT:
            params = self.to_str_params(only_significant=True, only_public=True)
            del params["account"]
            self.task_id = task_id_str(self.get_task_family(), params)
            self._Task__hash = hash(self.task_id)

    def __repr__(self):
        text = super().__repr__()
        return text.replace(f", account={DEFAULT_ACCOUNT})", ")") if self.account == DEFAULT_ACCOUNT else text

    @property
    def accounts(self) -> list[str]:
        """The accounts this task's SQL statements work on (``%(accounts)s``)."""
        return [self.account]

    @property
    def account_flag(self) -> str:
        """`` --account NAME`` in a command that names this task's day; empty for the default account."""
        return "" if self.account == DEFAULT_ACCOUNT else f" --account {self.account}"


class SyncDayTask(luigi.Task):
    """A task of one sync day (its ``sync_date``): older days first, a pipeline error's one line as its failure, and
    its status in luigid's visualizer."""

    @property
    def priority(self):
        """Older days first, whatever order a range lists them in: each day's changes are measured
        against the day before, and an interrupted backfill leaves a contiguous loaded range.
        Positive: luigi raises a task's priority to that of its dependents (a range task has 0)."""
        return 10_000_000 - self.sync_date.toordinal()

    def on_failure(self, exception):
        if isinstance(exception, PipelineError):
            return f"{type(exception).__name__}: {exception}"  # the message says it all; no traceback
        return super().on_failure(exception)

    def report(self, message: str, percent=None) -> None:
        """Status for luigid's visualizer, and the log."""
        self.set_status_message(message)
        if percent is not None:
            self.set_progress_percentage(percent)
        logger.info("%s: %s", self, message)


class DayTask(AccountDay, SyncDayTask):
    sync_date = SyncDateParameter(default=datetime.date.today(),
                                  description="The sync day: the raw folder <raw_root>/YYYY-MM-DD to load"
                                              " (default: today, the machine's local date).")
    account = account_parameter()

    @property
    def settings(self):
        return load_settings()

    def record_run(self, cursor, started_at, counts: dict) -> None:
        """Record the task's counts in agent_pipeline_runs, and show them in luigid once it is done."""
        record_task_run(cursor, self.get_task_family(), self.sync_date, started_at, counts, account=self.account)
        self.report(", ".join(f"{COUNT_LABELS.get(key, key)}: {value:,}" for key, value in counts.items()), 100)


class RawAgentsDay(AccountDay, luigi.ExternalTask):
    """The raw files of one account's sync day, written by the Freshdesk export."""

    sync_date = SyncDateParameter(description="The sync day: the raw folder <raw_root>/YYYY-MM-DD.")
    account = account_parameter()

    def output(self):
        return luigi.LocalTarget(str(load_settings().raw_day(self.sync_date, self.account)))

    def complete(self):
        found = super().complete()
        if not found:  # one line names every missing day when the run ends (pipeline.summary)
            logger.debug("Raw input missing: %s does not exist", self.output().path)
            note_missing(self.sync_date, self.account)
        return found


def raw_day_task(sync_date, account: str) -> luigi.Task:
    """Where an account's raw day comes from: the Freshdesk API when the account has a base URL (``[freshdesk]
    base_url`` for the default account, its entry in the registry for the others), else a folder someone else
    wrote."""
    from pipeline.accounts import fetches_from_api

    fetched = fetches_from_api(load_settings(), account)
    return (ExtractAgents if fetched else RawAgentsDay)(sync_date=sync_date, account=account)


class FileDayTask(DayTask):
    """A day task whose output is a folder under the output root, written atomically."""

    stage = None  # folder name under the output root

    def output(self):
        return luigi.LocalTarget(str(self.settings.output_dir(self.stage, self.sync_date, self.account)))

    def run(self):
        started_at = now()
        counts = write_day_target(self.output(), self.settings.output_root, self.sync_date, str(self), self.write,
                                  self.account)
        if counts is None:  # another run wrote the day while this one waited for the lock
            return
        dsn = database_dsn(self.settings)
        ensure_schema(dsn)
        with reported_outage(dsn, f"{self} (recording its counts)"), closing(connect(dsn)) as connection, \
                connection.cursor() as cursor:
            self.record_run(cursor, started_at, counts)
            connection.commit()

    def write(self, tmp: Path) -> dict:
        counts = self.produce(Path(self.input().path), tmp)
        write_counts(tmp, counts)
        return counts

    def produce(self, input_dir: Path, out_dir: Path) -> dict:
        raise NotImplementedError


class ExtractAgents(FileDayTask):
    """The raw day fetched from the Freshdesk API (pipeline.extract): its list pages, the details of the known
    agents they do not name, and ``_manifest.json``; written to a temporary folder, renamed when complete.
    Only today can be fetched: the API gives the agents as they are now."""

    def output(self):
        return luigi.LocalTarget(str(self.settings.raw_day(self.sync_date, self.account)))

    def run(self):
        today = datetime.date.today()
        if self.sync_date != today:
            raise PipelineError(f"cannot fetch {self.sync_date} from Freshdesk: the API gives the agents as they are"
                                f" now, so only today ({today}) can be fetched; {self.output().path} does not exist,"
                                " and any other day loads only from its raw folder")
        super().run()

    def write(self, tmp: Path) -> dict:
        from pipeline.extract import fetch_account_day

        return fetch_account_day(self.settings, self.sync_date, self.account, tmp, self.report, str(self))


class ValidateRaw(FileDayTask):
    """Valid records, list ids and rejects of one raw day, as line-delimited JSON."""

    stage = "validated"

    def requires(self):
        return raw_day_task(self.sync_date, self.account)

    def produce(self, input_dir, out_dir):
        from pipeline.spark import start_in_background

        start_in_background(self.settings.session_conf)  # TransformAgents comes next: the JVM starts meanwhile
        return validate_or_set_aside(self.settings, self.sync_date, self.account, str(self), input_dir, out_dir,
                                     progress=self._progress, workers=self.settings.validation_workers,
                                     accept_incomplete=accepted_incomplete(self.sync_date))

    def _progress(self, done_files, total_files, counts):
        records = counts["records_read"]
        self.set_status_message(f"validated {done_files:,} of {total_files:,} files ({records:,} records)")
        self.set_progress_percentage(round(100 * done_files / total_files))


class TransformAgents(FileDayTask):
    """One staging row per agent of the day, in COPY text format (Spark)."""

    stage = "transformed"

    def requires(self):
        return ValidateRaw(sync_date=self.sync_date, account=self.account)

    def produce(self, input_dir, out_dir):
        from pipeline.spark import get_spark
        from pipeline.transform import transform_day

        if not any(input_dir.glob(part_glob("valid"))):
            raise from_earlier_version(f"{input_dir} holds no Parquet part files: it was validated", self.sync_date,
                                       self.account_flag)
        self.report("getting the Spark session (started once per process)", 5)
        spark = get_spark(self.settings.session_conf)
        self.report("Spark: resolving duplicates and deactivations", 20)
        return transform_day(spark, input_dir, out_dir, self.sync_date, self.account)


class DatabaseDayTask(DayTask):
    """A day task whose work is one database transaction, ending with luigi's marker in ``table_updates``."""

    table = None  # the table this task writes, recorded with the marker
    day_partitions = ()  # the tables partitioned by sync date that the task writes (pipeline.partitions)

    def output(self):
        return MarkerTarget(database_dsn(self.settings), self.table, self.task_id)

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        """The days already done, in one query: luigi's range tasks call this instead of complete() per day."""
        tasks = [cls(sync_date=day) for day in parameter_tuples]  # cls may be a functools.partial (an account)
        if not tasks:
            return []
        done = existing_markers(tasks[0].output().dsn, (task.task_id for task in tasks))
        return [task.sync_date for task in tasks if task.task_id in done]

    def run(self):
        dsn = self.output().dsn
        ensure_schema(dsn)
        counts, _ = in_one_transaction(dsn, self.sync_date, self.get_task_family(), self.table, self.day_partitions,
                                       {self.account: self.task_id},
                                       lambda cursor, accounts: ({self.account: self.write(cursor)}, {}), str(self))
        if counts:
            self.report(", ".join(f"{COUNT_LABELS.get(key, key)}: {value:,}" for key, value in counts[self.account]
                                  .items()), 100)

    def write(self, cursor) -> dict:
        """The task's work, inside the transaction; returns its counts."""
        raise NotImplementedError


class LoadStaging(DatabaseDayTask):
    """Replaces the day's rows of ``stg_agents`` and ``agent_pipeline_errors``, unless the day looks
    incomplete against the latest earlier loaded day (pipeline.completeness): then nothing is written.
    Every known agent that no record of the day names is staged inactive (sql/011_stage_unseen_agents.sql)."""

    table = "stg_agents"
    day_partitions = ("stg_agents",)

    def requires(self):
        return {"transformed": TransformAgents(sync_date=self.sync_date, account=self.account),
                "validated": ValidateRaw(sync_date=self.sync_date, account=self.account)}

    def write(self, cursor):
        transformed = Path(self.input()["transformed"].path)
        validated = read_counts(Path(self.input()["validated"].path))
        self.report("COPY staging rows, the known agents not seen, the completeness guard, COPY error rows", 10)
        counts, refused = stage_accounts(cursor, self.sync_date, {self.account: transformed},
                                         {self.account: validated.get("list_records")},
                                         self.settings.max_deactivation_share, accepted_incomplete(self.sync_date))
        if refused:  # the transaction rolls back; a fetched day is set aside, to be fetched anew (pipeline.refetch)
            raise set_aside_refused_day(RefusedDay(refused[self.account]), self.settings, self.sync_date, str(self),
                                        account=self.account)
        return counts[self.account]


class UpsertAgents(DatabaseDayTask):
    """Merges the day's staging rows into ``agents`` (latest state per agent), field by field."""

    table = "agents"

    def requires(self):
        return LoadStaging(sync_date=self.sync_date, account=self.account)

    def write(self, cursor):
        self.report("waiting for agents (one day's merge at a time), then INSERT … ON CONFLICT into agents", 5)
        return upsert_accounts(cursor, self.sync_date, self.accounts, self.settings.deleted_after_days)[self.account]


class SnapshotHistory(DatabaseDayTask):
    """Records the day's status of every staged agent in ``agent_status_history`` and the versions of the agents
    whose values changed in ``agent_versions``; then, the day done, drops the staging of done days older than
    ``staging_retention_days`` (pipeline.partitions)."""

    table = "agent_status_history"
    day_partitions = ("agent_status_history",)

    def requires(self):
        return UpsertAgents(sync_date=self.sync_date, account=self.account)

    def run(self):
        from pipeline.accounts import known_accounts

        super().run()
        drop_expired_staging(self.output().dsn, self.settings.staging_retention_days,
                             staged_marker=lambda day, account: LoadStaging(sync_date=day, account=account).task_id,
                             done_marker=lambda day, account: SnapshotHistory(sync_date=day, account=account).task_id,
                             accounts=known_accounts())

    def write(self, cursor):
        self.report("waiting for agent_versions (one day's versions at a time), then the versions and history", 5)
        return snapshot_accounts(cursor, self.sync_date, self.accounts, str(self))[self.account]


class StatusReport(DayTask):
    """A self-contained HTML page about one loaded day: output/reports/<day>.html."""

    def requires(self):
        return SnapshotHistory(sync_date=self.sync_date, account=self.account)

    def output(self):
        folder = account_folder(self.settings.output_root / "reports", self.account)
        return luigi.LocalTarget(str(folder / f"{self.sync_date.isoformat()}.html"))

    def run(self):
        from pipeline.report import gather_report, render_report

        dsn = database_dsn(self.settings)
        with reported_outage(dsn, str(self)), closing(connect(dsn)) as connection, connection.cursor() as cursor:
            data = gather_report(cursor, self.sync_date, self.account)
        write_day_target(self.output(), self.settings.output_root, self.sync_date, str(self),
                         lambda tmp: tmp.write_text(render_report(data), encoding="utf-8"), self.account)
        self.report(f"wrote {self.output().path}", 100)


class AllAccounts(SyncDayTask):
    """The sync day of every registered account (``python -m pipeline.accounts list``; the default account when none
    is registered), at once (pipeline.accounts_day): one Spark job, and a transaction per database stage, for all of
    them. Each account's day ends as its own tasks would leave it (their folders and markers). One account's failure
    or refusal does not stop the others: the task fails once the others are loaded, naming it."""

    sync_date = SyncDateParameter(default=datetime.date.today(),
                                  description="The sync day: each account's raw folder <raw_root>/<account>/YYYY-MM-DD"
                                              " (default: today, the machine's local date).")

    def day_tasks(self) -> list[luigi.Task]:
        from pipeline.accounts import registered_accounts

        return [SnapshotHistory(sync_date=self.sync_date, account=account) for account in registered_accounts()]

    def requires(self):
        note_wanted(self.day_tasks())  # the summary names those that are not done when the run ends
        return []

    def complete(self):
        return self.bulk_complete([self.sync_date]) == [self.sync_date]

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        """The days every account has done, in one query: luigi's range tasks call this instead of complete()."""
        days = {day: cls(sync_date=day).day_tasks() for day in parameter_tuples}
        if not days:
            return []
        done = existing_markers(database_dsn(load_settings()), (task.task_id for tasks in days.values()
                                                                for task in tasks))
        return [day for day, tasks in days.items() if all(task.task_id in done for task in tasks)]

    def run(self):
        from pipeline.accounts import known_accounts
        from pipeline.accounts_day import load_accounts_day

        settings, accounts = load_settings(), [task.account for task in self.day_tasks()]
        stages = {"LoadStaging": LoadStaging, "UpsertAgents": UpsertAgents, "SnapshotHistory": SnapshotHistory}
        failures = load_accounts_day(
            settings, self.sync_date, accounts, self.report, str(self),
            marker_id=lambda family, account: stages[family](sync_date=self.sync_date, account=account).task_id)
        drop_expired_staging(database_dsn(settings), settings.staging_retention_days,
                             staged_marker=lambda day, account: LoadStaging(sync_date=day, account=account).task_id,
                             done_marker=lambda day, account: SnapshotHistory(sync_date=day, account=account).task_id,
                             accounts=known_accounts())
        if failures:
            named = ", ".join(list(failures)[:20]) + (f" and {len(failures) - 20} more" if len(failures) > 20 else "")
            others = "; the other accounts' day is" if len(failures) < len(accounts) else ""
            raise PipelineError(f"{len(failures):,} of {len(accounts):,} accounts' {self.sync_date} not loaded"
                                f" ({named}){others}. The lines above say why, one per account")


class Reprocess(luigi.Task):
    """Forgets an account's days [start, stop) so that the next run loads them again from their raw files (the other
    accounts' days stay as they are).

    Removes their file targets and reports, then deletes their markers in one transaction. A crash
    in between leaves the days looking done (with their old tables), never half-loaded: run it again.
    """

    start = luigi.DateParameter(description="First day to re-process (inclusive).")
    stop = luigi.DateParameter(description="Day after the last one to re-process (exclusive).")
    account = AccountParameter(default=DEFAULT_ACCOUNT, description="The account whose days are forgotten (default:"
                                                                    " 'default', the account of a pipeline that"
                                                                    " registers none).")

    DATABASE_TASKS = (LoadStaging, UpsertAgents, SnapshotHistory)
    FILE_TASKS = (ValidateRaw, TransformAgents, StatusReport)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._done = False

    def complete(self):
        return self._done

    def days(self) -> list[datetime.date]:
        return [self.start + datetime.timedelta(days=n) for n in range((self.stop - self.start).days)]

    def run(self):
        days, settings = self.days(), load_settings()
        markers = [cls(sync_date=day, account=self.account) for cls in self.DATABASE_TASKS for day in days]
        dsn = database_dsn(settings)
        ensure_schema(dsn)
        with closing(connect(dsn)) as connection, connection.cursor() as cursor:
            for day in days:  # a run loading one of these days finishes its database task first
                lock_day_in_database(cursor, day, str(self), self.account)
            for day in days:
                with day_file_lock(settings.output_root, day, str(self), self.account):
                    for task in (cls(sync_date=day, account=self.account) for cls in self.FILE_TASKS):
                        remove_file_target(Path(task.output().path))
            cursor.execute("delete from table_updates where update_id = any(%s)", ([m.task_id for m in markers],))
            deleted = cursor.rowcount
            connection.commit()
        forgot = ("forgot no day (--start is not before --stop)" if not days else
                  f"forgot 1 day, {days[0]}" if len(days) == 1 else f"forgot {len(days)} days, {days[0]} to {days[-1]}")
        self.set_status_message(f"{forgot} ({deleted} markers)")
        logger.info("Reprocess: %s (%s markers); the next run loads %s again", forgot, deleted,
                    "it" if len(days) == 1 else "them")
        self._done = True


class AccountsReport(SyncDayTask):
    """The day's index of accounts: output/reports/<day>-accounts.html, a row per registered account (the default
    account when none is registered) with its day's counts and a link to its StatusReport page; an account whose day
    is not loaded is listed as such. It loads nothing: it requires the page of each account whose day is done (its
    SnapshotHistory marker)."""

    sync_date = SyncDateParameter(default=datetime.date.today(),
                                  description="The sync day: the index of every registered account's report of that"
                                              " day, <output_root>/reports/YYYY-MM-DD-accounts.html (default: today,"
                                              " the machine's local date).")

    def loaded_accounts(self) -> list[str]:
        """The registered accounts whose day is done, in one query."""
        tasks = AllAccounts(sync_date=self.sync_date).day_tasks()
        done = existing_markers(database_dsn(load_settings()), (task.task_id for task in tasks))
        return [task.account for task in tasks if task.task_id in done]

    def requires(self):
        return [StatusReport(sync_date=self.sync_date, account=account) for account in self.loaded_accounts()]

    def output(self):
        reports = load_settings().output_root / "reports"
        return luigi.LocalTarget(str(reports / f"{self.sync_date.isoformat()}-accounts.html"))

    def run(self):
        from pipeline.accounts import registered_accounts
        from pipeline.report import gather_index, render_index

        settings = load_settings()
        dsn = database_dsn(settings)
        with reported_outage(dsn, str(self)), closing(connect(dsn)) as connection, connection.cursor() as cursor:
            data = gather_index(cursor, self.sync_date, registered_accounts())
        write_day_target(self.output(), settings.output_root, self.sync_date, str(self),
                         lambda tmp: tmp.write_text(render_index(data), encoding="utf-8"))
        self.set_status_message(f"wrote {self.output().path}")
        logger.info("%s: wrote %s", self, self.output().path)
