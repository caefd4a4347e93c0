"""The completeness guard: a day whose export looks partial is refused before it changes anything.

A lost list page makes its agents look deactivated, and a state table cannot tell that from a real
deactivation. So a day is refused (nothing written, no marker) when

- its list page names cannot be read as numbered pages (``1.json``, ``2.json`` …, or any scheme in which one
  number changes from page to page), two pages have the same number, or the numbers have a gap (checked by
  ValidateRaw, from the file names);
- its list pages hold no record while the latest earlier loaded day had active agents, or more than
  ``max_deactivation_share`` of that day's active agents (and at least ``MIN_DEACTIVATIONS``) would
  become inactive (checked by LoadStaging, inside its transaction, against ``agent_status_history``).

"Earlier loaded day" is the latest day before this one in ``agent_status_history``: backfills,
out-of-order loads and re-loads compare with what is recorded, never with a day that is not.
``--accept-incomplete-days`` lets named days through for one run.
"""
import datetime
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pipeline.errors import PipelineError

MIN_DEACTIVATIONS = 10  # fewer deactivations than this never refuse a day, whatever the share
ACCEPT_FLAG = "--accept-incomplete-days"


class RefusedDay(PipelineError):
    """The day looks incomplete; nothing of it was written. The message says how to let it through."""


def let_through(day: str) -> str:
    return (f"if the export is complete, let this day through (this run only) with: "
            f"luigi --module pipeline SnapshotHistory --sync-date {day} {ACCEPT_FLAG} {day}")


_NUMBER = re.compile(r"(\d+)")


def page_stem(name: str, day: str) -> str:
    """A list page's name without ``.json`` (in any case) and without the sync date it may carry
    (``2024-01-02``, ``2024_01_02``, ``20240102``): what is left holds the page number."""
    stem = name[:-5] if name.lower().endswith(".json") else name
    for spelling in (day, day.replace("-", "_"), day.replace("-", "")):
        stem = stem.replace(spelling, "")
    return stem


def page_numbers(names: list[str], day: str) -> tuple[dict[str, int], str | None]:
    """The page number of each list page name, and what makes the names unreadable as numbered pages (None
    when they read). The rule: every name has the same shape (the same text around the same count of
    numbers, the sync date left out), and the page number is the one number that differs from page to
    page (a single page: its one number). A lone name without a number is one unnumbered page."""
    shapes = {}
    for name in names:
        parts = _NUMBER.split(page_stem(name, day))
        shapes[name] = (tuple(parts[0::2]), tuple(int(part) for part in parts[1::2]))
    if not names:
        return {}, None
    counts = Counter(shape for shape, _ in shapes.values())
    # the most common shape; on a tie, the one with numbers, then the one with the least text around them
    usual = max(counts, key=lambda shape: (counts[shape], len(shape), -len("".join(shape))))
    odd = [name for name in names if shapes[name][0] != usual]
    if odd:
        return {}, f"{_names(odd)} not named like the other pages ({_names([n for n in names if n not in odd])})"
    width = len(usual) - 1  # numbers in each name
    if width == 0:
        return ({}, None) if len(names) == 1 else ({}, f"{_names(names)} carry no page number")
    varying = [position for position in range(width) if len({numbers[position] for _, numbers in shapes.values()}) > 1]
    if len(varying) > 1 or (width > 1 and not varying):
        return {}, (f"{_names(names)}: which number is the page number cannot be told"
                    f" ({'more than one number changes from page to page' if varying else 'more than one number'})")
    position = varying[0] if varying else 0
    return {name: shapes[name][1][position] for name in names}, None


def _names(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown:,} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def missing_page_numbers(numbers) -> list[int]:
    """The page numbers missing from ``numbers``: numbering starts at 1 (at 0 when a page 0 exists)."""
    numbers = set(numbers)
    first = 0 if 0 in numbers else 1
    return sorted(set(range(first, max(numbers, default=0) + 1)) - numbers)


def refuse_strays(day: str, folder: Path, strays: list[str]) -> None:
    """Refuse a day whose ``agents/`` holds anything but ``*.json`` list pages: it may be a page saved under
    another name (a lost page would wrongly deactivate its agents)."""
    if strays:
        raise RefusedDay(
            f"{day} refused: {folder} holds {_names(strays)}, not named *.json: if it is a list page, name it"
            f" N.json; if not, move it out of {folder.name}/. Nothing was written; {let_through(day)} (it is then"
            " not read, and recorded as an UNREAD_FILE row)")


def check_page_numbers(day: str, folder: Path, pages: list[str]) -> list[str]:
    """Refuse a day whose list page names cannot be read as numbered pages (naming them), two of whose pages
    have the same number, or whose numbers have a gap (naming the missing pages). Returns the pages in the
    order of their numbers (as given when they carry none)."""
    numbers, unreadable = page_numbers(pages, day)
    if unreadable:
        raise RefusedDay(
            f"{day} refused: {folder}: list page names cannot be numbered: {unreadable}; a lost page could not be"
            f" seen. Rename the pages 1.json, 2.json … (or remove what is not a page). Nothing was written;"
            f" {let_through(day)}")
    by_number = {}
    for name, number in numbers.items():
        by_number.setdefault(number, []).append(name)
    twice = [names for names in by_number.values() if len(names) > 1]
    if twice:
        raise RefusedDay(
            f"{day} refused: {folder}: list pages {' and '.join(twice[0])} have the same page number"
            f"{f' (and {len(twice) - 1:,} more numbers are used twice)' if len(twice) > 1 else ''}; remove the copy"
            f" that is not the day's page. Nothing was written; {let_through(day)}")
    missing = missing_page_numbers(numbers.values())
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (f" and {len(missing) - 10:,} more" if len(missing) > 10 else "")
        raise RefusedDay(
            f"{day} refused: {folder}: list page {shown} missing ({len(pages):,} pages present, the last "
            f"{pages[-1]}); a lost page would wrongly deactivate its agents. Nothing was written; {let_through(day)}")
    return sorted(pages, key=numbers.get) if numbers else list(pages)


class PageFacts(NamedTuple):
    """What validating a day's list pages found, page by page (by file name)."""

    records: dict  # page → its number of records
    agents: dict  # page → a fingerprint of the agent ids it names (None: none)
    unidentified: list  # (source_file, index) of each list record whose id cannot be read


def check_page_contents(day: str, folder: Path, page_order: list[str], pages: PageFacts) -> None:
    """Refuse a day whose list pages look like a broken export although every page is there: a record whose
    agent id cannot be read (it may be a known agent, whose absence would read as a deactivation), a page
    naming exactly the agents of another page (a page written twice, in place of the one lost), or an empty
    page followed by pages with records (a page whose records were lost)."""
    if pages.unidentified:
        shown = ", ".join(f"{source} [{index}]" for source, index in pages.unidentified[:5])
        more = f" and {len(pages.unidentified) - 5:,} more" if len(pages.unidentified) > 5 else ""
        raise RefusedDay(
            f"{day} refused: the agent id of list record {shown}{more} cannot be read; it may be a known agent, which"
            f" would wrongly look deactivated. Fix or re-export the page. Nothing was written; {let_through(day)}")
    first_seen = {}
    for page in page_order:
        fingerprint = pages.agents.get(page)
        if fingerprint is not None and fingerprint in first_seen:
            raise RefusedDay(
                f"{day} refused: {folder}: list page {page} names the same agents as {first_seen[fingerprint]}: a"
                f" page written twice stands, perhaps, in place of a lost one, whose agents would wrongly look"
                f" deactivated. Re-export the day. Nothing was written; {let_through(day)}")
        first_seen.setdefault(fingerprint, page)
    empty, later_records = [], 0
    for page in reversed(page_order):
        if pages.records.get(page, 0) == 0 and later_records:
            empty.insert(0, page)
        later_records += pages.records.get(page, 0)
    if empty:
        raise RefusedDay(
            f"{day} refused: {folder}: list page {_names(empty)} holds no record while later pages do: its agents"
            f" would wrongly look deactivated. Re-export the day. Nothing was written; {let_through(day)}")


@dataclass(frozen=True)
class DayAgainstPrevious:
    """What LoadStaging knows about the day, against the latest earlier loaded day."""

    list_records: int | None  # records in the day's list pages (None: not counted by this version)
    previous_day: datetime.date | None  # the latest earlier day in agent_status_history
    previously_active: int  # agents active on previous_day
    deactivating: int  # of those, agents the day's staging rows make inactive


def refusal(day: datetime.date, facts: DayAgainstPrevious, max_share: float) -> str | None:
    """Why the day must be refused, or None when it may load."""
    if facts.previous_day is None or facts.previously_active == 0:
        return None
    before = f"the {facts.previously_active:,} agents active on {facts.previous_day}"
    if facts.list_records == 0:
        return (f"{day} refused: its list pages hold no record, so all of {before} would become inactive. "
                f"Nothing was written; {let_through(day.isoformat())}")
    if facts.deactivating >= MIN_DEACTIVATIONS and facts.deactivating > max_share * facts.previously_active:
        share = facts.deactivating / facts.previously_active
        return (f"{day} refused: {facts.deactivating:,} of {before} would become inactive ({share:.1%}, more "
                f"than max_deactivation_share {max_share:g}). Nothing was written; {let_through(day.isoformat())}"
                f", or raise PIPELINE_MAX_DEACTIVATION_SHARE (1 turns this check off)")
    return None
