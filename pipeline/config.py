"""Settings: ``luigi.cfg`` sections ``[pipeline]``, ``[freshdesk]`` and ``[spark]``, overridden by environment
variables."""
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import luigi

from pipeline.errors import PipelineError
from pipeline.names import DEFAULT_ACCOUNT
from pipeline.parameters import DayListParameter

DEFAULTS = {"raw_root": "data/raw", "output_root": "output", "dsn": "", "validation_workers": "0",
            "max_deactivation_share": "0.2", "staging_retention_days": "30", "class_archive": ""}
ENVIRONMENT = {"raw_root": "PIPELINE_RAW_ROOT", "output_root": "PIPELINE_OUTPUT_ROOT", "dsn": "PIPELINE_PG_DSN",
               "validation_workers": "PIPELINE_VALIDATION_WORKERS",
               "max_deactivation_share": "PIPELINE_MAX_DEACTIVATION_SHARE",
               "staging_retention_days": "PIPELINE_STAGING_RETENTION_DAYS",
               "class_archive": "PIPELINE_CLASS_ARCHIVE"}


# [freshdesk]: where ExtractAgents fetches the day from. The API key is read from the environment only.
API_DEFAULTS = {"base_url": "", "connections": "4", "timeout_seconds": "30", "retries": "5", "backoff_seconds": "1",
                "requests_per_minute": "0", "max_pages": "0", "deleted_after_days": "7",
                "total_connections": "16"}
API_KEY_VARIABLE = "FRESHDESK_API_KEY"


class SettingError(PipelineError):
    """A setting has a value the pipeline cannot use; the message names the setting."""


@dataclass(frozen=True)
class ApiSettings:
    """How ExtractAgents calls the Freshdesk API (``[freshdesk]``, env ``FRESHDESK_<NAME>``)."""

    base_url: str  # https://acme.freshdesk.com, without a trailing slash
    api_key: str = field(repr=False)  # FRESHDESK_API_KEY; empty when not set. Never printed.
    connections: int = 4  # requests in flight at once, at most
    timeout_seconds: float = 30.0  # to connect, and between bytes of a response
    retries: int = 5  # further attempts of a request after a timeout, a connection error or a 5xx
    backoff_seconds: float = 1.0  # the wait before the first retry; doubled for each next one (at most 60 s)
    requests_per_minute: int = 0  # a cap of this pipeline's own, below the plan's limit; 0: the rate headers only
    max_pages: int = 0  # the most list pages a day may have; 0: automatic (pipeline.extract.page_bound)


@dataclass(frozen=True)
class Settings:
    raw_root: Path
    output_root: Path
    dsn: str = field(repr=False)  # may hold a password: never printed
    spark_conf: dict
    validation_workers: int = 1  # processes that validate a day's files
    max_deactivation_share: float = 0.2  # of the agents active on the day before; 1: no limit
    staging_retention_days: int = 30  # stg_agents keeps the days after the newest staged one minus this; 0: all
    freshdesk: ApiSettings | None = None  # None: no base_url, the raw folders are read as they are
    deleted_after_days: int = 7  # [freshdesk]: loaded days of 404 details answers after which an agent is deleted
    total_connections: int = 16  # [freshdesk]: requests in flight at once over all the accounts fetched side by side
    class_archive: str = ""  # the folder of the Spark JVMs' class archive (pipeline.class_archive); "": none

    @property
    def session_conf(self) -> dict:
        """What pipeline.spark.get_spark takes: ``[spark]`` and the class archive's folder."""
        return {**self.spark_conf, "class_archive": self.class_archive}

    def raw_day(self, sync_date, account: str = DEFAULT_ACCOUNT) -> Path:
        """``<raw_root>/YYYY-MM-DD`` for the default account, ``<raw_root>/<account>/YYYY-MM-DD`` for the others."""
        return account_folder(self.raw_root, account) / sync_date.isoformat()

    def output_dir(self, stage: str, sync_date, account: str = DEFAULT_ACCOUNT) -> Path:
        """``<output_root>/<stage>/YYYY-MM-DD``, or ``<output_root>/<stage>/<account>/YYYY-MM-DD``."""
        return account_folder(self.output_root / stage, account) / sync_date.isoformat()


def account_folder(root: Path, account: str) -> Path:
    """Where an account's day folders are under ``root``: ``root`` itself for the default account (the layout of a
    one-account pipeline), ``root/<account>`` for a registered one (account names never look like a day)."""
    return root if account == DEFAULT_ACCOUNT else root / account


def load_settings(config=None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings; an environment variable wins over ``luigi.cfg``, which wins over the default."""
    config = config if config is not None else luigi.configuration.get_config()
    environ = environ if environ is not None else os.environ

    def value(name):
        return environ.get(ENVIRONMENT[name]) or config.get("pipeline", name, fallback=DEFAULTS[name])

    output_root = Path(value("output_root"))
    spark_conf = dict(config.items("spark")) if config.has_section("spark") else {}
    return Settings(
        raw_root=Path(value("raw_root")),
        output_root=output_root,
        dsn=value("dsn").strip(),
        spark_conf=spark_conf,
        class_archive=class_archive_folder(value("class_archive"), output_root),
        validation_workers=whole_number("validation_workers", value("validation_workers"), "0: one per CPU")
        or os.cpu_count() or 1,
        max_deactivation_share=share(value("max_deactivation_share")),
        staging_retention_days=retention_days(value("staging_retention_days")),
        freshdesk=api_settings(config, environ),
        deleted_after_days=deleted_after_days(api_value(config, environ, "deleted_after_days")),
        total_connections=max(1, whole_number("total_connections", api_value(config, environ, "total_connections"),
                                              "taken as 1", env="FRESHDESK_")),
    )


def class_archive_folder(text: str, output_root: Path) -> str:
    """Where the Spark JVMs' class archive is kept (pipeline.class_archive): ``<output_root>/jvm`` when the setting
    is empty, none when it is ``off``."""
    text = text.strip()
    if text.lower() == "off":
        return ""
    return text or str(output_root / "jvm")


def api_settings(config, environ: Mapping[str, str], base_url: str | None = None,
                 api_key: str | None = None) -> ApiSettings | None:
    """``[freshdesk]``, each key overridden by ``FRESHDESK_<KEY>``; None when no base_url is set. A registered
    account (pipeline.accounts) gives its own ``base_url`` and ``api_key`` (already checked); the other settings
    are shared."""

    def value(name):
        return api_value(config, environ, name)

    if base_url is None:
        base_url = check_base_url(value("base_url"), "base_url (FRESHDESK_BASE_URL)") if value("base_url") else ""
        api_key = environ.get(API_KEY_VARIABLE, "").strip()
    if not base_url:
        return None
    return ApiSettings(
        base_url=base_url,
        api_key=api_key or "",
        connections=max(1, whole_number("connections", value("connections"), "taken as 1", env="FRESHDESK_")),
        timeout_seconds=seconds("timeout_seconds", value("timeout_seconds")),
        retries=whole_number("retries", value("retries"), "a failed request is not tried again", env="FRESHDESK_"),
        backoff_seconds=seconds("backoff_seconds", value("backoff_seconds")),
        requests_per_minute=whole_number("requests_per_minute", value("requests_per_minute"),
                                         "the rate-limit headers alone", env="FRESHDESK_"),
        max_pages=whole_number("max_pages", value("max_pages"), "0: automatic, from the agents known and the first"
                               " page's size", env="FRESHDESK_"),
    )


def check_base_url(url: str, setting: str, key_goes_in: str = f"the environment variable {API_KEY_VARIABLE}") -> str:
    """A Freshdesk base URL (``https://acme.freshdesk.com``), without its trailing slash; SettingError names
    ``setting`` when it is not an http(s) URL of a host, or holds credentials (the API key goes in
    ``key_goes_in``)."""
    url = url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        shown = url.split("?")[0].split("#")[0] + ("?…" if parts.query else "") + ("#…" if parts.fragment else "")
        shown = shown.replace(f"{parts.password}@", "***@") if parts.password else shown
        raise SettingError(f"{setting} must look like https://yourcompany.freshdesk.com, not {shown!r} (a query"
                           " string or fragment is not shown: it may hold a key)" if parts.query or parts.fragment
                           else f"{setting} must look like https://yourcompany.freshdesk.com, not {shown!r}")
    if parts.username or parts.password:
        raise SettingError(f"{setting} must not hold credentials: the API key goes in {key_goes_in}")
    return url


def api_value(config, environ: Mapping[str, str], name: str) -> str:
    """A ``[freshdesk]`` setting: ``FRESHDESK_<NAME>``, else ``luigi.cfg``, else the default."""
    return (environ.get(f"FRESHDESK_{name.upper()}") or config.get("freshdesk", name, fallback=API_DEFAULTS[name])
            ).strip()


def deleted_after_days(text: str) -> int:
    """``[freshdesk] deleted_after_days``: a whole number of days, 1 or more."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise SettingError(f"deleted_after_days (FRESHDESK_DELETED_AFTER_DAYS) must be a whole number of days, 1 or"
                           f" more (the loaded days on which an agent's details answered 404 before it is recorded"
                           f" deleted), not {text!r}")
    return number


def seconds(name: str, text: str) -> float:
    """A ``[freshdesk]`` duration: a number of seconds above 0."""
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not 0 < number < float("inf"):
        raise SettingError(f"{name} (FRESHDESK_{name.upper()}) must be a number of seconds above 0, not {text!r}")
    return number


def share(text: str) -> float:
    """``max_deactivation_share``: a number from 0 to 1."""
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not 0 <= number <= 1:
        raise SettingError(f"max_deactivation_share ({ENVIRONMENT['max_deactivation_share']}) must be a number"
                           f" from 0 to 1 (1 turns this check off), not {text!r}")
    return number


def retention_days(text: str) -> int:
    """``staging_retention_days``: a whole number of days, 0 or more."""
    return whole_number("staging_retention_days", text, "0 keeps all staging", unit=" of days")


def whole_number(name: str, text: str, zero_means: str, unit: str = "", env: str = "") -> int:
    """A setting that is a whole number, 0 or more; SettingError names the setting (and its variable, ``env``
    followed by the upper-case name, else the one ``ENVIRONMENT`` gives) otherwise."""
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0:
        variable = f"{env}{name.upper()}" if env else ENVIRONMENT[name]
        raise SettingError(f"{name} ({variable}) must be a whole number{unit}, 0 or more ({zero_means}),"
                           f" not {text!r}")
    return number


class accept(luigi.Config):  # noqa: N801  (luigi names the flag after the class: --accept-incomplete-days)
    """Per-run exceptions, given on the command line: ``--accept-incomplete-days 2024-01-02``."""

    incomplete_days = DayListParameter(
        default=(), description="Sync days (comma-separated YYYY-MM-DD) that the completeness guard lets through "
                                "in this run: the days a refusal named, once you have checked their export.")


def accepted_incomplete(sync_date) -> bool:
    """Whether this run lets ``sync_date`` through the completeness guard."""
    return sync_date in accept().incomplete_days
