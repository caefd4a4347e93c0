"""AllAccounts' work: the sync day of many accounts at once, at a cost close to that of one big account.

The stages and their outputs are those of each account's own tasks (pipeline.tasks), so either path finishes what
the other started and both skip what is done: each account's raw day fetched (today, for an account with a base URL:
side by side, at most ``[freshdesk] total_connections`` requests in flight) and validated (a process per core), then
one Spark job for every account's transform, then one transaction for each database stage (LoadStaging,
UpsertAgents, SnapshotHistory) over every account ready for it, each account's marker written in it.

An account whose day cannot be loaded (its raw folder missing, a refusal, a broken file) is left out from the stage
where it stopped, with the reason; the others go on. :func:`load_accounts_day` returns those reasons.
"""
import datetime
import logging
import shutil
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from pathlib import Path

import luigi

from pipeline.completeness import RefusedDay
from pipeline.database import (
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
from pipeline.locks import write_day_target
from pipeline.metrics import now, record_task_runs
from pipeline.rawdays import note_missing

logger = logging.getLogger("luigi-interface.pipeline")

MarkerId = Callable[[str, str], str]  # (task family, account) → the account's marker id of that task for the day


class AccountsDay:
    """One day of ``accounts``: what each stage does for the accounts ready for it."""

    def __init__(self, settings, sync_date: datetime.date, accounts: list[str], marker_id: MarkerId, report,
                 holder: str):
        self.settings, self.sync_date, self.accounts = settings, sync_date, accounts
        self.marker_id, self.report, self.holder = marker_id, report, holder
        self.dsn = database_dsn(settings)
        self.failures: dict[str, str] = {}

    def live(self, accounts) -> list[str]:
        """The accounts that have not failed."""
        return [account for account in accounts if account not in self.failures]

    def fail(self, account: str, error: BaseException | str) -> None:
        if isinstance(error, BaseException):
            if not isinstance(error, PipelineError):  # not one of the pipeline's one-line errors: keep its trace
                logger.error("%s: %s failed:\n%s", self.holder, account,
                             "".join(traceback.format_exception(error)).rstrip())
            error = f"{type(error).__name__}: {error}"
        logger.error("%s: %s not loaded: %s", self.holder, account, error)
        self.failures[account] = str(error)

    def file_target(self, stage: str, account: str) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(self.settings.output_dir(stage, self.sync_date, account)))

    def record(self, task: str, started_at, counts: dict[str, dict]) -> None:
        """The accounts' counts of a file stage, in agent_pipeline_runs."""
        if counts:
            with reported_outage(self.dsn, f"{self.holder} (recording {task}'s counts)"), \
                    closing(connect(self.dsn)) as connection, connection.cursor() as cursor:
                record_task_runs(cursor, task, self.sync_date, started_at, counts)
                connection.commit()

    def pending(self) -> list[str]:
        """The accounts whose day is not done (no SnapshotHistory marker)."""
        done = existing_markers(self.dsn, [self.marker_id("SnapshotHistory", account) for account in self.accounts])
        return [account for account in self.accounts if self.marker_id("SnapshotHistory", account) not in done]

    def fetch(self, accounts: list[str]) -> None:
        """Fetch today's raw day of each account that has a base URL and no raw folder yet, side by side."""
        from pipeline.accounts import account_api_settings, fetches_from_api
        from pipeline.extract import fetch_account_day

        fetched = [account for account in accounts if not self.settings.raw_day(self.sync_date, account).exists()
                   and fetches_from_api(self.settings, account)]
        if fetched and self.sync_date != datetime.date.today():
            for account in fetched:
                self.fail(account, f"cannot fetch {self.sync_date} from Freshdesk: only today can be fetched, and"
                                   f" {self.settings.raw_day(self.sync_date, account)} does not exist")
            return
        apis = {}
        for account in fetched:
            try:
                apis[account] = account_api_settings(self.settings, account)
            except PipelineError as error:  # its key is missing
                self.fail(account, error)
        fetched = list(apis)
        if not fetched:
            return
        side_by_side = max(1, self.settings.total_connections // max(apis[a].connections for a in fetched))
        started_at, counts = now(), {}

        def fetch_one(account):
            target = luigi.LocalTarget(str(self.settings.raw_day(self.sync_date, account)))
            return write_day_target(target, self.settings.output_root, self.sync_date, f"{self.holder} {account}",
                                    lambda tmp: fetch_account_day(self.settings, self.sync_date, account, tmp,
                                                                  lambda *_: None, f"{self.holder} {account}"),
                                    account)

        with ThreadPoolExecutor(side_by_side, thread_name_prefix="fetch") as pool:
            for account, future in [(account, pool.submit(fetch_one, account)) for account in fetched]:
                try:
                    result = future.result()
                except Exception as error:  # noqa: BLE001  (one account's failure leaves the others)
                    self.fail(account, error)
                else:
                    if result is not None:
                        counts[account] = result
        self.record("ExtractAgents", started_at, counts)

    def validate(self, accounts: list[str]) -> None:
        """Validate each account's raw day that has no validated folder yet, a process per core."""
        todo = []
        for account in accounts:
            if self.file_target("validated", account).exists():
                continue
            raw = self.settings.raw_day(self.sync_date, account)
            if not raw.is_dir():
                note_missing(self.sync_date, account)
                self.fail(account, f"raw input missing: {raw} does not exist")
            else:
                todo.append(account)
        if not todo:
            return
        from pipeline.config import accepted_incomplete
        from pipeline.raw import validation_pool

        started_at, counts = now(), {}
        accept = accepted_incomplete(self.sync_date)  # read here: the flag is on this process's command line
        with validation_pool(self.settings.validation_workers) as pool:  # spawned: this process holds a JVM
            futures = {account: pool.submit(validate_account, self.settings, self.sync_date, account, self.holder,
                                            accept) for account in todo}
            for done, (account, future) in enumerate(futures.items(), start=1):
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise
                except Exception as error:  # noqa: BLE001  (one account's failure leaves the others)
                    self.fail(account, error)
                else:
                    if result is not None:
                        counts[account] = result
                if done % 50 == 0 or done == len(futures):
                    self.report(f"validated {done:,} of {len(futures):,} accounts' days", 5 + 25 * done // len(futures))
        self.record("ValidateRaw", started_at, counts)

    def transform(self, accounts: list[str]) -> None:
        """One Spark job for every account validated and not transformed yet."""
        from pipeline.spark import get_spark
        from pipeline.transform import take_account_lines, transform_accounts

        validated = {}
        for account in accounts:
            folder = Path(self.file_target("validated", account).path)
            if self.file_target("transformed", account).exists():
                continue
            if not any(folder.glob(part_glob("valid"))):
                self.fail(account, from_earlier_version(f"{folder} holds no Parquet part files: it was validated",
                                                        self.sync_date, f" --account {account}"))
            else:
                validated[account] = folder
        if not validated:
            return
        started_at = now()
        self.report(f"Spark: transforming {len(validated):,} accounts' days in one job", 35)
        lines = self.settings.output_root / "transformed" / f"_lines-{self.sync_date}-{uuid.uuid4().hex[:8]}"
        try:
            counts = transform_accounts(get_spark(self.settings.session_conf), validated, lines, self.sync_date)
            written = {}
            for account in validated:
                def write(tmp, account=account):
                    tmp.mkdir(parents=True)
                    take_account_lines(lines, account, tmp)
                    write_counts(tmp, counts[account])
                    return counts[account]
                if write_day_target(self.file_target("transformed", account), self.settings.output_root,
                                    self.sync_date, f"{self.holder} {account}", write, account) is not None:
                    written[account] = counts[account]
        finally:
            shutil.rmtree(lines, ignore_errors=True)
        self.record("TransformAgents", started_at, written)

    def database_stage(self, family: str, table: str, partitions: tuple, accounts: list[str], work) -> list[str]:
        """One transaction for the accounts without the stage's marker (pipeline.loading.in_one_transaction);
        returns the accounts whose marker exists now."""
        ids = {account: self.marker_id(family, account) for account in accounts}
        done = existing_markers(self.dsn, ids.values())
        todo = {account: ids[account] for account in accounts if ids[account] not in done}
        if todo:
            _, refused = in_one_transaction(self.dsn, self.sync_date, family, table, partitions, todo, work,
                                            f"{self.holder} ({family})")
            for account, reason in refused.items():
                self.fail(account, reason)
        return [account for account in accounts if account not in self.failures]

    def stage(self, cursor, accounts):
        from pipeline.config import accepted_incomplete
        from pipeline.refetch import set_aside_refused_day

        if not accounts:
            return {}, {}
        transformed = {account: Path(self.file_target("transformed", account).path) for account in accounts}
        list_records = {account: read_counts(Path(self.file_target("validated", account).path)).get("list_records")
                        for account in accounts}
        counts, refused = stage_accounts(cursor, self.sync_date, transformed, list_records,
                                         self.settings.max_deactivation_share, accepted_incomplete(self.sync_date))
        return counts, {account: str(set_aside_refused_day(RefusedDay(reason), self.settings, self.sync_date,
                                                           self.holder, account=account))
                        for account, reason in refused.items()}

    def upsert(self, cursor, accounts):
        return (upsert_accounts(cursor, self.sync_date, accounts, self.settings.deleted_after_days) if accounts
                else {}), {}

    def snapshot(self, cursor, accounts):
        return (snapshot_accounts(cursor, self.sync_date, accounts, self.holder) if accounts else {}), {}


def validate_account(settings, sync_date, account: str, holder: str, accept_incomplete: bool):
    """An account's validated day, written under its file lock (in a worker process); its counts, or None when
    another run wrote it meanwhile."""
    from pipeline.refetch import validate_or_set_aside

    raw = settings.raw_day(sync_date, account)

    def write(tmp: Path) -> dict:
        counts = validate_or_set_aside(settings, sync_date, account, holder, raw, tmp, workers=1,
                                       accept_incomplete=accept_incomplete)
        write_counts(tmp, counts)
        return counts

    target = luigi.LocalTarget(str(settings.output_dir("validated", sync_date, account)))
    return write_day_target(target, settings.output_root, sync_date, f"{holder} {account}", write, account)


def load_accounts_day(settings, sync_date: datetime.date, accounts: list[str], report, holder: str,
                      marker_id: MarkerId) -> dict[str, str]:
    """Load the day of every account of ``accounts`` that is not done; returns the reason of each account whose
    day could not be loaded (the others are loaded)."""
    ensure_schema(database_dsn(settings))
    day = AccountsDay(settings, sync_date, accounts, marker_id, report, holder)
    pending = day.pending()
    report(f"{len(accounts) - len(pending):,} of {len(accounts):,} accounts done already", 1)
    if not pending:
        return {}
    from pipeline.spark import start_in_background

    day.fetch(pending)
    if any(settings.raw_day(sync_date, account).is_dir() for account in day.live(pending)):
        start_in_background(settings.session_conf)  # the JVM starts while the raw days are read
    day.validate(day.live(pending))
    day.transform(day.live(pending))
    if day.live(pending):
        report("LoadStaging: one transaction for every account", 60)
        staged = day.database_stage("LoadStaging", "stg_agents", ("stg_agents",), day.live(pending), day.stage)
        report("UpsertAgents: one transaction for every account", 75)
        merged = day.database_stage("UpsertAgents", "agents", (), staged, day.upsert)
        report("SnapshotHistory: one transaction for every account", 85)
        day.database_stage("SnapshotHistory", "agent_status_history", ("agent_status_history",), merged,
                           day.snapshot)
    report(f"{len(pending) - len(day.failures):,} accounts' days loaded, {len(day.failures):,} not", 100)
    return day.failures
