"""Shared fixtures: a real local SparkSession, a real PostgreSQL server and a fresh database per test."""
import atexit
import copy
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import make_dsn, parse_dsn
from shared_jvm import SharedSparkJvm

REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures" / "freshdesk-agents"
FIXTURE_DAYS = ("2024-01-01", "2024-01-02")


def fixture_root() -> Path:
    """The two real-shaped fixture days: ``../shared`` beside the repository when it is there, else a raw root
    of the bundled sample's identical copies of those two days (the sample's third day is made up)."""
    if SHARED_FIXTURES.is_dir():
        return SHARED_FIXTURES
    root = Path(tempfile.mkdtemp(prefix="agents-fixture-days-"))
    for day in FIXTURE_DAYS:
        shutil.copytree(REPO / "data" / "raw" / day, root / day)
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


FIXTURES = fixture_root()

LUIGI = [os.path.join(os.path.dirname(sys.executable), "luigi"), "--module", "pipeline"]

TEST_SPARK_CONF = {
    "master": "local[1]",  # one core, one shuffle partition: as tests/luigi.cfg says
    "spark.sql.shuffle.partitions": "1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "false",
    "spark.driver.extraJavaOptions": "",  # set by test_jvm_options: tests/fast_jvm.py
    # no generated Java code: compiling it costs more than these tiny days take (tests/luigi.cfg)
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}
TEST_LUIGI_CONFIG = REPO / "tests" / "luigi.cfg"
SHARED_JVM = SharedSparkJvm(java_options="")  # the command-line runs' (cli); its options from test_jvm_options
ARCHIVE_MAKER = pytest.StashKey()


def pytest_configure(config):
    """The first test run of an environment makes the JVMs' class archive (tests/fast_jvm.py) in the background,
    started once, by the process that starts the test processes; the run waits for it at its end."""
    if not hasattr(config, "workerinput"):
        from fast_jvm import make_tests_archive_in_background

        config.stash[ARCHIVE_MAKER] = make_tests_archive_in_background()


def pytest_unconfigure(config):
    maker = config.stash.get(ARCHIVE_MAKER, None)
    if maker is not None:
        maker.wait()


def pytest_collection_modifyitems(items):
    """Heavy tests (several JVMs or whole command-line runs each) first, so that the two test processes share
    them out instead of one finishing the last of them alone."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


@pytest.fixture(autouse=True)
def fresh_task_instances():
    """luigi keeps one instance per task and parameters in a process: a test's Reprocess, which remembers that it
    ran, would otherwise be done already in the next test that builds the same one."""
    import luigi.task_register

    luigi.task_register.Register.clear_instance_cache()


@pytest.fixture(scope="session", autouse=True)
def test_jvm_options(tmp_path_factory):
    """Every Spark JVM of the tests starts with :func:`fast_jvm.java_options`: this process's session
    (``TEST_SPARK_CONF``) and the command-line runs (a copy of tests/luigi.cfg naming them, in
    ``LUIGI_CONFIG_PATH``, which cli_env passes on). Returns the options."""
    from fast_jvm import C1_ONLY, java_options

    options = java_options()
    TEST_SPARK_CONF["spark.driver.extraJavaOptions"] = options
    SHARED_JVM.java_options = options
    config = tmp_path_factory.mktemp("luigi-config") / "luigi.cfg"
    config.write_text(TEST_LUIGI_CONFIG.read_text(encoding="utf-8").replace(C1_ONLY, options), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LUIGI_CONFIG_PATH", str(config))
        patch.setenv("PIPELINE_CLASS_ARCHIVE", "off")  # the pipeline's tasks run in this process too
        for name in [name for name in os.environ if name.startswith("FRESHDESK_")]:  # a developer's own settings
            patch.delenv(name)
        yield options


@pytest.fixture(scope="session")
def spark():
    from pipeline.spark import get_spark

    return get_spark(TEST_SPARK_CONF)  # the pipeline's own tasks reuse this session in-process


@pytest.fixture(scope="session")
def pg_server_dsn():
    """PIPELINE_TEST_DSN when set, else an embedded PostgreSQL in a temporary folder of its own
    (not pytest's: pytest removes old ones, even while another session still uses them)."""
    dsn = os.environ.get("PIPELINE_TEST_DSN")
    if dsn:
        yield dsn
        return
    from pipeline.embedded import temporary_server

    with temporary_server("agents-test-pg-") as dsn:
        # a throw-away server: no need to survive a power cut (each test's database is dropped anyway)
        with closing(psycopg2.connect(dsn)) as connection:
            connection.autocommit = True
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                connection.cursor().execute(f"alter system set {setting} = off")
            connection.cursor().execute("select pg_reload_conf()")
        yield dsn


def _admin_execute(server_dsn, statement):
    admin = make_dsn(server_dsn, dbname=parse_dsn(server_dsn).get("dbname", "postgres"))
    with closing(psycopg2.connect(admin)) as connection:
        connection.autocommit = True
        connection.cursor().execute(statement)


def create_database(server_dsn, template=None) -> tuple[str, str]:
    """A new database on the test server (a copy of ``template`` when given); returns its name and DSN."""
    name = f"agents_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(server_dsn, f'create database "{name}"' + (f' template "{template}"' if template else ""))
    return name, make_dsn(server_dsn, dbname=name)


def drop_database(server_dsn, name) -> None:
    _admin_execute(server_dsn, f'drop database if exists "{name}" with (force)')


@pytest.fixture
def new_database(pg_server_dsn):
    """Makes new, empty databases on the test server (dropped afterwards); each call returns a DSN."""
    names = []

    def create():
        name, dsn = create_database(pg_server_dsn)
        names.append(name)
        return dsn

    yield create
    for name in names:
        drop_database(pg_server_dsn, name)


@pytest.fixture
def database(new_database):
    return new_database()


@pytest.fixture
def pipeline_env(monkeypatch, tmp_path, database, spark):
    """Point the pipeline at the fixture days, a temporary output root and a fresh database."""
    return point_the_pipeline(monkeypatch, FIXTURES, tmp_path / "output", database)


def point_the_pipeline(monkeypatch, raw_root: Path, output_root: Path, dsn: str) -> dict:
    """The pipeline's settings (PIPELINE_RAW_ROOT, _OUTPUT_ROOT, _PG_DSN) for this test; returns them."""
    for setting, value in (("RAW_ROOT", raw_root), ("OUTPUT_ROOT", output_root), ("PG_DSN", dsn)):
        monkeypatch.setenv(f"PIPELINE_{setting}", str(value))
    return {"raw_root": raw_root, "output_root": output_root, "dsn": dsn}


@pytest.fixture(scope="session")
def loaded_templates(pg_server_dsn, spark, tmp_path_factory):
    """Days the pipeline loaded once per test process, kept as templates: ``template(raw_root, days)`` loads the days
    of ``raw_root`` (SnapshotHistory of each, in this order, in this process) the first time it is asked for them,
    and returns the template database's name and the output root that run left."""
    import luigi
    import luigi.task_register

    from pipeline import SnapshotHistory

    made = {}

    def template(raw_root: Path, days) -> tuple[str, Path]:
        key = (str(raw_root), tuple(days))
        if key not in made:
            name, dsn = create_database(pg_server_dsn)
            output_root = tmp_path_factory.mktemp("loaded-days") / "output"
            with pytest.MonkeyPatch.context() as patch:
                point_the_pipeline(patch, raw_root, output_root, dsn)
                for day in days:
                    assert luigi.build([SnapshotHistory(sync_date=day)], local_scheduler=True, log_level="WARNING")
            luigi.task_register.Register.clear_instance_cache()
            made[key] = (name, output_root)
        return made[key]

    yield template
    for name, _ in made.values():
        drop_database(pg_server_dsn, name)


@pytest.fixture
def loaded_days(loaded_templates, pg_server_dsn, monkeypatch, tmp_path, spark):
    """``loaded_days(raw_root, *days)``: the settings of ``pipeline_env`` after the pipeline loaded these days of
    ``raw_root`` in this order (a copy of a template database, and of the output root its run left), pointing at
    ``raw_root``; returns them as ``pipeline_env`` does. Loading them costs a Spark job per day once per test
    process, not once per test."""
    names = []

    def load(raw_root: Path, *days) -> dict:
        template, loaded_output = loaded_templates(raw_root, days)
        name, dsn = create_database(pg_server_dsn, template=template)
        names.append(name)
        shutil.copytree(loaded_output, tmp_path / "output")
        return point_the_pipeline(monkeypatch, raw_root, tmp_path / "output", dsn)

    yield load
    for name in names:
        drop_database(pg_server_dsn, name)


@pytest.fixture
def fixture_days_loaded(loaded_days):
    """As ``pipeline_env`` once the pipeline has loaded the two fixture days, in date order."""
    import datetime

    return loaded_days(FIXTURES, *(datetime.date.fromisoformat(day) for day in FIXTURE_DAYS))


@pytest.fixture
def two_accounts(tmp_path, monkeypatch, database, spark):
    """acme and beta, registered, each with the two fixture days (the same agent ids in both); the pipeline's
    settings point at them. Returns the settings (PIPELINE_<NAME> values)."""
    raw = tmp_path / "raw"
    for account in ("acme", "beta"):
        for day in ("2024-01-01", "2024-01-02"):
            shutil.copytree(FIXTURES / day, raw / account / day)
    registry = tmp_path / "accounts.toml"
    registry.write_text("[accounts.acme]\n\n[accounts.beta]\n", encoding="utf-8")
    settings = {"raw_root": raw, "output_root": tmp_path / "output", "pg_dsn": database, "accounts_file": registry}
    for name, value in settings.items():
        monkeypatch.setenv(f"PIPELINE_{name.upper()}", str(value))
    return settings


def query(dsn, sql, params=None):
    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def cli_env(**settings):
    """The environment of a command-line run: this one, with PIPELINE_<NAME> set from ``settings`` only (and no
    FRESHDESK_ setting: the tests that fetch set their own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "FRESHDESK_"))}
    env["PIPELINE_CLASS_ARCHIVE"] = "off"  # the runs' JVMs name the tests' own archive (tests/fast_jvm.py)
    env.update({f"PIPELINE_{k.upper()}": str(v) for k, v in settings.items()})
    env.setdefault("LUIGI_CONFIG_PATH", str(TEST_LUIGI_CONFIG))
    return env


def cli(*args, env, own_jvm=False):
    """``luigi --module pipeline ARGS`` from the repository root, as a user runs it; with Spark in this test
    process's shared JVM (tests/shared_jvm.py), or in a JVM of the run's own with ``own_jvm``."""
    if own_jvm:
        return subprocess.run(LUIGI + list(args), cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
                              check=False)
    return SHARED_JVM.run(LUIGI + list(args), env, cwd=REPO, timeout=300, check=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def without(record: dict, *paths: str) -> dict:
    """A copy of ``record`` without the keys at ``paths`` (``"focus_mode"``, ``"contact.language"``)."""
    record = copy.deepcopy(record)
    for path in paths:
        *parents, key = path.split(".")
        owner = record
        for parent in parents:
            owner = owner[parent]
        del owner[key]
    return record
