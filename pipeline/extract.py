"""ExtractAgents' work: the raw day fetched from the Freshdesk API, in the layout the rest of the graph reads.

    agents/<n>.json            page n of ``GET /api/v2/agents?per_page=100``, the body as returned; the pages
                               follow the ``Link: <…>; rel="next"`` header until there is none
    agent_details/<id>.json    ``GET /api/v2/agents/<id>``, the body as returned
    _manifest.json             what was fetched (pipeline.manifest)

Which agents get a details call: every agent known before today (in ``agents``, or in the latest earlier raw
day) that today's list pages do not name. Its details show it deactivated (or answer 404: deleted), which is
how a deactivation is seen. A listed agent's list record already carries every field the pipeline loads, so
a details call for it would spend the account's rate limit for nothing: a day costs
``ceil(listed / 100) + (known - listed)`` requests.
"""
import datetime
import logging
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import orjson

from pipeline.freshdesk import ApiKeyRefused, FetchFailed, FreshdeskApi
from pipeline.manifest import MANIFEST, details_failure, write_manifest
from pipeline.rawdays import DAY_FOLDER

logger = logging.getLogger("luigi-interface.pipeline")

AGENTS_PATH = "/api/v2/agents"
PER_PAGE = 100  # the API's largest page
PROGRESS_SECONDS = 5.0  # progress is reported at most this often (and at the end of each phase)


class ListPageInvalid(FetchFailed):
    """A list page whose body is not a JSON array: the day cannot be known to be complete."""


def list_url(base_url: str, page: int = 1) -> str:
    return f"{base_url}{AGENTS_PATH}?per_page={PER_PAGE}&page={page}"


def details_url(base_url: str, agent_id: int) -> str:
    return f"{base_url}{AGENTS_PATH}/{agent_id}"


def requests_per_day(listed: int, unlisted_known: int) -> int:
    """What a day costs in API calls: the list pages, and one details call per known agent not listed."""
    return math.ceil(listed / PER_PAGE) + unlisted_known


def page_agent_ids(url: str, body: bytes) -> tuple[int, set[int]]:
    """The number of records of a list page and the agent ids they carry (ListPageInvalid if not an array)."""
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ListPageInvalid(f"GET {url}: the list page is not valid JSON ({error}); nothing of the day was"
                              " written") from None
    if not isinstance(records, list):
        raise ListPageInvalid(f"GET {url}: the list page is a JSON {type(records).__name__}, not an array of"
                              " agents; nothing of the day was written")
    return len(records), {r["id"] for r in records if isinstance(r, dict) and type(r.get("id")) is int}


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


def fetch_list_pages(api: FreshdeskApi, base_url: str, folder: Path, progress) -> tuple[list[dict], set[int]]:
    """Every list page into ``folder`` as ``<n>.json``; returns the pages (file, records) and the listed ids."""
    pages, listed, seen = [], set(), set()
    url, reported = list_url(base_url), 0.0
    while url:
        if url in seen:
            raise FetchFailed(f"GET {url}: the API's next-page links came back to a page already fetched")
        seen.add(url)
        reply = api.get(url)
        records, ids = page_agent_ids(url, reply.body)
        number = len(pages) + 1
        (folder / f"{number}.json").write_bytes(reply.body)
        pages.append({"file": f"{folder.name}/{number}.json", "records": records})
        listed |= ids
        url = next_page_url(reply.links, url, base_url)
        if url is None or time.monotonic() - reported >= PROGRESS_SECONDS:
            progress(f"page {number} ({sum(page['records'] for page in pages):,} agents listed)", None)
            reported = time.monotonic()
    return pages, listed


def fetch_details(api: FreshdeskApi, base_url: str, folder: Path, agent_ids: list[int], progress) -> dict:
    """``GET /api/v2/agents/<id>`` for each of ``agent_ids`` into ``folder``, over the API's connections.
    A 404 (deleted agent) or a call that still fails after its retries is noted, and the others go on."""
    missing, failed = [], []

    def fetch(agent_id):
        url = details_url(base_url, agent_id)
        try:
            reply = api.get(url, missing_ok=True)
        except ApiKeyRefused:
            raise
        except FetchFailed as error:
            return agent_id, details_failure(agent_id, url, str(error))
        if reply.status == 404:
            return agent_id, None
        (folder / f"{agent_id}.json").write_bytes(reply.body)
        return agent_id, True

    reported, total = 0.0, len(agent_ids)
    pool = ThreadPoolExecutor(api.settings.connections, thread_name_prefix="freshdesk")
    try:
        for done, (agent_id, outcome) in enumerate(pool.map(fetch, agent_ids), 1):
            if outcome is None:
                missing.append(agent_id)
            elif outcome is not True:
                failed.append(outcome)
            if done == total or time.monotonic() - reported >= PROGRESS_SECONDS:
                progress(f"details {done:,} of {total:,}", round(100 * done / total))
                reported = time.monotonic()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return {"requested": total, "fetched": total - len(missing) - len(failed), "missing": sorted(missing),
            "failed": sorted(failed, key=lambda entry: entry["agent_id"])}


def extract_day(api: FreshdeskApi, day_dir: Path, sync_date: datetime.date, known_ids: set[int],
                progress=lambda message, percent: None) -> dict:
    """Fetch the day into ``day_dir`` (a temporary folder, renamed by the caller once this returns);
    returns the manifest it wrote. A list page that fails raises: the caller removes the folder."""
    base_url = api.settings.base_url
    started_at = _utc_now()
    (day_dir / "agents").mkdir(parents=True)
    (day_dir / "agent_details").mkdir()
    pages, listed = fetch_list_pages(api, base_url, day_dir / "agents", progress)
    unlisted = sorted(known_ids - listed)
    logger.info("%s: %s agents listed on %s pages; details of the %s known agents not listed", sync_date,
                f"{len(listed):,}", f"{len(pages):,}", f"{len(unlisted):,}")
    details = fetch_details(api, base_url, day_dir / "agent_details", unlisted, progress) if unlisted else \
        {"requested": 0, "fetched": 0, "missing": [], "failed": []}
    manifest = {
        "sync_date": sync_date.isoformat(),
        "source": f"{base_url}{AGENTS_PATH}",
        "started_at": started_at,
        "finished_at": _utc_now(),
        "pages": pages,
        "list_records": sum(page["records"] for page in pages),
        "details": details,
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
