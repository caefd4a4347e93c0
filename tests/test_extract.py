"""ExtractAgents against a local server that speaks the Freshdesk API contract (bench.freshdesk_server):
pagination by Link (bounded), basic auth, 429, 5xx, timeouts, 404s, details answers that are not the agent,
pagination drift, the manifest and ValidateRaw's check against it; a refused fetched day set aside and fetched
anew, and agents recorded deleted after days of 404s (one scenario on PostgreSQL and Spark)."""
import datetime
import json
import logging
import re
import shutil
import subprocess
import time
from configparser import ConfigParser
from contextlib import closing

import luigi
import psycopg2
import pytest
from luigi.execution_summary import LuigiStatusCode

from bench.freshdesk_server import Account, FakeFreshdesk
from conftest import FIXTURES, LUIGI, REPO, cli, cli_env, create_database, drop_database, query
from pipeline.completeness import RefusedDay
from pipeline.config import ApiSettings, SettingError, load_settings
from pipeline.database import ensure_schema, run_sql_file
from pipeline.extract import (
    extract_day,
    known_agent_ids,
    next_page_url,
    page_bound,
    raw_day_agent_ids,
    requests_per_day,
)
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
from pipeline.partitions import create_day_partition
from pipeline.raw import validate_day
from pipeline.refetch import set_aside_refused_day
from pipeline.tasks import ExtractAgents, SnapshotHistory, ValidateRaw

KEY = "test-key-5b1e7c"
TODAY = datetime.date.today()
FIRST = 11200000001


def api_for(server, key=KEY, sleep=time.sleep, **settings) -> FreshdeskApi:
    options = {"connections": 3, "timeout_seconds": 0.5, "retries": 3, "backoff_seconds": 0.01} | settings
    return FreshdeskApi(ApiSettings(server.base_url, key, **options), sleep=sleep,
                        rate_window_seconds=server.window_seconds)


def extract(server, tmp_path, known=(), progress=lambda message, percent: None, previously_active=(),
            day=TODAY, **settings) -> tuple[dict, object]:
    day_dir = tmp_path / "raw" / day.isoformat()
    api = api_for(server, **settings)
    try:
        return extract_day(api, day_dir, day, set(known), progress, set(previously_active)), day_dir
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


def test_a_details_answer_that_is_not_the_agent_asked_for_is_a_failed_fetch(account, tmp_path):
    """Status 200 with another agent's record, an HTML page, or a body that is not a JSON object: tried again like a
    5xx, then noted as failed (a FETCH_ERROR row), never written as the agent's details."""
    other, html, garbled, recovers = range(FIRST + 250, FIRST + 254)
    maintenance = b"<!DOCTYPE html><html><body>Down for maintenance</body></html>"
    with FakeFreshdesk(account, KEY) as server:
        server.fail(f"/api/v2/agents/{other}", *[("200", account.details[FIRST + 254])] * 4)
        server.fail(f"/api/v2/agents/{html}", *[("200", maintenance)] * 4)
        server.fail(f"/api/v2/agents/{garbled}", ("200", b'{"id": 1'), ("200", [account.details[garbled]]),
                    ("200", b""), ("200", garbled))
        server.fail(f"/api/v2/agents/{recovers}", ("200", maintenance))
        manifest, day_dir = extract(server, tmp_path, known=[other, html, garbled, recovers])
    failed = {entry["agent_id"]: entry["error"] for entry in manifest["details"]["failed"]}
    assert sorted(failed) == [other, html, garbled] and all("4 attempts" in error for error in failed.values())
    assert f"the answer is agent {FIRST + 254}, not {other}" in failed[other]
    assert "not JSON" in failed[html] and "<!DOCTYPE html>" in failed[html]
    assert "a JSON integer, not an agent object" in failed[garbled]
    assert manifest["details"]["fetched"] == 1 and manifest["retries"] == 3 * 3 + 1
    assert manifest["requests"] == 3 + 3 * 4 + 2
    assert [path.name for path in (day_dir / "agent_details").iterdir()] == [f"{recovers}.json"]
    assert json.loads((day_dir / "agent_details" / f"{recovers}.json").read_bytes())["id"] == recovers
    counts = validate_day(day_dir, tmp_path / "validated")
    assert counts["fetch_errors"] == 3 and counts["records_valid"] == 251
    rows = {row["agent_id"]: row for row in read_rows(tmp_path / "validated", "rejects")}
    assert {agent: row["error_type"] for agent, row in rows.items()} == dict.fromkeys(failed, "FETCH_ERROR")


def test_the_page_bound():
    assert page_bound(known=0, first_page=100, max_pages=0) == 10_000  # the account's first fetch
    assert page_bound(known=3, first_page=100, max_pages=0) == 11  # ceil(6 / 100) + 10
    assert page_bound(known=1_000, first_page=100, max_pages=0) == 30
    assert page_bound(known=1_000, first_page=30, max_pages=0) == 77  # the API capped the page at 30
    assert page_bound(known=5, first_page=0, max_pages=0) == 20
    assert page_bound(known=1, first_page=100, max_pages=0) == 11 and page_bound(0, 100, max_pages=7) == 7


def test_a_list_longer_than_plausible_fails_the_day(tmp_path):
    """3 known agents and pages of 2 (the API caps per_page): at most ceil(6 / 2) + 10 = 13 pages, and the account
    lists 30 agents, 15 pages. The first fetch of an account (no agent known) may page on."""
    with FakeFreshdesk(Account.synthetic(30), KEY) as server:
        server.max_per_page = 2
        with pytest.raises(FetchFailed, match=r"page=14: the agent list goes on past 13 pages, the most that 3 known"
                                              r" agents at 2 a page make plausible.*nothing of the day was written"
                                              r".*max_pages \(FRESHDESK_MAX_PAGES\)"):
            extract(server, tmp_path / "bounded", known=range(FIRST, FIRST + 3))
        assert len(server.requests) == 13
        manifest, _ = extract(server, tmp_path / "first", known=())
        assert len(manifest["pages"]) == 15 and manifest["list_records"] == 30
        with pytest.raises(FetchFailed, match=r"page=3: the agent list goes on past 2 pages, the most max_pages"):
            extract(server, tmp_path / "set", max_pages=2)


def test_a_list_that_pages_the_same_agents_over_and_over_fails_at_once(account, tmp_path):
    with FakeFreshdesk(account, KEY) as server:
        server.repeat_first_page = 50
        with pytest.raises(FetchFailed, match=r"page=2: page 2 holds 100 agents, every one listed on an earlier page:"
                                              r" the API is paging the same agents over and over"):
            extract(server, tmp_path)
    assert len(server.requests) == 2


def test_a_retry_after_beyond_ten_minutes_fails_at_once(account, tmp_path):
    """A list page or a details call answered 429 with Retry-After 3600: the day fails at once, naming the wait and
    when to try again. Retry-After 600 is waited for, as before (the waits are recorded, not slept)."""
    waits = []
    with FakeFreshdesk(account, KEY) as server:
        server.fail("page=2", ("429", 3600))
        with pytest.raises(FetchFailed, match=r"page=2: 429 Too Many Requests with Retry-After 3600 s.* run the"
                                              r" same command again after (\d{4}-\d\d-\d\d )?\d\d:\d\d"):
            extract(server, tmp_path / "list", sleep=waits.append)
        assert len(server.requests) == 2 and not waits
        server.fail(f"/api/v2/agents/{FIRST + 250}", ("429", 601))
        with pytest.raises(FetchFailed, match=r"agents/11200000251: 429 Too Many Requests with Retry-After 601 s"):
            extract(server, tmp_path / "details", known=[FIRST + 250], sleep=waits.append)
        server.fail("page=2", ("429", 600))
        manifest, _ = extract(server, tmp_path / "waited", sleep=waits.append)
    assert manifest["list_records"] == 250 and manifest["requests"] == 4 and waits[0] == pytest.approx(600, abs=1)


def test_an_agent_that_drifts_onto_a_fetched_page_is_found_by_a_second_list_pass(account, tmp_path):
    """Agent 151 moves to the front of the list once page 1 is served: no page of the pass names it, its details say
    it is not deactivated, and it was active before, so the list is paged again; its record then found is the extra
    page agents/4.json, which validates like any page."""
    drifting = FIRST + 150
    with FakeFreshdesk(account, KEY) as server:
        server.drift(drifting)
        manifest, day_dir = extract(server, tmp_path, known=[record["id"] for record in account.listed],
                                    previously_active=[record["id"] for record in account.listed])
    assert manifest["details"] == {"requested": 1, "fetched": 1, "missing": [], "failed": []}
    assert manifest["pages"][3] == {"file": "agents/4.json", "records": 1, "recheck": True}
    assert manifest["recheck"] == {"candidates": 1, "found": 1, "requests": 1}  # found on page 1: the pass stops
    assert json.loads((day_dir / "agents" / "4.json").read_bytes()) == [account.listed[150]]
    assert manifest["list_records"] == 251 and manifest["requests"] == 3 + 1 + 1
    counts = validate_day(day_dir, tmp_path / "validated")
    assert counts["list_records"] == 251 and counts["records_valid"] == 252 and counts["records_invalid"] == 0
    assert drifting in {row["agent_id"] for row in read_rows(tmp_path / "validated", "list_ids")}


def test_the_second_pass_is_only_for_agents_active_before_whose_details_say_not_deactivated(account, tmp_path):
    """Like 11200000004 and 11200000006 of the fixtures' 2024-01-02: off the list, "deactivated": false in their
    details. Agents 251 (false) and 252 (null) were active before: the list is paged again, does not name them,
    and they stay unlisted; 253 (true) and 254 (false, not active before) are no reason for a second pass."""
    flagged = {FIRST + 250: False, FIRST + 251: None, FIRST + 252: True, FIRST + 253: False}
    details = account.details | {agent: account.details[agent] | {"deactivated": flag}
                                 for agent, flag in flagged.items()}
    with FakeFreshdesk(Account(account.listed, details), KEY) as server:
        manifest, day_dir = extract(server, tmp_path / "again", known=flagged,
                                    previously_active=range(FIRST, FIRST + 253))
        assert manifest["recheck"] == {"candidates": 2, "found": 0, "requests": 3}
        assert [page["file"] for page in manifest["pages"]] == [f"agents/{n}.json" for n in (1, 2, 3)]
        assert manifest["details"]["fetched"] == 4 and manifest["requests"] == 3 + 4 + 3
        manifest, _ = extract(server, tmp_path / "once", known=flagged, previously_active=[FIRST + 252])
        assert "recheck" not in manifest and manifest["requests"] == 3 + 4


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
    assert retry_after_seconds("soon", 5) == 5 and retry_after_seconds("999999", 60) == 999999
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
    assert settings.max_pages == 0 and load_settings(parser, {}).deleted_after_days == 7
    assert "s3cret" not in repr(settings)
    assert load_settings(ConfigParser(), {}).freshdesk is None
    parser.set("freshdesk", "max_pages", "5000")
    parser.set("freshdesk", "deleted_after_days", "30")
    assert load_settings(parser, {"FRESHDESK_MAX_PAGES": "20000"}).freshdesk.max_pages == 20000
    assert load_settings(parser, {}).deleted_after_days == 30
    assert load_settings(ConfigParser(), {"FRESHDESK_DELETED_AFTER_DAYS": "2"}).deleted_after_days == 2
    for environ, problem in (({"FRESHDESK_BASE_URL": "https://key:X@acme.freshdesk.com"}, "must not hold credentials"),
                             ({"FRESHDESK_BASE_URL": "acme.freshdesk.com"}, "must look like https://"),
                             ({"FRESHDESK_BASE_URL": "http://x", "FRESHDESK_TIMEOUT_SECONDS": "0"}, "above 0"),
                             ({"FRESHDESK_BASE_URL": "http://x", "FRESHDESK_MAX_PAGES": "-1"},
                              r"max_pages \(FRESHDESK_MAX_PAGES\) must be a whole number, 0 or more \(0: automatic"),
                             ({"FRESHDESK_DELETED_AFTER_DAYS": "0"},
                              r"deleted_after_days \(FRESHDESK_DELETED_AFTER_DAYS\) must be a whole number of days,"
                              r" 1 or more \(.*\), not '0'")):
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
    of docs/fetching.md's "Trying it locally" (tests/test_docs.py) loads a fetched day through Spark's own JVM."""
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


def test_deleted_after_days_counts_the_404_days_since_the_latest_real_record(database):
    """sql/010_mark_deleted_agents.sql on prepared rows, deleted_after_days = 2. Agent 1: seen on day 1, 404 on days
    2 and 3: recorded deleted on day 3, once. Agent 2: 404 on day 2, seen on day 3, 404 on day 4: one 404 day since
    its last record. Agent 3: its details call failed (500) on days 2 and 3: not a 404. Agent 1 listed again on
    day 5: no longer deleted."""
    days = [datetime.date(2024, 3, day) for day in range(1, 6)]
    ensure_schema(database)
    for day in days:
        create_day_partition(database, "agent_status_history", day)
        create_day_partition(database, "stg_agents", day)
    with closing(psycopg2.connect(database)) as connection, connection.cursor() as cursor:
        for agent in (1, 2, 3):
            cursor.execute("insert into agents (agent_id, deactivated, status, sync_day, source, ingested_at,"
                           " sync_date) values (%s, false, 'active', '2024-03-01', 'api', now(), %s)", (agent, days[0]))
        for agent, day, seen in ((1, 0, True), (2, 0, True), (3, 0, True), (1, 1, False), (2, 1, False),
                                 (2, 2, True), (1, 2, False), (3, 1, False), (3, 2, False)):
            cursor.execute("insert into agent_status_history (agent_id, sync_date, is_active, seen) values (%s, %s,"
                           " %s, %s)", (agent, days[day], seen, seen))
        for agent, day, status in ((1, 1, 404), (2, 1, 404), (1, 2, 404), (2, 3, 404), (3, 1, 500), (3, 2, 500)):
            cursor.execute("insert into agent_pipeline_errors (agent_id, sync_date, source_file, error_type,"
                           " error_message, raw_record) values (%s, %s, 'x', 'FETCH_ERROR', 'x', %s)",
                           (agent, days[day], json.dumps({"agent_id": agent, "status": status})))

        def mark(day: int) -> int:
            [row] = run_sql_file(cursor, "010_mark_deleted_agents.sql",
                                 {"sync_date": days[day], "deleted_after_days": 2, "accounts": ["default"]})
            return row["agents_deleted"]

        def deleted_on() -> dict:
            cursor.execute("select agent_id, deleted_on from agents order by agent_id")
            return dict(cursor.fetchall())

        assert [mark(1), mark(2), mark(2), mark(3)] == [0, 1, 0, 0]
        assert deleted_on() == {1: days[2], 2: None, 3: None}
        cursor.execute("insert into stg_agents (agent_id, deactivated, status, sync_day, source, sync_date) values"
                       " (1, false, 'active', '2024-03-05', 'api', %s)", (days[4],))
        assert mark(4) == 0 and deleted_on() == {1: None, 2: None, 3: None}


DELETED, DRIFTING = FIRST + 119, FIRST + 110
DAY1, DAY2 = TODAY - datetime.timedelta(days=2), TODAY - datetime.timedelta(days=1)


class Collected(logging.Handler):
    """The messages of the log records a run writes at ERROR."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_a_fetched_day_refused_by_its_manifest_check_is_set_aside(account, spark, tmp_path, monkeypatch):
    """ValidateRaw refuses today's fetched day (a page lost after the fetch): its folder is moved aside, nothing is
    validated, and the line says how to fetch the day anew. A day laid out by hand, or an earlier day, stays."""
    raw_root, output_root = tmp_path / "raw", tmp_path / "output"
    with FakeFreshdesk(account, KEY) as server:
        _, day_dir = extract(server, tmp_path)
        (day_dir / "agents" / "3.json").unlink()
        for variable, value in extract_env(server, raw_root, output_root, "postgresql://127.0.0.1:1/none").items():
            if variable.startswith(("PIPELINE_", "FRESHDESK_")):
                monkeypatch.setenv(variable, value)
    errors = Collected()
    logging.getLogger("luigi-interface").addHandler(errors)
    try:
        result = luigi.build([ValidateRaw(sync_date=TODAY)], local_scheduler=True, log_level="WARNING",
                             detailed_summary=True)
    finally:
        logging.getLogger("luigi-interface").removeHandler(errors)
    assert result.status == LuigiStatusCode.FAILED
    [aside] = raw_root.glob(f"{TODAY}.refused-*")
    assert [path.name for path in raw_root.iterdir()] == [aside.name] and not list(output_root.glob("validated/*"))
    assert sorted(path.name for path in (aside / "agents").iterdir()) == ["1.json", "2.json"]
    [refusal] = [message for message in errors.messages if "RefusedDay" in message]
    assert f"list page 3.json missing (3 pages fetched, 2 present); files were lost or changed after the fetch." \
           f" Nothing was written. The fetched files were moved to {aside}: running the same command again today" \
           " fetches the day anew." in refusal

    refused = RefusedDay(f"{TODAY} refused: … Nothing was written; if the export is complete, …")
    shutil.copytree(aside, day_dir)
    earlier = shutil.copytree(aside, raw_root / DAY2.isoformat())
    (day_dir / MANIFEST).unlink()  # laid out by hand
    assert set_aside_refused_day(refused, load_settings(), TODAY, "test") is refused and day_dir.is_dir()
    assert set_aside_refused_day(refused, load_settings(), DAY2, "test") is refused and (earlier / MANIFEST).is_file()


@pytest.fixture(scope="module")
def fetched_days(pg_server_dsn, spark, tmp_path_factory):
    """One account over four fetches, with deleted_after_days = 2, loaded in this process (its Spark session):

    - DAY1 (120 agents listed) and DAY2 (agent 120 gone, its details answer 404), fetched by ExtractAgents' code
      (only today can be fetched by the task), loaded;
    - today, from a list that is empty: refused, its raw folder set aside;
    - today again, the list as on DAY2: agent 120 answers 404 a second day (recorded deleted), agent 111 drifts
      onto page 1 while the list is paged;
    - one more fetch of today (ExtractAgents' own write, into a folder of its own): the next day's requests."""
    root = tmp_path_factory.mktemp("fetched-days")
    raw_root, output_root = root / "raw", root / "output"
    name, dsn = create_database(pg_server_dsn)
    everyone = Account.synthetic(120)
    listed = Account([record for record in everyone.listed if record["id"] != DELETED],
                     {agent: record for agent, record in everyone.details.items() if agent != DELETED})
    errors = Collected()
    run = {"raw_root": raw_root, "output_root": output_root, "dsn": dsn}
    with FakeFreshdesk(everyone, KEY) as server, pytest.MonkeyPatch.context() as environment:
        for day, account, known in ((DAY1, everyone, ()), (DAY2, listed, everyone.details)):
            server.account = account
            extract(server, root, known=known, day=day)
        for variable, value in extract_env(server, raw_root, output_root, dsn, deleted_after_days=2).items():
            if variable.startswith(("PIPELINE_", "FRESHDESK_")):
                environment.setenv(variable, value)

        def build(*days):
            server.requests.clear()
            result = luigi.build([SnapshotHistory(sync_date=day) for day in days], local_scheduler=True,
                                 detailed_summary=True, log_level="WARNING")
            return result.status, [path for path, _ in server.requests]

        run["loaded"] = build(DAY1, DAY2)
        server.account = Account([], listed.details)
        logging.getLogger("luigi-interface").addHandler(errors)
        try:
            run["refused"] = build(TODAY)
        finally:
            logging.getLogger("luigi-interface").removeHandler(errors)
        run["refusal"] = [message for message in errors.messages if "RefusedDay" in message]
        run["after_refusal"] = sorted(path.relative_to(root).as_posix()
                                      for path in (*raw_root.iterdir(), *output_root.glob(f"*/{TODAY}")))
        server.account = listed
        server.drift(DRIFTING)
        run["fetched"] = build(TODAY)
        server.requests.clear()
        fetch = ExtractAgents(sync_date=TODAY)
        fetch.set_status_message = fetch.set_progress_percentage = lambda *_: None  # what a luigi worker adds
        try:
            fetch.write(root / "next-fetch")
        finally:
            del fetch.set_status_message, fetch.set_progress_percentage
        run["next_requests"] = [path for path, _ in server.requests]
    yield run
    drop_database(pg_server_dsn, name)


def details_path(agent_id: int) -> str:
    return f"/api/v2/agents/{agent_id}"


@pytest.mark.xdist_group("fetched_days")  # one worker builds the module fixture once
def test_a_refused_fetched_day_is_set_aside_and_the_next_run_fetches_it_anew(fetched_days):
    assert fetched_days["loaded"][0] == LuigiStatusCode.SUCCESS
    status, requests_sent = fetched_days["refused"]
    assert status == LuigiStatusCode.FAILED and requests_sent[0] == "/api/v2/agents?per_page=100&page=1"
    [refusal] = fetched_days["refusal"]
    [aside] = [path for path in fetched_days["raw_root"].iterdir() if path.name.startswith(f"{TODAY}.refused-")]
    assert re.fullmatch(rf"{TODAY}\.refused-\d{{6}}", aside.name)
    assert f"RefusedDay: {TODAY} refused: its list pages hold no record, so all of the 119 agents active on {DAY2}" \
           " would become inactive" in refusal
    assert refusal.endswith(f"The fetched files were moved to {aside}: running the same command again today fetches"
                            f" the day anew. Only if the API's answer really is complete, move them back to"
                            f" {fetched_days['raw_root'] / TODAY.isoformat()} and let the day through with: luigi"
                            f" --module pipeline SnapshotHistory --sync-date {TODAY} --accept-incomplete-days {TODAY}")
    assert fetched_days["after_refusal"] == ["raw/" + name for name in (DAY1.isoformat(), DAY2.isoformat(), aside.name)]
    assert json.loads((aside / "agents" / "1.json").read_bytes()) == []
    assert json.loads((aside / MANIFEST).read_bytes())["list_records"] == 0

    assert fetched_days["fetched"][0] == LuigiStatusCode.SUCCESS
    history = query(fetched_days["dsn"], "select is_active, seen, count(*) from agent_status_history where sync_date ="
                                         " %s group by 1, 2 order by 1, 2", (TODAY,))
    assert history == [(False, False, 1), (True, True, 119)]  # agent 120: no record (its details answer 404)


@pytest.mark.xdist_group("fetched_days")  # one worker builds the module fixture once
def test_an_agent_that_drifted_while_the_list_was_paged_stays_active(fetched_days):
    manifest = json.loads((fetched_days["raw_root"] / TODAY.isoformat() / MANIFEST).read_bytes())
    assert manifest["pages"] == [{"file": "agents/1.json", "records": 100}, {"file": "agents/2.json", "records": 19},
                                 {"file": "agents/3.json", "records": 1, "recheck": True}]
    assert manifest["recheck"] == {"candidates": 1, "found": 1, "requests": 1}
    assert query(fetched_days["dsn"], "select sync_date, is_active, seen from agent_status_history where agent_id = %s"
                                      " order by sync_date", (DRIFTING,)) == [(DAY1, True, True), (DAY2, True, True),
                                                                             (TODAY, True, True)]
    [aside] = [path for path in fetched_days["raw_root"].iterdir() if ".refused-" in path.name]
    assert json.loads((aside / MANIFEST).read_bytes())["recheck"] == {"candidates": 119, "found": 0, "requests": 1}


@pytest.mark.xdist_group("fetched_days")  # one worker builds the module fixture once
def test_an_agent_whose_details_answer_404_for_deleted_after_days_is_recorded_deleted_and_no_longer_asked(
        fetched_days):
    dsn = fetched_days["dsn"]
    assert query(dsn, "select agent_id, deleted_on from agents where deleted_on is not null") == [(DELETED, TODAY)]
    assert query(dsn, "select sync_date, agents_deleted from agent_pipeline_runs where task = 'UpsertAgents'"
                      " order by sync_date") == [(DAY1, 0), (DAY2, 0), (TODAY, 1)]
    assert details_path(DELETED) in fetched_days["refused"][1] and details_path(DELETED) in fetched_days["fetched"][1]
    assert fetched_days["next_requests"] == ["/api/v2/agents?per_page=100&page=1", "/api/v2/agents?per_page=100&page=2"]
