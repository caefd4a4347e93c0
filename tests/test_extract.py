"""ExtractAgents against a local server that speaks the Freshdesk API contract (bench.freshdesk_server):
pagination by Link, basic auth, 429, 5xx, timeouts, 404s, the manifest and ValidateRaw's check against it."""
import datetime
import json
import re
import shutil
import subprocess
import time
from configparser import ConfigParser

import luigi
import pytest
from luigi.execution_summary import LuigiStatusCode

from bench.freshdesk_server import Account, FakeFreshdesk
from conftest import FIXTURES, LUIGI, REPO, cli, cli_env, query
from pipeline.completeness import RefusedDay
from pipeline.config import ApiSettings, SettingError, load_settings
from pipeline.extract import extract_day, known_agent_ids, next_page_url, raw_day_agent_ids, requests_per_day
from pipeline.freshdesk import (
    ApiKeyRefused,
    FetchFailed,
    FreshdeskApi,
    Pacer,
    backoff_seconds,
    pacing_interval,
    retry_after_seconds,
)
from pipeline.handoff import read_rows
from pipeline.manifest import MANIFEST
from pipeline.raw import validate_day
from pipeline.tasks import SnapshotHistory

KEY = "test-key-5b1e7c"
TODAY = datetime.date.today()
FIRST = 11200000001


def api_for(server, key=KEY, **settings) -> FreshdeskApi:
    options = {"connections": 3, "timeout_seconds": 0.5, "retries": 3, "backoff_seconds": 0.01} | settings
    return FreshdeskApi(ApiSettings(server.base_url, key, **options), rate_window_seconds=server.window_seconds)


def extract(server, tmp_path, known=(), progress=lambda message, percent: None, **settings) -> tuple[dict, object]:
    day_dir = tmp_path / "raw" / TODAY.isoformat()
    api = api_for(server, **settings)
    try:
        return extract_day(api, day_dir, TODAY, set(known), progress), day_dir
    finally:
        api.close()


@pytest.fixture(scope="module")
def account():
    """250 listed agents (three pages) and 5 deactivated ones (details only)."""
    return Account.synthetic(250, 5)


def test_list_pages_follow_the_link_header_and_keep_the_bodies_as_returned(account, tmp_path):
    with FakeFreshdesk(account, KEY) as server:
        manifest, day_dir = extract(server, tmp_path)
    assert [(page["file"], page["records"]) for page in manifest["pages"]] == [
        ("agents/1.json", 100), ("agents/2.json", 100), ("agents/3.json", 50)]
    assert [path for path, _ in server.requests] == [f"/api/v2/agents?per_page=100&page={n}" for n in (1, 2, 3)]
    assert all(authorized for _, authorized in server.requests)
    pages = [json.loads((day_dir / "agents" / f"{n}.json").read_bytes()) for n in (1, 2, 3)]
    assert [record["id"] for page in pages for record in page] == [record["id"] for record in account.listed]
    assert (day_dir / "agents" / "1.json").read_bytes() == json.dumps(account.listed[:100], indent=2).encode()
    assert manifest["list_records"] == 250 and manifest["requests"] == 3 and manifest["retries"] == 0
    assert manifest["details"] == {"requested": 0, "fetched": 0, "missing": [], "failed": []}
    assert json.loads((day_dir / MANIFEST).read_bytes()) == manifest


def test_per_page_is_capped_at_100_by_the_api(account):
    import requests

    with FakeFreshdesk(account, KEY) as server:
        page = requests.get(f"{server.base_url}/api/v2/agents?per_page=500&page=1", auth=(KEY, "X"), timeout=5)
    assert len(page.json()) == 100 and 'page=2>; rel="next"' in page.headers["Link"]


def test_details_of_known_agents_missing_from_the_list_and_404_for_deleted_ones(account, tmp_path):
    deactivated = list(range(FIRST + 250, FIRST + 255))
    deleted = FIRST + 1000
    progress = []
    with FakeFreshdesk(account, KEY) as server:
        manifest, day_dir = extract(server, tmp_path, known=[FIRST, FIRST + 7, *deactivated, deleted],
                                    progress=lambda message, percent: progress.append((message, percent)))
    assert progress[0] == ("page 1 (100 agents listed)", None)  # then at most every 5 s, and at each phase's end
    assert ("page 3 (250 agents listed)", None) in progress and progress[-1] == ("details 6 of 6", 100)
    assert sorted(int(path.stem) for path in (day_dir / "agent_details").iterdir()) == deactivated
    assert json.loads((day_dir / "agent_details" / f"{deactivated[0]}.json").read_bytes())["deactivated"] is True
    assert manifest["details"] == {"requested": 6, "fetched": 5, "missing": [deleted], "failed": []}
    assert manifest["requests"] == 3 + 6


def test_a_wrong_key_fails_at_once_and_is_never_shown(account, tmp_path):
    wrong = "wrong-key-91c2"
    with FakeFreshdesk(account, KEY) as server, pytest.raises(ApiKeyRefused) as refused:
        extract(server, tmp_path, key=wrong)
    assert "401" in str(refused.value) and "FRESHDESK_API_KEY" in str(refused.value)
    assert wrong not in str(refused.value) and KEY not in str(refused.value)
    assert server.requests == [("/api/v2/agents?per_page=100&page=1", False)]  # not tried again


def test_429_waits_for_retry_after_and_is_not_a_retry(account, tmp_path):
    with FakeFreshdesk(account, KEY) as server:
        server.fail("page=2", ("429", 1))
        manifest, _ = extract(server, tmp_path)
    assert manifest["list_records"] == 250 and manifest["requests"] == 4 and manifest["retries"] == 0
    assert 0.9 <= manifest["throttled_seconds"] <= 3


def test_5xx_and_timeouts_are_tried_again(account, tmp_path):
    with FakeFreshdesk(account, KEY, hang_seconds=1.5) as server:
        server.fail("page=1", 500)
        server.fail("page=3", 503, "timeout")
        server.fail(f"/api/v2/agents/{FIRST + 250}", "timeout", 502)
        manifest, day_dir = extract(server, tmp_path, known=[FIRST + 250])
    assert manifest["list_records"] == 250 and manifest["details"]["fetched"] == 1
    assert manifest["retries"] == 5 and manifest["requests"] == 3 + 1 + 5
    assert (day_dir / "agent_details" / f"{FIRST + 250}.json").exists()


def test_a_details_call_that_keeps_failing_is_noted_and_the_day_goes_on(account, tmp_path):
    failing = FIRST + 251
    with FakeFreshdesk(account, KEY) as server:
        server.fail(f"/api/v2/agents/{failing}", *[500] * 4)
        manifest, day_dir = extract(server, tmp_path, known=[FIRST + 250, failing])
    [failure] = manifest["details"]["failed"]
    assert failure["agent_id"] == failing and "500" in failure["error"] and "4 attempts" in failure["error"]
    assert manifest["details"]["fetched"] == 1 and not (day_dir / "agent_details" / f"{failing}.json").exists()


def test_a_list_page_that_keeps_failing_fails_the_extraction(account, tmp_path):
    with FakeFreshdesk(account, KEY) as server:
        server.always = 500
        with pytest.raises(FetchFailed, match=r"GET http://127\.0\.0\.1:\d+/api/v2/agents\?per_page=100&page=1: "
                                              r"500 Internal Server Error, 4 attempts"):
            extract(server, tmp_path)
    assert len(server.requests) == 4


def test_the_rate_limit_is_respected_through_429s(tmp_path):
    """A budget of 10 requests per one-second window, 14 requests: the extraction slows down, waits for the
    next window, and gets everything."""
    account = Account.synthetic(150, 12)
    with FakeFreshdesk(account, KEY, rate_limit=10, window_seconds=1) as server:
        manifest, _ = extract(server, tmp_path, known=range(FIRST + 150, FIRST + 162))
    assert manifest["list_records"] == 150 and manifest["details"]["fetched"] == 12
    assert manifest["throttled_seconds"] >= 0.5 and manifest["retries"] == 0
    assert manifest["requests"] == len(server.requests) > 14  # some were answered 429, and sent again


def test_fixture_shaped_responses_validate_like_the_fixture_files(tmp_path):
    """The second fixture day served by the API, with the first day's agents known: the extracted day holds
    the same list records and, for the unlisted agents, the same details as the files."""
    fixture_day = FIXTURES / "2024-01-02"
    with FakeFreshdesk(Account.from_raw_day(fixture_day), KEY) as server:
        manifest, day_dir = extract(server, tmp_path, known=raw_day_agent_ids(FIXTURES / "2024-01-01"))
    assert manifest["list_records"] == 4 and manifest["details"]["fetched"] == 2
    counts = validate_day(day_dir, tmp_path / "validated")
    assert counts["records_valid"] == 6 and counts["records_invalid"] == 0 and counts["list_records"] == 4
    expected = json.loads((fixture_day / "agents" / "1.json").read_text(encoding="utf-8"))
    assert json.loads((day_dir / "agents" / "1.json").read_bytes()) == expected


@pytest.fixture
def fetched_day(account, tmp_path):
    """A day fetched with one deleted agent and one details call that kept failing."""
    with FakeFreshdesk(account, KEY) as server:
        server.fail(f"/api/v2/agents/{FIRST + 251}", *[500] * 4)
        _, day_dir = extract(server, tmp_path, known=[FIRST + 250, FIRST + 251, FIRST + 999])
    return day_dir


def test_validation_turns_failed_details_calls_into_fetch_error_rows(fetched_day, tmp_path):
    counts = validate_day(fetched_day, tmp_path / "validated")
    assert counts["fetch_errors"] == 2 and counts["records_valid"] == 251
    rows = {row["agent_id"]: row for row in read_rows(tmp_path / "validated", "rejects")}
    assert set(rows) == {FIRST + 251, FIRST + 999}
    assert rows[FIRST + 999]["error_type"] == "FETCH_ERROR" and "404 Not Found" in rows[FIRST + 999]["error_message"]
    assert rows[FIRST + 999]["source_file"] == f"{TODAY}/agent_details/{FIRST + 999}.json"
    assert json.loads(rows[FIRST + 251]["raw_record"])["agent_id"] == FIRST + 251


@pytest.mark.parametrize("damage, message", [
    (lambda day: (day / "agents" / "3.json").unlink(), "list page 3.json missing"),
    (lambda day: (day / "agents" / "2.json").write_text(
        json.dumps(json.loads((day / "agents" / "2.json").read_text())[:99])), "agents/2.json holds 99 records,"
                                                                               " fetched with 100"),
    (lambda day: shutil.copy(day / "agents" / "1.json", day / "agents" / "4.json"), "list page 4.json not in it"),
    (lambda day: (day / "agent_details" / f"{FIRST + 250}.json").unlink(), "1 details fetched, 0 details files"),
])
def test_a_day_that_does_not_match_its_manifest_is_refused(fetched_day, tmp_path, damage, message):
    damage(fetched_day)
    with pytest.raises(RefusedDay, match=f"refused: .*{MANIFEST} does not match the files: {message}"):
        validate_day(fetched_day, tmp_path / "validated")
    assert validate_day(fetched_day, tmp_path / "accepted", accept_incomplete=True)["records_read"] > 0


def test_pacing_slows_down_as_the_budget_falls():
    assert pacing_interval(400, 400) == pacing_interval(200, 400) == 0
    assert pacing_interval(100, 400) == pytest.approx(0.075)  # half the plan's own rate
    assert pacing_interval(0, 400) == pytest.approx(0.15)  # 400 a minute
    assert pacing_interval(None, None) == 0
    waits = []
    pacer = Pacer(clock=lambda: 100.0, sleep=waits.append)
    pacer.observe({"X-Ratelimit-Remaining": "0", "X-Ratelimit-Total": "600"})
    assert [pacer.wait(), pacer.wait()] == [0, pytest.approx(0.1)]
    pacer.hold(30)
    assert pacer.wait() == pytest.approx(30) and pacer.wait() == pytest.approx(30.1)  # two connections wait
    assert pacer.throttled_seconds == pytest.approx(30.1)  # the time held back, counted once


def test_retry_after_and_backoff_are_bounded():
    assert retry_after_seconds("7", 60) == 7 and retry_after_seconds(None, 60) == 60
    assert retry_after_seconds("soon", 5) == 5 and retry_after_seconds("999999", 60) == 3600
    assert retry_after_seconds("Thu, 01 Jan 1970 00:00:00 GMT", 60) == 0
    assert all(0.5 <= backoff_seconds(1, 1) <= 1 and 30 <= backoff_seconds(12, 1) <= 60 for _ in range(50))


def test_a_next_link_to_another_site_is_refused():
    base = "https://acme.freshdesk.com"
    assert next_page_url({"next": "/api/v2/agents?page=2"}, f"{base}/api/v2/agents?page=1", base) == \
        f"{base}/api/v2/agents?page=2"
    assert next_page_url({}, f"{base}/api/v2/agents", base) is None
    with pytest.raises(FetchFailed, match="another site"):
        next_page_url({"next": "https://evil.example/api/v2/agents?page=2"}, base, base)


def test_known_agents_are_the_loaded_ones_and_the_latest_earlier_raw_day(tmp_path):
    for day in ("2024-01-01", "2024-01-02"):
        shutil.copytree(FIXTURES / day, tmp_path / day)
    (tmp_path / "2024-01-02" / "agent_details" / f"{FIRST + 5}.json").unlink()
    later = known_agent_ids([1, 2], tmp_path, datetime.date(2024, 1, 3))
    assert later == {1, 2, *range(FIRST, FIRST + 5)}  # 2024-01-02 lists four and has the details of the rest
    assert known_agent_ids([], tmp_path, datetime.date(2024, 1, 1)) == set()
    assert requests_per_day(10_000, 500) == 600 and requests_per_day(100_000, 5_000) == 6_000


def test_freshdesk_settings():
    parser = ConfigParser()
    parser.add_section("freshdesk")
    parser.set("freshdesk", "base_url", "https://acme.freshdesk.com/")
    settings = load_settings(parser, {"FRESHDESK_API_KEY": "s3cret", "FRESHDESK_CONNECTIONS": "8"}).freshdesk
    assert (settings.base_url, settings.connections, settings.retries) == ("https://acme.freshdesk.com", 8, 5)
    assert "s3cret" not in repr(settings)
    assert load_settings(ConfigParser(), {}).freshdesk is None
    for environ, problem in (({"FRESHDESK_BASE_URL": "https://key:X@acme.freshdesk.com"}, "must not hold credentials"),
                             ({"FRESHDESK_BASE_URL": "acme.freshdesk.com"}, "must look like https://"),
                             ({"FRESHDESK_BASE_URL": "http://x", "FRESHDESK_TIMEOUT_SECONDS": "0"}, "above 0")):
        with pytest.raises(SettingError, match=problem):
            load_settings(ConfigParser(), environ)
    with pytest.raises(SettingError, match="FRESHDESK_API_KEY is not set"):
        FreshdeskApi(ApiSettings("https://acme.freshdesk.com", ""))


def extract_env(server, raw_root, output_root, dsn, **freshdesk):
    env = cli_env(raw_root=raw_root, output_root=output_root, pg_dsn=dsn)
    env.update({"FRESHDESK_BASE_URL": server.base_url, "FRESHDESK_API_KEY": KEY, "FRESHDESK_BACKOFF_SECONDS": "0.01"})
    env.update({f"FRESHDESK_{name.upper()}": str(value) for name, value in freshdesk.items()})
    return env


def files_holding(root, text: str) -> list:
    return [path for path in root.rglob("*") if path.is_file() and text.encode() in path.read_bytes()]


@pytest.mark.heavy
def test_today_is_fetched_and_loaded_end_to_end_once_even_after_a_kill(database, spark, tmp_path, monkeypatch):
    """Yesterday's raw day knows 261 agents; today the API lists 250 (three pages), 10 are deactivated and one
    was deleted. A run killed while fetching leaves no day; the next one fetches through a 500 and a 429 and
    loads the day (in this process, with its Spark session); a third run does nothing. The command-line run
    of the README's "Trying it locally" (tests/test_readme.py) loads a fetched day through Spark's own JVM."""
    raw_root, output_root = tmp_path / "raw", tmp_path / "output"
    Account.synthetic(261).write_raw_day(raw_root / (TODAY - datetime.timedelta(days=1)).isoformat())
    today = Account.synthetic(250, 11)
    deleted = FIRST + 260
    del today.details[deleted]
    with FakeFreshdesk(today, KEY, hang_seconds=20) as server:
        env = extract_env(server, raw_root, output_root, database, timeout_seconds=60)
        hanging = f"/api/v2/agents/{FIRST + 255}"
        server.fail(hanging, "timeout")
        killed = subprocess.Popen(LUIGI + ["SnapshotHistory"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while not any(path == hanging for path, _ in server.requests) and time.monotonic() < deadline:
            time.sleep(0.05)
        killed.kill()
        killed_output = killed.communicate()[0]
        assert not (raw_root / TODAY.isoformat()).exists()
        assert [path.name for path in raw_root.glob(f"{TODAY}-luigi-tmp-*")]  # what the kill left

        server.fail("page=2", 500)
        server.fail("page=3", ("429", 1))
        server.requests.clear()
        for name, value in env.items():
            if name.startswith(("PIPELINE_", "FRESHDESK_")):
                monkeypatch.setenv(name, value)
        result = luigi.build([SnapshotHistory(sync_date=TODAY)], local_scheduler=True, detailed_summary=True,
                             log_level="WARNING")
        requests_sent = len(server.requests)
        again = cli("SnapshotHistory", "--sync-date", TODAY.isoformat(), env=env)

    assert result.status == LuigiStatusCode.SUCCESS, result.summary_text
    assert not list(raw_root.glob(f"{TODAY}-luigi-tmp-*"))  # removed by the next run
    history = dict(query(database, "select is_active, count(*) from agent_status_history where sync_date = %s"
                                   " group by is_active", (TODAY,)))
    assert history == {True: 250, False: 10}
    assert query(database, "select count(*) from agent_status_history where agent_id = %s", (deleted,)) == [(0,)]
    assert query(database, "select agent_id, error_type from agent_pipeline_errors") == [(deleted, "FETCH_ERROR")]
    [run] = query(database, "select list_pages, list_records, details_requested, details_fetched, details_missing,"
                            " details_failed, requests, retries, throttled_seconds from agent_pipeline_runs"
                            " where task = 'ExtractAgents'")
    assert run[:8] == (3, 250, 11, 10, 1, 0, 3 + 11 + 2, 1) and 0.9 <= run[8] <= 3
    assert requests_sent == 3 + 11 + 2
    manifest = json.loads((raw_root / TODAY.isoformat() / MANIFEST).read_text())
    assert manifest["details"]["missing"] == [deleted] and manifest["requests"] == requests_sent

    assert again.returncode == 0 and "Did not run any tasks" in again.stdout + again.stderr
    assert len(server.requests) == requests_sent  # the day is never fetched again
    assert KEY not in killed_output + again.stdout + again.stderr
    assert not files_holding(raw_root, KEY) and not files_holding(output_root, KEY)
    assert not query(database, "select 1 from agent_pipeline_runs r, agent_pipeline_errors e"
                               " where r::text like %s or e::text like %s", (f"%{KEY}%", f"%{KEY}%"))


@pytest.mark.heavy
def test_a_list_endpoint_that_keeps_failing_writes_no_day_and_other_days_cannot_be_fetched(database, tmp_path):
    raw_root = tmp_path / "raw"
    with FakeFreshdesk(Account.synthetic(250), KEY) as server:
        server.always = 503
        env = extract_env(server, raw_root, tmp_path / "output", database, retries=2)
        failed = cli("SnapshotHistory", "--sync-date", TODAY.isoformat(), env=env)
        past = cli("SnapshotHistory", "--sync-date", "2024-01-05", env=env)
    assert failed.returncode == 30 and past.returncode == 30
    assert not raw_root.exists() or not list(raw_root.iterdir())  # no day folder, no temporary one
    errors = [line for line in failed.stderr.splitlines() if "ERROR" in line]
    assert any(re.search(r"FetchFailed: GET http://127\.0\.0\.1:\d+/api/v2/agents\?per_page=100&page=1: 503 Service"
                         r" Unavailable, 3 attempts", line) for line in errors), failed.stderr[-3000:]
    assert "Traceback" not in failed.stderr + past.stderr and KEY not in failed.stderr + past.stderr
    assert "cannot fetch 2024-01-05 from Freshdesk: the API gives the agents as they are now, so only today" \
        in past.stderr
    assert len(server.requests) == 3  # 2024-01-05 sent none
