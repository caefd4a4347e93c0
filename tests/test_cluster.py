"""The same two-account day on a real Spark standalone cluster (master and worker on 127.0.0.1, from the installed
PySpark) gives the same tables as local mode."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyspark
import pytest
from test_luigid import free_port
from test_pipeline import DAY2, run, tables

from conftest import FIXTURES, cli, cli_env
from pipeline import AllAccounts

SPARK_CLASS = str(Path(pyspark.__file__).parent / "bin" / "spark-class")


def start(*args, env):
    return subprocess.Popen([SPARK_CLASS, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


@pytest.fixture
def spark_cluster(tmp_path, test_jvm_options):
    """A master and one worker (1 core, 1 GiB) on loopback; yields the master URL."""
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", SPARK_WORKER_DIR=str(tmp_path / "work"),
               SPARK_LOG_DIR=str(tmp_path / "logs"), SPARK_DAEMON_JAVA_OPTS=test_jvm_options)
    port, ui = free_port(), free_port()
    processes = [start("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                       "--webui-port", str(ui), env=env)]
    try:
        url = f"spark://127.0.0.1:{port}"
        processes.append(start("org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1",
                               "--memory", "1g", "--webui-port", str(free_port()), env=env))
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=2) as response:
                    if json.load(response).get("aliveworkers", 0) >= 1:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the Spark worker did not register with the master"
            time.sleep(0.5)
        yield url
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)


@pytest.mark.heavy
def test_a_two_account_day_on_a_standalone_cluster_gives_the_same_tables(spark_cluster, pipeline_env, new_database,
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
        f"master = {spark_cluster}\n"
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
    result = cli("AllAccounts", "--sync-date", DAY2.isoformat(), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Starting Spark session (master={spark_cluster})" in result.stderr

    def rows(dsn):  # each table's rows in an order that does not depend on how ties were broken
        return {table: sorted(values, key=repr) for table, values in tables(dsn).items()}

    local = rows(pipeline_env["dsn"])
    assert rows(on_cluster) == local
    assert {row[-1] for row in local["stg_agents"]} == {"acme", "beta"} and len(local["stg_agents"]) == 12
