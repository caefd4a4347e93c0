"""The same two-account day on a Spark standalone cluster gives the same tables as local mode: Spark's own standalone
master and worker, which ``local-cluster`` starts in the driver's JVM, and an executor in a JVM of its own that
reads and writes the output root, as on a real cluster."""
import shutil
import sys
from pathlib import Path

import pyspark
import pytest
from test_pipeline import DAY2, run, tables

from conftest import FIXTURES, cli, cli_env
from pipeline import AllAccounts

MASTER = "local-cluster[1,1,1024]"  # one worker with 1 core and 1 GiB


@pytest.fixture
def spark_home(tmp_path):
    """A SPARK_HOME linking PySpark's scripts and jars: the worker keeps each executor's folder under
    ``SPARK_HOME/work``, which is then the test's, not the virtual environment's."""
    home = tmp_path / "spark-home"
    home.mkdir()
    for entry in ("bin", "jars", "python"):
        (home / entry).symlink_to(Path(pyspark.__file__).parent / entry)
    return home


@pytest.mark.heavy
def test_a_two_account_day_on_a_standalone_cluster_gives_the_same_tables(spark_home, pipeline_env, new_database,
                                                                        tmp_path, test_jvm_options, monkeypatch):
    """Two accounts (the same agent ids in both) through AllAccounts: in-process in local mode, then from the
    command line on the cluster."""
    raw = tmp_path / "raw"
    for account in ("acme", "beta"):
        shutil.copytree(FIXTURES / DAY2.isoformat(), raw / account / DAY2.isoformat())
    registry = tmp_path / "accounts.toml"
    registry.write_text("[accounts.acme]\n\n[accounts.beta]\n", encoding="utf-8")
    monkeypatch.setenv("PIPELINE_RAW_ROOT", str(raw))
    monkeypatch.setenv("PIPELINE_ACCOUNTS_FILE", str(registry))
    run(AllAccounts(sync_date=DAY2))  # local mode, in-process
    config = tmp_path / "cluster.cfg"
    config.write_text(
        "[spark]\n"
        f"master = {MASTER}\n"
        "spark.driver.host = 127.0.0.1\n"
        "spark.driver.bindAddress = 127.0.0.1\n"
        "spark.executor.memory = 512m\n"
        "spark.cores.max = 1\n"
        f"spark.driver.extraJavaOptions = {test_jvm_options}\n"
        f"spark.executor.extraJavaOptions = {test_jvm_options}\n"
        f"spark.pyspark.python = {sys.executable}\n")
    on_cluster = new_database()
    env = cli_env(raw_root=raw, output_root=tmp_path / "cluster-output", pg_dsn=on_cluster, accounts_file=registry)
    env["LUIGI_CONFIG_PATH"] = str(config)  # read after ./luigi.cfg, so it wins
    env.update(SPARK_HOME=str(spark_home), SPARK_LOCAL_IP="127.0.0.1")
    result = cli("AllAccounts", "--sync-date", DAY2.isoformat(), env=env, own_jvm=True)  # the driver's SPARK_HOME
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Starting Spark session (master={MASTER})" in result.stderr
    [executor] = (spark_home / "work").glob("app-*/0")  # the executor ran in a JVM of its own, and ended
    assert "Finished task" in (executor / "stderr").read_text(encoding="utf-8")

    def rows(dsn):  # each table's rows in an order that does not depend on how ties were broken
        return {table: sorted(values, key=repr) for table, values in tables(dsn).items()}

    local = rows(pipeline_env["dsn"])
    assert rows(on_cluster) == local
    assert {row[-1] for row in local["stg_agents"]} == {"acme", "beta"} and len(local["stg_agents"]) == 12
