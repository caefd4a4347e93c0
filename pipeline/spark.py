"""The SparkSession: created on first use, once per worker process, from the ``[spark]`` settings."""
import errno
import functools
import logging
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager, suppress
from pathlib import Path

from pipeline.errors import PipelineError, errno_in_text
from pipeline.logs import spark_java_options

logger = logging.getLogger("luigi-interface.pipeline")  # shown with luigi's own log lines

_sessions = {}  # at most one: the process's session
_starting = threading.Lock()  # held while the session starts


class JavaMissingError(PipelineError):
    """No Java, or one older than 17."""


def java_major_version(version_text: str):
    """17 from ``openjdk version "17.0.15"``; 8 from ``java version "1.8.0_392"``; None if unreadable."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_text)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def java_executable() -> str | None:
    """The java Spark starts: ``$JAVA_HOME/bin/java``, else the first on the PATH; None when there is none."""
    java_home = os.environ.get("JAVA_HOME")
    return os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")


@functools.cache
def java_version_text(java: str) -> str:
    """What ``java -version`` prints (asked once per process and executable)."""
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    return result.stderr + result.stdout


def check_java() -> None:
    """Spark needs Java 17 or newer: say so in one line instead of a JVM gateway stack trace."""
    java = java_executable()
    if not java or not os.path.exists(java):
        raise JavaMissingError("Java 17+ is required by Spark and was not found: install a JDK 17+ or set JAVA_HOME")
    major = java_major_version(java_version_text(java))
    if major is not None and major < 17:
        raise JavaMissingError(f"Java 17+ is required by Spark; {java} is Java {major}")


# what a Spark job's IOException (its message is the C library's) says when it cannot write: not a missing
# permission, which may come from a file the job reads as well
JOB_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


@contextmanager
def job_write_errors(path):
    """A Spark job that fails because the disk is full or read-only (a Py4JJavaError with such an IOException among
    its causes) raises the OSError it is, for ``path``: pipeline.locks words it in one line. Any other failure
    passes as it is."""
    try:
        yield
    except Exception as error:
        code = errno_in_text(str(error), JOB_WRITE_ERRNOS) if type(error).__module__.startswith(("py4j", "pyspark")) \
            else None
        if code is None:
            raise
        logger.debug("The Spark job writing %s failed: %s", path, error)  # its Java stack trace, for --log-level DEBUG
        raise OSError(code, os.strerror(code), str(path)) from None


def get_spark(conf: dict):
    """The process's SparkSession, started on first call with ``conf`` (``master`` plus any ``spark.*`` keys).
    A start already under way (start_in_background) is waited for."""
    with _starting:
        if "session" not in _sessions:
            _sessions["session"] = _new_session(conf)
    return _sessions["session"]


def start_in_background(conf: dict) -> None:
    """Start the session in a thread, so that the JVM starts while this process does other work (the day's
    validation). A failure is left to the next get_spark, which raises it in the task that needs Spark.
    Not in a task process of ``--workers N`` (a child process that ends with its task): the transform
    runs in another one."""
    if multiprocessing.parent_process() is not None:
        return
    if "session" not in _sessions and not _starting.locked():
        threading.Thread(target=_start_quietly, args=(conf,), name="spark-start", daemon=True).start()


# The CPU priority a session started in the background gives its JVM (Linux niceness, added): the JVM starts
# with the cores the day's validation leaves, and keeps that priority (it does its work when nothing else runs).
BACKGROUND_START_NICENESS = 5


def lower_thread_priority(niceness: int) -> None:
    """Lower the calling thread's CPU priority by ``niceness``, and so that of the processes it starts (the JVM):
    Linux keeps a priority per thread, which a child process inherits from the thread that started it; the
    process's other threads keep theirs. Elsewhere the priority is the whole process's: nothing is changed."""
    if sys.platform.startswith("linux"):
        with suppress(OSError):
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + niceness))


def _start_quietly(conf: dict) -> None:
    lower_thread_priority(BACKGROUND_START_NICENESS)
    try:
        get_spark(conf)
    except Exception as error:  # noqa: BLE001 (raised again where Spark is needed)
        logger.debug("Spark did not start in the background: %s", error)


def _new_session(conf: dict):
    check_java()
    from pyspark.sql import SparkSession

    conf = dict(conf)
    master = conf.pop("master", "local[*]")
    log_level = conf.pop("log_level", "WARN")
    archive_folder = conf.pop("class_archive", "")
    if master.startswith("local") and "SPARK_LOCAL_IP" not in os.environ:
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # local mode: bind to loopback, not the host's address
    logger.info("Starting Spark session (master=%s)", master)
    builder = SparkSession.builder.master(master).appName(conf.pop("app_name", "agents-pipeline"))
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    conf["spark.driver.extraJavaOptions"] = driver_java_options(conf.get("spark.driver.extraJavaOptions", ""),
                                                                archive_folder)
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(log_level)
    name_directly(session, DIRECTLY_NAMED)
    return session


def driver_java_options(configured: str, archive_folder: str) -> str:
    """The driver's Java options: the configured ones, the quiet log configuration (pipeline.logs) and, when
    ``archive_folder`` is set, its class archive (pipeline.class_archive): named when it is there, else made in
    the background, at the lowest CPU priority, for the next runs (this one starts without it)."""
    options = spark_java_options(configured)
    if not archive_folder or "SharedArchiveFile" in configured:  # none, or one the configured options name
        return options
    from pipeline.class_archive import archive_path, make_archive_in_background, with_archive

    folder = Path(archive_folder).absolute()  # the JVM's working folder need not be this process's
    archive = archive_path(folder, configured)
    if archive.exists():
        return with_archive(options, archive)
    logger.info("No class archive for Spark's JVM yet: making one in %s for the next runs", folder)
    make_archive_in_background(folder, configured, niceness=19)  # the day's work comes first
    return options


# The JVM classes PySpark looks up by their short name on nearly every DataFrame call (``functions`` for each
# ``F.…``): named directly, each lookup finds its class at once; otherwise the JVM tries every package PySpark
# imports (java.lang, org.apache.spark.api.java, …) in turn, each a failed class load that searches every jar.
DIRECTLY_NAMED = ("org.apache.spark.sql.functions", "org.apache.spark.api.python.PythonUtils",
                  "org.apache.spark.sql.SparkSession")


def name_directly(session, classes) -> None:
    from py4j.java_gateway import java_import

    for name in classes:
        java_import(session.sparkContext._jvm, name)
