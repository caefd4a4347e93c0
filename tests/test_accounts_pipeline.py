"""Many Freshdesk accounts in one database, on real PostgreSQL and a real local Spark: two accounts whose agent ids
overlap load side by side and independently, AllAccounts and its summary, and a one-account database upgraded in
place."""
import datetime
import json
import shutil
from contextlib import closing

import luigi
import psycopg2
from luigi.execution_summary import LuigiStatusCode

from conftest import FIXTURES, REPO, cli, cli_env, query
from pipeline import AllAccounts, Reprocess, SnapshotHistory
from pipeline.database import ensure_schema

DAY1, DAY2, DAY3 = datetime.date(2024, 1, 1), datetime.date(2024, 1, 2), datetime.date(2024, 1, 3)
ACME, BETA = "acme", "beta"
# every table's rows of one account, without the columns that record when a row was written
ACCOUNT_ROWS = {
    "stg_agents": "select agent_id, sync_date, status, name, source from stg_agents where account = %s order by 1, 2",
    "agents": "select agent_id, status, name, sync_date, first_sync_date from agents where account = %s order by 1",
    "agent_status_history": "select agent_id, sync_date, is_active, seen from agent_status_history"
                            " where account = %s order by 1, 2",
    "agent_versions": "select agent_id, valid_from, valid_to, status, name from agent_versions where account = %s"
                      " order by 1, 2",
    "agent_pipeline_errors": "select agent_id, sync_date, source_file, error_type from agent_pipeline_errors"
                             " where account = %s order by 2, 3",
}


def run(*tasks, succeed=True):
    result = luigi.build(list(tasks), local_scheduler=True, detailed_summary=True, log_level="WARNING")
    assert (result.status == LuigiStatusCode.SUCCESS) is succeed, result.summary_text
    return result


def account_rows(dsn, account) -> dict:
    return {table: query(dsn, statement, (account,)) for table, statement in ACCOUNT_ROWS.items()}


def markers(dsn, account, days=(DAY1, DAY2)) -> set:
    ids = [SnapshotHistory(sync_date=day, account=account).task_id for day in days]
    return {row[0] for row in query(dsn, "select update_id from table_updates where update_id = any(%s)", (ids,))}


def test_two_accounts_with_the_same_agent_ids_load_side_by_side_and_reprocess_alone(two_accounts):
    dsn = two_accounts["pg_dsn"]
    assert AllAccounts.bulk_complete([DAY1, DAY2]) == []
    run(AllAccounts(sync_date=DAY1), AllAccounts(sync_date=DAY2))

    acme, beta = account_rows(dsn, ACME), account_rows(dsn, BETA)
    assert acme == beta  # the same days give the same rows, each under its own account
    assert [row[0] for row in acme["agents"]] == [row[0] for row in beta["agents"]]
    assert len(acme["agents"]) == 6 and len(acme["agent_status_history"]) == 12
    assert query(dsn, "select count(*) from agents where account = 'default'") == [(0,)]
    assert AllAccounts.bulk_complete([DAY1, DAY2, DAY3]) == [DAY1, DAY2]
    assert (two_accounts["output_root"] / "transformed" / ACME / DAY2.isoformat()).is_dir()

    # acme's second day corrected: its first listed agent is no longer in the list page (deactivated)
    page = two_accounts["raw_root"] / ACME / DAY2.isoformat() / "agents" / "1.json"
    listed = json.loads(page.read_text(encoding="utf-8"))
    page.write_text(json.dumps(listed[1:]), encoding="utf-8")
    dropped = listed[0]["id"]
    beta_markers = markers(dsn, BETA)
    run(Reprocess(start=DAY2, stop=DAY3, account=ACME))
    assert markers(dsn, ACME) == {SnapshotHistory(sync_date=DAY1, account=ACME).task_id}
    assert markers(dsn, BETA) == beta_markers and len(beta_markers) == 2
    assert (two_accounts["output_root"] / "transformed" / BETA / DAY2.isoformat()).is_dir()
    run(AllAccounts(sync_date=DAY2))

    assert account_rows(dsn, BETA) == beta  # untouched: rows, versions, errors and markers
    assert markers(dsn, BETA) == beta_markers
    day2_status = "select is_active from agent_status_history where account = %s and sync_date = %s and agent_id = %s"
    assert query(dsn, day2_status, (ACME, DAY2, dropped)) == [(False,)]
    assert query(dsn, day2_status, (BETA, DAY2, dropped)) == [(True,)]


def test_one_account_refused_the_other_loaded_and_the_summary_names_it(two_accounts):
    """A two-day range in one command: beta's second day is refused, everything else loads; the run's log lines
    are the pipeline's own, each once (a second day's validation pool does not disturb the JVM gateway)."""
    dsn = two_accounts["pg_dsn"]
    stray = two_accounts["raw_root"] / BETA / DAY2.isoformat() / "agents" / "notes.txt"
    stray.write_text("not a page\n", encoding="utf-8")
    env = cli_env(**{name: value for name, value in two_accounts.items()})

    result = cli("RangeDaily", "--of", "AllAccounts", "--start", DAY1.isoformat(), "--stop", DAY3.isoformat(),
                 env=env)

    assert result.returncode == 30, result.stderr[-3000:]
    assert markers(dsn, ACME) == {SnapshotHistory(sync_date=day, account=ACME).task_id for day in (DAY1, DAY2)}
    assert markers(dsn, BETA) == {SnapshotHistory(sync_date=DAY1, account=BETA).task_id}
    assert query(dsn, "select account, count(*) from agent_status_history where sync_date = %s group by 1",
                 (DAY2,)) == [(ACME, 6)]
    summary = result.stdout[result.stdout.index("===== Agents pipeline summary"):]
    header, *rows = summary.splitlines()[1:5]
    assert header.split()[:3] == ["sync", "date", "account"]
    assert [row.split()[:2] for row in rows] == [[DAY1.isoformat(), ACME], [DAY1.isoformat(), BETA],
                                                  [DAY2.isoformat(), ACME]]
    summary_lines = [line for line in result.stderr.splitlines() if "account day not loaded (" in line]
    assert len(summary_lines) == 1 and f"1 account day not loaded ({DAY2}: {BETA})" in summary_lines[0]
    [reason] = [line for line in result.stderr.splitlines() if f"{BETA} not loaded: RefusedDay" in line]
    assert "notes.txt" in reason
    assert "Traceback" not in result.stderr
    assert not [line for line in result.stderr.splitlines() if line.startswith(("INFO:luigi", "DEBUG:luigi"))]

    stray.unlink()  # fixed: the next run loads beta's day alone
    run(AllAccounts(sync_date=DAY2))
    assert query(dsn, "select account, count(*) from agent_status_history where sync_date = %s group by 1 order by 1",
                 (DAY2,)) == [(ACME, 6), (BETA, 6)]


def test_an_account_that_is_not_registered_is_one_line(two_accounts):
    result = cli("SnapshotHistory", "--account", "acne", "--sync-date", DAY1.isoformat(),
                 env=cli_env(**two_accounts))
    assert result.returncode == 40
    assert "account 'acne' is not registered" in result.stderr and "Traceback" not in result.stderr


def test_a_day_that_cannot_be_fetched_says_so_before_asking_for_the_key(two_accounts):
    """An account with a base URL and no raw folder for a past day: the reason is the day, not its key."""
    two_accounts["accounts_file"].write_text(f'[accounts.{ACME}]\nbase_url = "https://acme.freshdesk.com"\n'
                                             'api_key_env = "ACME_FRESHDESK_KEY_UNSET"\n', encoding="utf-8")
    result = cli("AllAccounts", "--sync-date", "2024-01-04", env=cli_env(**two_accounts))
    assert result.returncode == 30
    assert f"{ACME} not loaded: cannot fetch 2024-01-04 from Freshdesk: only today can be fetched" in result.stderr
    assert "ACME_FRESHDESK_KEY_UNSET" not in result.stderr and "Starting Spark session" not in result.stderr
    assert f"1 account day not loaded (2024-01-04: {ACME}); " in result.stderr
    assert "the other accounts' days are" not in result.stderr


def test_a_one_account_database_upgrades_in_place(new_database, tmp_path, monkeypatch, spark):
    """A database the one-account pipeline wrote (tests/data/one_account_database.sql: the two fixture days)
    keeps its rows as the default account's, and its days stay done; a day re-processed gives the same rows, and a
    registered account then loads beside it without touching them."""
    dsn = new_database()
    with closing(psycopg2.connect(dsn)) as connection, connection.cursor() as cursor:
        cursor.execute((REPO / "tests" / "data" / "one_account_database.sql").read_text(encoding="utf-8"))
        connection.commit()
    before = {table: query(dsn, statement.replace(" where account = %s", ""))
              for table, statement in ACCOUNT_ROWS.items()}
    inactive_counts = "select sync_date, {} from agent_pipeline_runs where task = 'SnapshotHistory' order by sync_date"
    counted_before = query(dsn, inactive_counts.format("agents_deactivated"))
    raw = tmp_path / "raw"
    for day in (DAY1, DAY2):
        shutil.copytree(FIXTURES / day.isoformat(), raw / day.isoformat())
        shutil.copytree(FIXTURES / day.isoformat(), raw / ACME / day.isoformat())
    for name, value in {"raw_root": raw, "output_root": tmp_path / "output", "pg_dsn": dsn,
                        "accounts_file": tmp_path / "accounts.toml"}.items():
        monkeypatch.setenv(f"PIPELINE_{name.upper()}", str(value))

    ensure_schema(dsn)
    assert account_rows(dsn, "default") == before
    assert query(dsn, "select distinct account from agent_status_history") == [("default",)]
    assert SnapshotHistory.bulk_complete([DAY1, DAY2]) == [DAY1, DAY2]  # the markers it had still count
    assert query(dsn, inactive_counts.format("agents_inactive")) == counted_before == [(DAY1, 1), (DAY2, 3)]
    assert query(dsn, "select pg_get_constraintdef(oid) from pg_constraint where conrelid = 'agents'::regclass"
                      " and contype = 'p'") == [("PRIMARY KEY (account, agent_id)",)]

    run(Reprocess(start=DAY2, stop=DAY3))
    run(SnapshotHistory(sync_date=DAY2))
    assert account_rows(dsn, "default") == before

    (tmp_path / "accounts.toml").write_text(f"[accounts.{ACME}]\n", encoding="utf-8")
    run(AllAccounts(sync_date=DAY1), AllAccounts(sync_date=DAY2))
    assert account_rows(dsn, "default") == before
    assert account_rows(dsn, ACME) == before


def test_accounts_are_fetched_side_by_side_with_their_own_keys_which_are_written_nowhere(tmp_path, database):
    """Two accounts on two API servers, each answering only its own key (one from an environment variable, one from
    a key file): AllAccounts fetches today's day of both and loads them (a first fetch knows only the listed
    agents); neither key is in the run's output, the files it wrote or the database."""
    from bench.freshdesk_server import Account, FakeFreshdesk

    keys = {ACME: "acme-key-9f3b2c7d", BETA: "beta-key-41d8e6a0"}
    (tmp_path / "beta.key").write_text(keys[BETA] + "\n", encoding="utf-8")
    today = datetime.date.today()
    with FakeFreshdesk(Account.synthetic(120, 5), keys[ACME]) as acme, \
            FakeFreshdesk(Account.synthetic(80, 3, seed=2), keys[BETA]) as beta:
        registry = tmp_path / "accounts.toml"
        registry.write_text(f'[accounts.{ACME}]\nbase_url = "{acme.base_url}"\napi_key_env = "ACME_FRESHDESK_KEY"\n\n'
                            f'[accounts.{BETA}]\nbase_url = "{beta.base_url}"\napi_key_file = "beta.key"\n',
                            encoding="utf-8")
        env = cli_env(raw_root=tmp_path / "raw", output_root=tmp_path / "output", pg_dsn=database,
                      accounts_file=registry)
        env.update(ACME_FRESHDESK_KEY=keys[ACME], FRESHDESK_BACKOFF_SECONDS="0.01", FRESHDESK_TOTAL_CONNECTIONS="8")
        result = cli("AllAccounts", env=env)
        requests = {ACME: list(acme.requests), BETA: list(beta.requests)}

    assert result.returncode == 0, result.stderr[-3000:]
    for account in (ACME, BETA):
        assert requests[account] and all(key_was_right for _, key_was_right in requests[account])
    assert query(database, "select account, count(*) filter (where is_active), count(*) from agent_status_history"
                           " where sync_date = %s group by 1 order by 1", (today,)) == [
        (ACME, 120, 120), (BETA, 80, 80)]
    assert (tmp_path / "raw" / ACME / today.isoformat() / "_manifest.json").is_file()
    for key in keys.values():
        assert key not in result.stdout + result.stderr
        written = [path for root in (tmp_path / "raw", tmp_path / "output") for path in root.rglob("*")
                   if path.is_file() and "pgdata" not in path.parts and key.encode() in path.read_bytes()]
        assert written == []
        tables = [row[0] for row in query(database, "select table_name from information_schema.tables"
                                                    " where table_schema = 'public'")]
        assert tables and not [table for table in tables if query(
            database, f'select count(*) from "{table}" as t where t::text like %s', (f"%{key}%",))[0][0]]
