"""A class-data-sharing archive of the classes a Spark session loads (Java's ``-XX:SharedArchiveFile``): a JVM
that maps it skips loading, parsing and verifying them, about 2.4 s of CPU a start on two cores.

One archive per folder, JDK, PySpark and Java options (the class path names PySpark's jars), made once by a
short Spark run of its own (about 27 s), in the background: the run that finds none starts without it, the
next ones map it. Made by one process at a time (a lock), written under a temporary name and renamed, so a JVM
never maps half an archive. A JVM that cannot use it (another JDK or class path) starts without it, silently:
the archive is only ever speed, never a reason to fail.

    python -m pipeline.class_archive output/jvm [--java-options="…"]   # make it now (the options: those of
                                                                      # [spark] spark.driver.extraJavaOptions)
"""
import argparse
import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path

QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"  # no warning from a JVM that cannot map the archive

# The classes a day's transform loads: a session, Parquet in and out, a window, an aggregation, a join and a
# text write. argv[1]: the Java options the archive is made with.
WARM_UP = """
import os, shutil, sys, tempfile
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
shutil.rmtree(folder)
"""


def archive_path(folder: Path, java_options: str = "") -> Path:
    """The archive of ``folder`` for this JDK (the one Spark starts), PySpark and ``java_options``."""
    import pyspark

    from pipeline.spark import java_executable, java_version_text

    java = java_version_text(java_executable() or "java")
    key = hashlib.sha256(f"{java}{pyspark.__version__}{pyspark.__file__}{java_options}".encode()).hexdigest()
    return Path(folder) / f"spark-{key[:16]}.jsa"


def make_archive(folder: Path, java_options: str = "") -> Path | None:
    """The archive, made first if needed (one process at a time: another waits for it); None when it cannot be
    made here (a folder this user cannot write to, a JVM that fails)."""
    path = archive_path(folder, java_options)
    if path.exists():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.parent / "lock", "w")  # noqa: SIM115 (held until the archive is in place)
    except OSError:
        return None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():  # made by another process while this one waited
            return path
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        made = subprocess.run([sys.executable, "-c", WARM_UP, f"{java_options} -XX:ArchiveClassesAtExit={partial}"],
                              capture_output=True, timeout=300, check=False)
        if made.returncode != 0 or not partial.exists():
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            return None
        for old in path.parent.glob("spark-*.jsa"):  # made for another JDK, PySpark or options
            old.unlink()
        os.replace(partial, path)
    return path


def make_archive_in_background(folder: Path, java_options: str = "", niceness: int = 0) -> subprocess.Popen | None:
    """Start making the archive in a process of its own (``niceness`` added to its CPU priority; 19: the lowest)
    when there is none yet; returns the process, or None."""
    if archive_path(folder, java_options).exists():
        return None
    return subprocess.Popen([sys.executable, "-m", "pipeline.class_archive", str(folder),
                             f"--java-options={java_options}", f"--niceness={niceness}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def with_archive(java_options: str, archive: Path) -> str:
    """``java_options`` with the archive named: mapped when it is there and fits this JVM, else silently not."""
    return f"{java_options} -XX:SharedArchiveFile={archive} {QUIET}".strip()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Make the Spark JVMs' class archive of a folder, if it is not there.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--java-options", default="",
                        help="the driver's configured Java options ([spark] spark.driver.extraJavaOptions)")
    parser.add_argument("--niceness", type=int, default=0, help="added to this process's CPU priority (19: lowest)")
    args = parser.parse_args(argv)
    os.nice(args.niceness)
    made = make_archive(args.folder, args.java_options)
    sys.exit(0 if made else 1)


if __name__ == "__main__":
    main()
