"""Java options for the tests' Spark JVMs: the suite starts a dozen (its own sessions, every command-line run
that transforms, a standalone cluster), and each start costs more than the tiny days it transforms.

- C1-only JIT and the serial collector (tests/luigi.cfg): the first job runs sooner and costs less CPU (on large
  days the default JIT is faster).
- A class-data-sharing archive of the classes a Spark session loads (Java's ``-XX:SharedArchiveFile``), made
  once per virtual environment and JDK, kept in the environment (``<venv>/share/agents-pipeline-tests/``, so
  it goes with it; about 145 MB), then mapped by every test JVM: a session and its first job take about 3.2 s
  instead of 5.6 s here. The first test run of an environment makes it in the background (about 27 s) while the
  tests run; the JVMs that start before it is there run without it. Made by one process at a time (a lock),
  written under a temporary name and renamed, so a JVM never maps half an archive. A JVM that cannot use it
  (another JDK, another class path) runs without it; its warning is switched off.
"""
import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pyspark

C1_ONLY = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # C1 only; one GC thread, not one per core
QUIET_CDS = "-Xlog:cds=off -Xlog:cds+dynamic=off"

# The classes a pipeline day loads: a session as the pipeline makes it, Parquet in and out, a window, an
# aggregation, a join and a text write.
WARM_UP = """
import os, sys, tempfile
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
from pyspark.sql import SparkSession, Window, functions as F
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.sql.session.timeZone", "UTC").config("spark.sql.shuffle.partitions", "2")
         .config("spark.driver.extraJavaOptions", sys.argv[1]).getOrCreate())
folder = tempfile.mkdtemp()
frame = spark.range(1000).select((F.col("id") % 7).alias("k"), F.col("id").cast("string").alias("v"))
frame.write.parquet(folder + "/p")
read = spark.read.parquet(folder + "/p")
ranked = read.withColumn("r", F.row_number().over(Window.partitionBy("k").orderBy(F.desc("v"))))
merged = ranked.groupBy("k").agg(F.min_by("v", "r").alias("v"), F.count("*").alias("n"))
joined = merged.join(read.select("k", F.col("v").alias("w")), "k", "left")
joined.select(F.concat_ws("\\t", "k", "v", "n").alias("line")).write.text(folder + "/t")
spark.stop()
"""


def archive_path() -> Path:
    """The environment's archive for this JDK, PySpark and JVM options (the class path names the environment's
    jars)."""
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    key = hashlib.sha256(f"{java.stderr}{pyspark.__version__}{pyspark.__file__}{C1_ONLY}".encode()).hexdigest()[:16]
    return Path(sys.prefix) / "share" / "agents-pipeline-tests" / f"spark-{key}.jsa"


def make_archive():
    """The archive, made first if needed (one process at a time: another waits for it); None when it cannot be
    made here."""
    path = archive_path()
    if path.exists():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.parent / "lock", "w")  # noqa: SIM115 (held until the archive is in place)
    except OSError:  # an environment this user cannot write to: no archive
        return None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():  # made by another process while this one waited
            return path
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        made = subprocess.run([sys.executable, "-c", WARM_UP, f"{C1_ONLY} -XX:ArchiveClassesAtExit={partial}"],
                              capture_output=True, timeout=300, check=False)
        if made.returncode != 0 or not partial.exists():
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            return None
        for old in path.parent.glob("spark-*.jsa"):  # made for another JDK or PySpark of this environment
            old.unlink()
        os.replace(partial, path)
    return path


def make_archive_in_background():
    """Start making the archive in a process of its own when there is none yet (the first test run of an
    environment); returns the process, or None. JVMs that start meanwhile run without it."""
    if archive_path().exists():
        return None
    return subprocess.Popen([sys.executable, __file__], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def java_options() -> str:
    """The options of every test JVM. The archive is named even before it exists: a JVM that finds no archive
    (or one it cannot use) runs without it, silently."""
    return f"{C1_ONLY} -XX:SharedArchiveFile={archive_path()} {QUIET_CDS}"


if __name__ == "__main__":
    make_archive()
