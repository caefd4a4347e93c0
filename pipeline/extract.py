"""ExtractAgents' work: the raw day fetched from the Freshdesk API, in the layout the rest of the graph reads.

    agents/<n>.json            page n of ``GET /api/v2/agents?per_page=100``, the body as returned; the pages
                               follow the ``Link: <…>; rel="next"`` header until there is none
    agents/<n+1>.json          only after a second list pass (below): the records it found, in one page
    agent_details/<id>.json    ``GET /api/v2/agents/<id>``, the body as returned
    _manifest.json             what was fetched (pipeline.manifest)

Which agents get a details call: every agent known before today (in ``agents`` and not recorded deleted, or in
the latest earlier raw day) that today's list pages do not name. Its details show it deactivated (or answer 404:
deleted), which is how a deactivation is seen. A listed agent's list record already carries every field the
pipeline loads, so a details call for it would spend the account's rate limit for nothing: a day costs
``ceil(listed / 100) + (known - listed)`` requests.

A details answer must be the agent asked for: a JSON object whose ``id`` is that agent's. Anything else (an HTML
page with status 200, another agent's record) is tried again like a 5xx, then noted as failed: it becomes a
``FETCH_ERROR`` row, never the agent's details file.

The list is paged within a bound (``page_bound``: ``[freshdesk] max_pages``, or what the known agents and the
first page's size make plausible), and a full page that names no agent not listed on an earlier page fails the
day at once: an API paging the same agents over and over would otherwise never end.

Pagination drift. Pages are fetched one after another while the account may change: an agent moved onto a
page already fetched is on no page of the pass, and would look deactivated. Its details answer cannot tell:
Freshdesk answers ``"deactivated": false`` for agents that are off the list (the fixtures' 2024-01-02,
agents 11200000004 and 11200000006), so that flag is not trusted to mean active. Instead, the list is paged a
second time (within the same bounds) when there are candidates: known agents not listed whose details answer
says ``deactivated`` is false or null, and that were active on the latest earlier recorded day. Each candidate
the second pass names has the list record that pass returned written, all together, to one more numbered page
``agents/<n+1>.json`` (manifest entry ``"recheck": true``); a candidate the second pass does not name either
stays unlisted, so inactive. The pass stops once every candidate is found. The manifest's ``recheck`` gives
the candidates, those found and the requests the pass took.
"""
import datetime
import json
import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import orjson

from pipeline.freshdesk import ApiKeyRefused, FetchFailed, FreshdeskApi, RateLimitSpent
from pipeline.manifest import MANIFEST, details_failure, write_manifest
from pipeline.rawdays import DAY_FOLDER
from pipeline.strict_json import parse_json, shorten

logger = logging.getLogger("luigi-interface.pipeline")

AGENTS_PATH = "/api/v2/agents"
PER_PAGE = 100  # the API's largest page
PROGRESS_SECONDS = 5.0  # progress is reported at most this often (and at the end of each phase)
MIN_PAGES = 10  # the automatic page bound: at least this, and this many pages beyond twice the known agents
FIRST_FETCH_PAGES = 10_000  # the automatic page bound when no agent is known yet (an account's first fetch)


class ListPageInvalid(FetchFailed):
    """A list page whose body is not a JSON array: the day cannot be known to be complete."""


class ListWithoutEnd(FetchFailed):
    """The list's next-page links go on past what is plausible, or bring the same agents again."""


def list_url(base_url: str, page: int = 1) -> str:
    return f"{base_url}{AGENTS_PATH}?per_page={PER_PAGE}&page={page}"


def details_url(base_url: str, agent_id: int) -> str:
    return f"{base_url}{AGENTS_PATH}/{agent_id}"


def requests_per_day(listed: int, unlisted_known: int) -> int:
    """What a day costs in API calls: the list pages, and one details call per known agent not listed."""
    return math.ceil(listed / PER_PAGE) + unlisted_known


def page_records(url: str, body: bytes) -> list:
    """The records of a list page (ListPageInvalid if it is not a JSON array)."""
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ListPageInvalid(f"GET {url}: the list page is not valid JSON ({error}); nothing of the day was"
                              " written") from None
    if not isinstance(records, list):
        raise ListPageInvalid(f"GET {url}: the list page is a JSON {type(records).__name__}, not an array of"
                              " agents; nothing of the day was written")
    return records


def record_id(record) -> int | None:
    """A record's agent id, when it has one that is a JSON integer."""
    return record["id"] if isinstance(record, dict) and type(record.get("id")) is int else None


def page_agent_ids(url: str, body: bytes) -> tuple[int, set[int]]:
    """The number of records of a list page and the agent ids they carry (ListPageInvalid if not an array)."""
    records = page_records(url, body)
    return len(records), {record_id(record) for record in records} - {None}


def page_bound(known: int, first_page: int, max_pages: int) -> int:
    """The most list pages a day may have: ``max_pages`` when set; else, with ``known`` agents known and
    ``first_page`` records on page 1 (the API may cap pages below 100), twice the known agents' pages and
    ``MIN_PAGES`` more (at least ``MIN_PAGES``); ``FIRST_FETCH_PAGES`` when no agent is known yet."""
    if max_pages:
        return max_pages
    if not known:
        return FIRST_FETCH_PAGES
    return max(MIN_PAGES, math.ceil(2 * known / max(first_page, 1)) + MIN_PAGES)


def too_many_pages(url: str, bound: int, known: int, first_page: int, max_pages: int) -> ListWithoutEnd:
    """The error for a list whose next page, ``url``, is beyond ``bound`` pages."""
    why = ("the most max_pages (FRESHDESK_MAX_PAGES) allows" if max_pages else
           f"the most that {known:,} known agents at {first_page:,} a page make plausible (twice the agents, and"
           f" {MIN_PAGES} pages more)")
    return ListWithoutEnd(f"GET {url}: the agent list goes on past {bound:,} pages, {why}; nothing of the day was"
                          " written. If the account really lists that many agents now, set [freshdesk] max_pages"
                          f" (FRESHDESK_MAX_PAGES) above {bound:,}")


def list_pages(api: FreshdeskApi, base_url: str, known: int):
    """Each list page in turn, as (number, body, records, ids, last): the next-page links followed within
    ``page_bound``, and never to a page already fetched or a full page that brings no agent not listed on an
    earlier one (ListWithoutEnd)."""
    fetched, listed = set(), set()
    url, number, bound, full = list_url(base_url), 0, None, 0
    max_pages = api.settings.max_pages
    while url:
        if url in fetched:
            raise ListWithoutEnd(f"GET {url}: the API's next-page links came back to a page already fetched")
        if bound is not None and number >= bound:
            raise too_many_pages(url, bound, known, full, max_pages)
        fetched.add(url)
        reply = api.get(url)
        records = page_records(url, reply.body)
        ids = {record_id(record) for record in records} - {None}
        number += 1
        if number == 1:
            full, bound = len(records), page_bound(known, len(records), max_pages)
        elif full and len(records) >= full and not ids - listed:
            raise ListWithoutEnd(f"GET {url}: page {number} holds {len(records):,} agents, every one listed on an"
                                 " earlier page: the API is paging the same agents over and over; nothing of the day"
                                 " was written. Run again later")
        listed |= ids
        url = next_page_url(reply.links, url, base_url)
        yield number, reply.body, records, ids, url is None


def next_page_url(response_links: dict, url: str, base_url: str) -> str | None:
    """The ``rel="next"`` link of a page, resolved against its URL; only ever on the account's own origin
    (the key is never sent elsewhere)."""
    target = response_links.get("next")
    if not target:
        return None
    resolved = urljoin(url, target)
    if urlsplit(resolved)[:2] != urlsplit(base_url)[:2]:
        raise FetchFailed(f"GET {url}: its next-page link points to another site ({urlsplit(resolved).netloc});"
                          " refusing to send the API key there")
    return resolved


def fetch_list_pages(api: FreshdeskApi, base_url: str, folder: Path, known: int,
                     progress) -> tuple[list[dict], set[int]]:
    """Every list page into ``folder`` as ``<n>.json``; returns the pages (file, records) and the listed ids."""
    pages, listed, reported = [], set(), 0.0
    for number, body, records, ids, last in list_pages(api, base_url, known):
        (folder / f"{number}.json").write_bytes(body)
        pages.append({"file": f"{folder.name}/{number}.json", "records": len(records)})
        listed |= ids
        if last or time.monotonic() - reported >= PROGRESS_SECONDS:
            progress(f"page {number} ({sum(page['records'] for page in pages):,} agents listed)", None)
            reported = time.monotonic()
    return pages, listed


def recheck_list(api: FreshdeskApi, base_url: str, known: int, candidates: set[int], progress) -> tuple[list, int]:
    """Page through the list once more for ``candidates`` (pagination drift); returns the list record of each one
    it names, as it returned them, and the requests it took. Stops once every candidate is found."""
    before, found, reported = api.counts["requests"], {}, 0.0
    for number, _, records, _, last in list_pages(api, base_url, known):
        for record in records:
            agent_id = record_id(record)
            if agent_id in candidates and agent_id not in found:
                found[agent_id] = record
        done = last or len(found) == len(candidates)
        if done or time.monotonic() - reported >= PROGRESS_SECONDS:
            progress(f"second list pass: page {number} ({len(found):,} of {len(candidates):,} found)", None)
            reported = time.monotonic()
        if done:
            break
    return list(found.values()), api.counts["requests"] - before


def details_problem(agent_id: int, body: bytes) -> str | None:
    """Why a details answer is not agent ``agent_id``'s record (None when it is): not JSON, not an object, or
    another agent's."""
    try:
        document, _ = parse_json(body)
    except ValueError as error:
        text = body[:60].decode("utf-8", "replace").strip().replace("\n", " ")
        return f"the answer is not JSON ({error}{f': {text!r}' if text else ''}{'…' if len(body) > 60 else ''})"
    if not isinstance(document, dict):
        kind = {list: "array", str: "string", int: "integer", float: "number", bool: "boolean"}.get(
            type(document), "null")
        return f"the answer is a JSON {kind}, not an agent object"
    if document.get("id") != agent_id or type(document.get("id")) is not int:
        return f"the answer is agent {shorten(json.dumps(document.get('id')))}, not {agent_id}"
    return None


def says_not_deactivated(body: bytes) -> bool:
    """Whether a details answer (one that ``details_problem`` accepted) says ``deactivated`` is false or null."""
    document, _ = parse_json(body)
    return document.get("deactivated") in (False, None)


MISSING, FETCHED, NOT_DEACTIVATED = "missing", "fetched", "not deactivated"  # what a details call gave


def fetch_details(api: FreshdeskApi, base_url: str, folder: Path, agent_ids: list[int],
                  progress) -> tuple[dict, set[int]]:
    """``GET /api/v2/agents/<id>`` for each of ``agent_ids`` into ``folder``, over the API's connections.
    A 404 (deleted agent) or a call that still fails after its retries (an answer that is not the agent's record
    counts as a failure) is noted, and the others go on. Returns the manifest's ``details`` and the agents whose
    details say ``deactivated`` is false or null."""
    missing, failed, not_deactivated = [], [], set()

    def fetch(agent_id):
        url = details_url(base_url, agent_id)
        try:
            reply = api.get(url, missing_ok=True, check=lambda body: details_problem(agent_id, body))
        except (ApiKeyRefused, RateLimitSpent):
            raise
        except FetchFailed as error:
            return agent_id, details_failure(agent_id, url, str(error))
        if reply.status == 404:
            return agent_id, MISSING
        (folder / f"{agent_id}.json").write_bytes(reply.body)
        return agent_id, NOT_DEACTIVATED if says_not_deactivated(reply.body) else FETCHED

    reported, total = 0.0, len(agent_ids)
    pool = ThreadPoolExecutor(api.settings.connections, thread_name_prefix="freshdesk")
    try:
        for done, (agent_id, outcome) in enumerate(pool.map(fetch, agent_ids), 1):
            if outcome is MISSING:
                missing.append(agent_id)
            elif outcome is NOT_DEACTIVATED:
                not_deactivated.add(agent_id)
            elif isinstance(outcome, dict):
                failed.append(outcome)
            if done == total or time.monotonic() - reported >= PROGRESS_SECONDS:
                progress(f"details {done:,} of {total:,}", round(100 * done / total))
                reported = time.monotonic()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return {"requested": total, "fetched": total - len(missing) - len(failed), "missing": sorted(missing),
            "failed": sorted(failed, key=lambda entry: entry["agent_id"])}, not_deactivated


def extract_day(api: FreshdeskApi, day_dir: Path, sync_date: datetime.date, known_ids: set[int],
                progress=lambda message, percent: None, previously_active: set[int] = frozenset()) -> dict:
    """Fetch the day into ``day_dir`` (a temporary folder, renamed by the caller once this returns);
    returns the manifest it wrote. A list page that fails raises: the caller removes the folder.
    ``previously_active``: the agents active on the latest earlier recorded day (for the second list pass)."""
    base_url = api.settings.base_url
    started_at = _utc_now()
    (day_dir / "agents").mkdir(parents=True)
    (day_dir / "agent_details").mkdir()
    pages, listed = fetch_list_pages(api, base_url, day_dir / "agents", len(known_ids), progress)
    unlisted = sorted(known_ids - listed)
    logger.info("%s %s: %s agents listed on %s pages; details of the %s known agents not listed", base_url,
                sync_date, f"{len(listed):,}", f"{len(pages):,}", f"{len(unlisted):,}")
    details, not_deactivated_ids = fetch_details(api, base_url, day_dir / "agent_details", unlisted, progress) \
        if unlisted else ({"requested": 0, "fetched": 0, "missing": [], "failed": []}, set())
    candidates = not_deactivated_ids & set(previously_active)
    recheck = {}
    if candidates:
        logger.info("%s: %s known agents not listed were active on the latest earlier day and their details do not"
                    " say deactivated: paging through the list again", sync_date, f"{len(candidates):,}")
        found, requests_sent = recheck_list(api, base_url, len(known_ids), candidates, progress)
        recheck = {"recheck": {"candidates": len(candidates), "found": len(found), "requests": requests_sent}}
        logger.info("%s: the second list pass found %s of them", sync_date, f"{len(found):,}")
        if found:
            name = f"{len(pages) + 1}.json"
            (day_dir / "agents" / name).write_bytes(orjson.dumps(found))
            pages.append({"file": f"agents/{name}", "records": len(found), "recheck": True})
    manifest = {
        "sync_date": sync_date.isoformat(),
        "source": f"{base_url}{AGENTS_PATH}",
        "started_at": started_at,
        "finished_at": _utc_now(),
        "pages": pages,
        "list_records": sum(page["records"] for page in pages),
        "details": details,
        **recheck,
        **{key: round(value, 1) if key == "throttled_seconds" else value for key, value in api.counts.items()},
    }
    write_manifest(day_dir, manifest)
    return manifest


def run_counts(manifest: dict) -> dict:
    """The manifest's counts, as ExtractAgents records them in agent_pipeline_runs."""
    details = manifest["details"]
    return {"list_pages": len(manifest["pages"]), "list_records": manifest["list_records"],
            "details_requested": details["requested"], "details_fetched": details["fetched"],
            "details_missing": len(details["missing"]), "details_failed": len(details["failed"]),
            "requests": manifest["requests"], "retries": manifest["retries"],
            "throttled_seconds": manifest["throttled_seconds"]}


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def known_agent_ids(loaded_ids, raw_root: Path, sync_date: datetime.date) -> set[int]:
    """The agents known before ``sync_date``: ``loaded_ids`` (the ``agents`` table) and those of the latest
    earlier raw day (a day fetched, or laid out, but not loaded yet)."""
    known = set(loaded_ids)
    earlier = sorted(entry.name for entry in os.scandir(raw_root) if entry.is_dir()
                     and DAY_FOLDER.fullmatch(entry.name) and entry.name < sync_date.isoformat()) \
        if raw_root.is_dir() else []
    if earlier:
        known |= raw_day_agent_ids(raw_root / earlier[-1])
    return known


def raw_day_agent_ids(day_dir: Path) -> set[int]:
    """The agent ids a raw day names: its list records' and its details files' (by name when the name is the
    id, else read). Files that cannot be read are skipped: validating that day reported them."""
    ids = set()
    for folder in ("agents", "agent_details"):
        path = day_dir / folder
        for entry in (os.scandir(path) if path.is_dir() else ()):
            if not entry.name.endswith(".json") or entry.name == MANIFEST:
                continue
            stem = entry.name.removesuffix(".json")
            if folder == "agent_details" and stem.isdigit():
                ids.add(int(stem))
                continue
            try:
                document = orjson.loads(Path(entry.path).read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue
            for record in document if isinstance(document, list) else [document]:
                if isinstance(record, dict) and type(record.get("id")) is int:
                    ids.add(record["id"])
    return ids


def fetch_account_day(settings, sync_date: datetime.date, account: str, out_dir: Path, report, holder: str) -> dict:
    """Fetch an account's day into ``out_dir`` with the account's own base URL and key (pipeline.accounts), asking
    for the details of the agents the database knows; returns the run's counts."""
    from contextlib import closing

    from pipeline.accounts import account_api_settings
    from pipeline.database import connect, database_dsn, ensure_schema, reported_outage, run_sql_file
    from pipeline.freshdesk import FreshdeskApi

    api = FreshdeskApi(account_api_settings(settings, account))
    try:
        dsn = database_dsn(settings)
        ensure_schema(dsn)
        params = {"account": account, "sync_date": sync_date}
        with reported_outage(dsn, f"{holder} (reading the known agents)"), closing(connect(dsn)) as connection, \
                connection.cursor() as cursor:
            loaded = [row["agent_id"] for row in run_sql_file(cursor, "070_known_agent_ids.sql", params)]
            active = {row["agent_id"] for row in run_sql_file(cursor, "071_previously_active_agent_ids.sql", params)}
        known = known_agent_ids(loaded, settings.raw_day(sync_date, account).parent, sync_date)
        manifest = extract_day(api, out_dir, sync_date, known, report, active)
    finally:
        api.close()
    return run_counts(manifest)
