"""The embedded PostgreSQL: ``make stop-db`` (``python -m pipeline.localdb stop``) really stops it."""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, cli_env, query
from pipeline import embedded


def postmasters_of(pgdata) -> list[int]:
    """Every live process whose command line names ``pgdata`` (the postmaster and its children)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as command_line:
                if os.fsencode(str(pgdata)) in command_line.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def localdb(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.localdb", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_stop_ends_the_server_whatever_its_client_list_says_and_says_so_truthfully(tmp_path):
    output_root = tmp_path / "output"
    pgdata = (output_root / "pgdata").resolve()
    env = cli_env(output_root=output_root)
    uri = localdb("uri", env=env).stdout.strip()
    assert query(uri, "select current_setting('server_version_num')::int / 10000") == [(embedded.bundled_major(),)]
    pid = embedded.running_pid(pgdata)
    assert pid in postmasters_of(pgdata)
    # processes that attached and died without saying so (killed runs, validation workers): the package's own
    # stop would wait for them for ever
    gone = subprocess.Popen(["true"])
    gone.wait()
    (pgdata / ".handle_pids.json").write_text(json.dumps([gone.pid, os.getppid()]))

    stopped = localdb("stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == f"stopped the embedded PostgreSQL in {pgdata} (pid {pid})\n"
    assert postmasters_of(pgdata) == []
    again = localdb("stop", env=env)
    assert (again.returncode, again.stdout) == (0, f"no embedded PostgreSQL is running in {pgdata}\n")
    assert localdb("stop", env=cli_env(output_root=output_root, pg_dsn="host=db.internal password=s3cret")).stdout == (
        "nothing to stop: the pipeline uses host=db.internal password=*** (PIPELINE_PG_DSN or [pipeline] dsn)\n")


def test_a_database_made_by_another_postgresql_major_version_is_refused_in_one_line(tmp_path):
    pgdata = tmp_path / "output" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("16\n")
    with pytest.raises(embedded.EmbeddedServerError, match=f"{pgdata} holds a PostgreSQL 16 database, made by an"
                                                           " earlier version of the pipeline"):
        embedded.start(pgdata)
    result = localdb("uri", env=cli_env(output_root=tmp_path / "output"))
    assert result.returncode == 40
    assert result.stderr.startswith("ERROR: ") and result.stderr.count("\n") == 1 and "make stop-db" in result.stderr
    assert localdb("stop", env=cli_env(output_root=tmp_path / "output")).returncode == 0  # nothing running: fine
