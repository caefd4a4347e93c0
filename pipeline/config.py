"""Settings: ``luigi.cfg`` sections ``[pipeline]`` and ``[spark]``, overridden by environment variables."""
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import luigi

DEFAULTS = {"raw_root": "data/raw", "output_root": "output", "dsn": "", "validation_workers": "0"}
ENVIRONMENT = {"raw_root": "PIPELINE_RAW_ROOT", "output_root": "PIPELINE_OUTPUT_ROOT", "dsn": "PIPELINE_PG_DSN",
               "validation_workers": "PIPELINE_VALIDATION_WORKERS"}


@dataclass(frozen=True)
class Settings:
    raw_root: Path
    output_root: Path
    dsn: str = field(repr=False)  # may hold a password: never printed
    spark_conf: dict
    validation_workers: int = 1  # processes that validate a day's files

    def raw_day(self, sync_date) -> Path:
        return self.raw_root / sync_date.isoformat()

    def output_dir(self, stage: str, sync_date) -> Path:
        return self.output_root / stage / sync_date.isoformat()


def load_settings(config=None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings; an environment variable wins over ``luigi.cfg``, which wins over the default."""
    config = config if config is not None else luigi.configuration.get_config()
    environ = environ if environ is not None else os.environ

    def value(name):
        return environ.get(ENVIRONMENT[name]) or config.get("pipeline", name, fallback=DEFAULTS[name])

    spark_conf = dict(config.items("spark")) if config.has_section("spark") else {}
    return Settings(
        raw_root=Path(value("raw_root")),
        output_root=Path(value("output_root")),
        dsn=value("dsn").strip(),
        spark_conf=spark_conf,
        validation_workers=int(value("validation_workers")) or os.cpu_count() or 1,
    )
