"""Settings, secrets in messages, the scheduler switch and the Java check: pure functions."""
import configparser
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipeline import prefer_named_scheduler
from pipeline.config import SettingError, load_settings
from pipeline.database import DatabaseUnavailable, connect, redact
from pipeline.spark import JavaMissingError, check_java, java_major_version


def config(text=""):
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return parser


def test_defaults_apply_without_config_or_environment():
    settings = load_settings(config(), environ={})
    assert (str(settings.raw_root), str(settings.output_root), settings.dsn, settings.spark_conf) == (
        "data/raw", "output", "", {})


def test_environment_overrides_luigi_cfg():
    cfg = config("[pipeline]\nraw_root = /cfg/raw\noutput_root = /cfg/out\ndsn = host=cfg\n"
                 "[spark]\nmaster = local[1]\nspark.sql.shuffle.partitions = 3\n")
    assert load_settings(cfg, environ={}).raw_root.as_posix() == "/cfg/raw"
    settings = load_settings(cfg, environ={"PIPELINE_RAW_ROOT": "/env/raw", "PIPELINE_PG_DSN": "host=env"})
    assert (settings.raw_root.as_posix(), settings.output_root.as_posix(), settings.dsn) == (
        "/env/raw", "/cfg/out", "host=env")
    assert settings.spark_conf == {"master": "local[1]", "spark.sql.shuffle.partitions": "3"}


def test_staging_retention_days_defaults_to_30_and_0_keeps_all():
    assert load_settings(config(), environ={}).staging_retention_days == 30
    cfg = config("[pipeline]\nstaging_retention_days = 7\n")
    assert load_settings(cfg, environ={}).staging_retention_days == 7
    assert load_settings(cfg, environ={"PIPELINE_STAGING_RETENTION_DAYS": "0"}).staging_retention_days == 0


@pytest.mark.parametrize("text", ["-1", "1.5", "30 days", ""])
def test_a_bad_staging_retention_is_one_line_naming_the_setting(text):
    with pytest.raises(SettingError) as failure:
        load_settings(config(f"[pipeline]\nstaging_retention_days = {text}\n"), environ={})
    assert str(failure.value) == (f"staging_retention_days (PIPELINE_STAGING_RETENTION_DAYS) must be a whole number"
                                  f" of days, 0 or more (0 keeps all staging), not {text!r}")


@pytest.mark.parametrize("name, value, message", [
    ("PIPELINE_STAGING_RETENTION_DAYS", "abc", "staging_retention_days (PIPELINE_STAGING_RETENTION_DAYS) must be"),
    ("PIPELINE_VALIDATION_WORKERS", "two", "validation_workers (PIPELINE_VALIDATION_WORKERS) must be a whole number"),
    ("PIPELINE_MAX_DEACTIVATION_SHARE", "most", "max_deactivation_share (PIPELINE_MAX_DEACTIVATION_SHARE) must be"),
])
def test_a_bad_setting_stops_the_command_in_one_line(name, value, message, tmp_path):
    from conftest import cli, cli_env

    env = {**cli_env(output_root=tmp_path), name: value}
    result = cli("SnapshotHistory", "--sync-date", "2024-01-02", env=env)
    assert result.returncode == 40
    assert result.stderr.strip().splitlines()[-1].startswith(f"ERROR: {message}")
    assert "Traceback" not in result.stderr and not (tmp_path / "pgdata").exists()


def test_settings_never_print_the_dsn():
    assert "s3cret" not in repr(load_settings(config(), environ={"PIPELINE_PG_DSN": "password=s3cret"}))


@pytest.mark.parametrize("dsn, expected", [
    ("postgresql://etl:s3cret@db:5432/wh", "postgresql://etl:***@db:5432/wh"),
    ("postgresql://etl@db/wh", "postgresql://etl@db/wh"),
    ("postgresql://postgres:@/postgres?host=/tmp/x", "postgresql://postgres:@/postgres?host=/tmp/x"),
    ("host=db user=etl password=s3cret dbname=wh", "host=db user=etl password=*** dbname=wh"),
    ("host=db password = 'it\\'s s3cret' dbname=wh", "host=db password = *** dbname=wh"),
])
def test_redact(dsn, expected):
    assert redact(dsn) == expected


def test_a_failed_connection_names_the_server_but_not_the_password():
    with pytest.raises(DatabaseUnavailable) as failure:
        connect("postgresql://etl:s3cret@127.0.0.1:9/wh?connect_timeout=2")
    assert "127.0.0.1:9" in str(failure.value)
    assert "s3cret" not in str(failure.value)


@pytest.mark.parametrize("argv, named", [
    (["luigi", "--module", "pipeline", "SnapshotHistory"], False),
    (["luigi", "--scheduler-host", "127.0.0.1", "SnapshotHistory"], True),
    (["luigi", "--scheduler-port=8082", "SnapshotHistory"], True),
])
def test_naming_a_scheduler_switches_off_the_local_one(argv, named):
    cfg = config("[core]\nlocal_scheduler = true\n")
    assert prefer_named_scheduler(argv, cfg) is named
    assert cfg.getboolean("core", "local_scheduler") is not named


@pytest.mark.parametrize("text, major", [
    ('openjdk version "17.0.15" 2025-04-15', 17),
    ('java version "1.8.0_392"', 8),
    ('openjdk version "21" 2023-09-19', 21),
    ("no version here", None),
])
def test_java_major_version(text, major):
    assert java_major_version(text) == major


def test_a_missing_java_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(JavaMissingError, match=r"^Java 17\+ is required by Spark and was not found"):
        check_java()


def test_a_base_url_that_is_refused_is_not_echoed_with_its_query_or_password():
    from pipeline.config import check_base_url

    for url in ("https://acme.freshdesk.com/?api_key=s3cret-key", "https://u:s3cret-key@acme.freshdesk.com/#s3cret-key"):
        with pytest.raises(SettingError) as refused:
            check_base_url(url, "base_url")
        assert "s3cret-key" not in str(refused.value) and "must look like https://" in str(refused.value)


def test_the_class_archive_is_kept_under_the_output_root_unless_set_or_off():
    from pipeline.config import class_archive_folder

    assert load_settings(config("[pipeline]\noutput_root = /cfg/out\n"), environ={}).class_archive == "/cfg/out/jvm"
    assert class_archive_folder("", Path("out")) == "out/jvm"
    assert class_archive_folder(" Off ", Path("out")) == ""
    assert class_archive_folder("/var/cache/agents-jvm", Path("out")) == "/var/cache/agents-jvm"
    settings = load_settings(config("[spark]\nmaster = local[1]\n"), environ={"PIPELINE_CLASS_ARCHIVE": "off"})
    assert settings.session_conf == {"master": "local[1]", "class_archive": ""}


def test_the_driver_maps_the_class_archive_once_it_is_there(tmp_path, caplog):
    from pipeline.class_archive import archive_path
    from pipeline.spark import driver_java_options

    configured = "-Xss4m"
    assert "SharedArchiveFile" not in driver_java_options(configured, "")
    archive = archive_path(tmp_path, configured)
    archive.write_bytes(b"")  # present: named (a JVM that cannot map it starts without it)
    options = driver_java_options(configured, str(tmp_path))
    assert options.startswith("-Xss4m ") and f"-XX:SharedArchiveFile={archive} -Xlog:cds=off" in options
    own = "-XX:SharedArchiveFile=/srv/own.jsa"  # the configured options name an archive: theirs only
    assert driver_java_options(own, str(tmp_path)).count("SharedArchiveFile") == 1
    archive.unlink()
    unwritable = "/proc/no-such-folder/jvm"  # absent: this start goes without, and a maker is started (it fails here)
    with caplog.at_level("INFO", logger="luigi-interface.pipeline"):
        assert "SharedArchiveFile" not in driver_java_options(configured, unwritable)
    assert f"making one in {unwritable}" in caplog.text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a priority per thread is Linux's")
def test_a_background_start_lowers_the_priority_of_its_thread_and_its_jvm_only():
    from pipeline.spark import lower_thread_priority

    started = {}

    def start():
        lower_thread_priority(5)
        started["child"] = subprocess.run([sys.executable, "-c", "import os; print(os.nice(0))"],
                                          capture_output=True, text=True, check=True).stdout

    before = os.getpriority(os.PRIO_PROCESS, 0)
    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    assert int(started["child"]) == min(19, before + 5)  # the process the thread started
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # this thread's (the validation's) is unchanged
