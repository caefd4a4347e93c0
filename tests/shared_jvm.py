"""One Spark JVM per test process that the tests' command-line runs use one after another.

A command-line run starts a JVM of its own: about 10 CPU-seconds for a day of a few agents, most of it the JVM
starting and compiling Spark's code anew. PySpark connects to a JVM that is already running when the environment
names its gateway (``PYSPARK_GATEWAY_PORT`` and ``PYSPARK_GATEWAY_SECRET``), as notebooks do: the run's own
``SparkSession`` is then made in that JVM, warm from the runs before it, for about 4 CPU-seconds. Everything
else is the run's own: its process, its settings, its Spark session and its output.

A JVM holds one SparkContext at a time, and a run's process ends without stopping its own, so
:meth:`SharedSparkJvm.run` stops it once the run has ended. Runs that share this JVM therefore run one at a
time. Runs that are killed, that run beside another, that start several task processes (``--workers``), or whose
subject is the Spark process itself (the cluster test) start their own JVM, as users' runs do (``cli(...,
own_jvm=True)`` or a ``subprocess`` of their own).

What the JVM prints while a run uses it is added to the run's stderr, where a run of its own prints it.
"""
import os
import subprocess
import tempfile
from pathlib import Path


class SharedSparkJvm:
    """Started on first use, with ``java_options``; ended with the test process (PySpark's gateway JVM exits when
    its parent's pipe closes)."""

    def __init__(self, java_options: str):
        self.java_options = java_options
        self.gateway = None
        self.log = None

    def _start(self) -> None:
        from pyspark import SparkConf
        from pyspark.java_gateway import launch_gateway

        from pipeline.logs import SPARK_LOG_CONFIG

        self.log = Path(tempfile.mkstemp(prefix="agents-shared-jvm-", suffix=".log")[1])
        options = f"{self.java_options} -Dlog4j2.configurationFile={SPARK_LOG_CONFIG.as_uri()}"
        conf = SparkConf(loadDefaults=False).set("spark.driver.extraJavaOptions", options)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # as pipeline.spark sets it for a local session
        with open(self.log, "ab") as log:
            self.gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": subprocess.STDOUT})

    def run(self, command: list, env: dict, **kwargs) -> subprocess.CompletedProcess:
        """``subprocess.run(command, env=env, capture_output=True, text=True, **kwargs)`` with Spark in this JVM;
        the JVM's output meanwhile is appended to the result's stderr."""
        if self.gateway is None:
            self._start()
        parameters = self.gateway.gateway_parameters
        env = {**env, "PYSPARK_GATEWAY_PORT": str(parameters.port), "PYSPARK_GATEWAY_SECRET": parameters.auth_token}
        start = self.log.stat().st_size
        try:
            result = subprocess.run(command, env=env, capture_output=True, text=True, **kwargs)  # noqa: PLW1510 (the caller says)
        finally:
            self._stop_the_runs_context()
        with open(self.log, encoding="utf-8", errors="replace") as log:
            log.seek(start)
            result.stderr += log.read()
        return result

    def _stop_the_runs_context(self) -> None:
        companion = getattr(getattr(self.gateway.jvm.org.apache.spark, "SparkContext$"), "MODULE$")
        context = companion.getActive()  # Scala's private[spark] is public to Java
        if context.isDefined():
            context.get().stop()
