"""``_manifest.json``: what ExtractAgents fetched for a day, and ValidateRaw's check of the day against it.

    {"sync_date": "2026-12-03", "source": "https://acme.freshdesk.com/api/v2/agents",
     "started_at": "…Z", "finished_at": "…Z",
     "pages": [{"file": "agents/1.json", "records": 100}, …], "list_records": 1234,
     "details": {"requested": 40, "fetched": 38, "missing": [<id>, …],
                 "failed": [{"agent_id": <id>, "url": "…", "error": "…"}, …]},
     "requests": 53, "retries": 1, "throttled_seconds": 2.0}

After a second list pass (pagination drift, pipeline.extract), the last page is the one it wrote,
``{"file": "agents/14.json", "records": 1, "recheck": true}``, and ``"recheck": {"candidates": 2, "found": 1,
"requests": 3}`` says what the pass looked for, found and cost.

A day that has one is refused when its list pages, their record counts or the number of details files differ
from it: files were lost or changed after the fetch. Each details call that answered 404 or failed becomes a
``FETCH_ERROR`` row of ``agent_pipeline_errors``; the rest of the day loads.
"""
from pathlib import Path

import orjson

from pipeline.completeness import RefusedDay, let_through
from pipeline.errors import PipelineError

MANIFEST = "_manifest.json"
FETCH_ERROR = "FETCH_ERROR"


class ManifestUnreadable(PipelineError):
    """A day's ``_manifest.json`` that is not a manifest: the day's completeness cannot be checked."""


def write_manifest(day_dir: Path, manifest: dict) -> None:
    (day_dir / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")


def details_failure(agent_id: int, url: str, error: str) -> dict:
    """The manifest's entry for a details call that still failed after its retries."""
    return {"agent_id": agent_id, "url": url, "error": error}


def read_manifest(day_dir: Path) -> dict | None:
    """The day's manifest, or None when the day has none (a day laid out by hand)."""
    path = day_dir / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = orjson.loads(path.read_bytes())
        pages = [(str(page["file"]), _count(page["records"])) for page in manifest["pages"]]
        details = manifest["details"]
        for key in ("requested", "fetched"):
            _count(details[key])
        for agent_id in details["missing"]:
            _agent_id(agent_id)
        for entry in details["failed"]:
            _agent_id(entry["agent_id"]), str(entry["error"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ManifestUnreadable(f"{path}: not a readable extraction manifest ({type(error).__name__}: {error});"
                                 " the day's completeness cannot be checked. Fetch the day again (see README,"
                                 " 'Fetching from Freshdesk') or remove the file to load the folder as it is"
                                 ) from None
    if not pages:
        raise ManifestUnreadable(f"{path}: names no list page; the day's completeness cannot be checked")
    return manifest


def _agent_id(value) -> int:
    if type(value) is not int or not 1 <= value < 2**63:
        raise ValueError(f"{value!r} is not an agent id")
    return value


def _count(value) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value


def _refuse(day: str, day_dir: Path, problem: str) -> RefusedDay:
    return RefusedDay(f"{day} refused: {day_dir / MANIFEST} does not match the files: {problem}; files were lost or"
                      f" changed after the fetch. Nothing was written; {let_through(day)}")


def check_files(day_dir: Path, manifest: dict, list_pages: list[str], details_files: int) -> None:
    """Refuse the day when its list page files or its number of details files differ from the manifest."""
    day = day_dir.name
    expected = [Path(page["file"]).name for page in manifest["pages"]]
    lost = [name for name in expected if name not in set(list_pages)]
    added = [name for name in list_pages if name not in set(expected)]
    if lost or added:
        problem = "; ".join(part for part in (
            f"list page {', '.join(lost[:5])} missing" if lost else "",
            f"list page {', '.join(added[:5])} not in it" if added else "") if part)
        raise _refuse(day, day_dir, f"{problem} ({len(expected):,} pages fetched, {len(list_pages):,} present)")
    fetched = manifest["details"]["fetched"]
    if details_files != fetched:
        raise _refuse(day, day_dir, f"{fetched:,} details fetched, {details_files:,} details files present")


def check_page_records(day_dir: Path, manifest: dict, page_records: dict[str, int]) -> None:
    """Refuse the day when a list page holds another number of records than the manifest says."""
    differ = [(page["file"], page["records"], page_records.get(Path(page["file"]).name))
              for page in manifest["pages"] if page_records.get(Path(page["file"]).name) != page["records"]]
    if differ:
        shown = ", ".join(f"{file} holds {found} records, fetched with {fetched}"
                          for file, fetched, found in differ[:5])
        raise _refuse(day_dir.name, day_dir, shown)


def fetch_error_rows(day: str, manifest: dict) -> list[tuple]:
    """One row (handoff.REJECT_COLUMNS) per details call that answered 404 or failed: the agent has no record
    on this day, so its status is not recorded for it (nothing is guessed)."""
    details = manifest["details"]
    source = manifest.get("source", "")
    rows = []
    for agent_id in details["missing"]:
        url = f"{source}/{agent_id}"
        entry = {"agent_id": agent_id, "url": url, "status": 404}
        rows.append((agent_id, f"{day}/agent_details/{agent_id}.json", None, FETCH_ERROR,
                     f"GET {url}: 404 Not Found: the agent is no longer in Freshdesk (deleted); no record of it"
                     " on this day", orjson.dumps(entry).decode()))
    for entry in details["failed"]:
        agent_id = int(entry["agent_id"])
        rows.append((agent_id, f"{day}/agent_details/{agent_id}.json", None, FETCH_ERROR,
                     f"{entry['error']}; no record of the agent on this day", orjson.dumps(entry).decode()))
    return rows
