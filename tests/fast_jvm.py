"""Java options for the tests' Spark JVMs: the suite starts a dozen (its own sessions, every command-line run
that transforms, a standalone cluster), and each start costs more than the tiny days it transforms.

- C1-only JIT and the serial collector (tests/luigi.cfg): the first job runs sooner and costs less CPU (on large
  days the default JIT is faster).
- The pipeline's class-data-sharing archive (pipeline.class_archive), made for these options once per virtual
  environment and JDK and kept in the environment (``<venv>/share/agents-pipeline-tests/``, so it goes with it;
  about 145 MB), then mapped by every test JVM: a session and its first job take about 3.2 s instead of 5.6 s
  here. The first test run of an environment makes it in the background (about 27 s) while the tests run; the
  JVMs that start before it is there run without it. The command-line runs' own archive is off
  (tests/luigi.cfg): their options name this one.
"""
import sys
from pathlib import Path

from pipeline.class_archive import archive_path, make_archive, make_archive_in_background, with_archive

C1_ONLY = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # C1 only; one GC thread, not one per core
FOLDER = Path(sys.prefix) / "share" / "agents-pipeline-tests"


def make_tests_archive_in_background():
    """Start making the tests' archive when there is none yet (the first test run of an environment); returns
    the process, or None."""
    return make_archive_in_background(FOLDER, C1_ONLY)


def java_options() -> str:
    """The options of every test JVM. The archive is named even before it exists: a JVM that finds no archive
    (or one it cannot use) runs without it, silently."""
    return with_archive(C1_ONLY, archive_path(FOLDER, C1_ONLY))


if __name__ == "__main__":
    make_archive(FOLDER, C1_ONLY)
