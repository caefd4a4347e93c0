"""The completeness guard: a day whose export looks partial is refused before it changes anything.

A lost list page makes its agents look deactivated, and a state table cannot tell that from a real
deactivation. So a day is refused (nothing written, no marker) when

- its numbered list pages (``1.json``, ``2.json`` … or any name carrying one number) have a gap
  (checked by ValidateRaw, from the file names);
- its list pages hold no record while the latest earlier loaded day had active agents, or more than
  ``max_deactivation_share`` of that day's active agents (and at least ``MIN_DEACTIVATIONS``) would
  become inactive (checked by LoadStaging, inside its transaction, against ``agent_status_history``).

"Earlier loaded day" is the latest day before this one in ``agent_status_history``: backfills,
out-of-order loads and re-loads compare with what is recorded, never with a day that is not.
``--accept-incomplete-days`` lets named days through for one run.
"""
import datetime
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import PipelineError

MIN_DEACTIVATIONS = 10  # fewer deactivations than this never refuse a day, whatever the share
ACCEPT_FLAG = "--accept-incomplete-days"


class RefusedDay(PipelineError):
    """The day looks incomplete; nothing of it was written. The message says how to let it through."""


def let_through(day: str) -> str:
    return (f"if the export is complete, let this day through (this run only) with: "
            f"luigi --module pipeline SnapshotHistory --sync-date {day} {ACCEPT_FLAG} {day}")


def missing_page_numbers(names: list[str]) -> list[int]:
    """The page numbers missing from numbered list pages (``1.json`` … or any name carrying one number).

    Numbering starts at 1 (at 0 when a page 0 exists). Pages that are not all numbered: none missing."""
    numbers = []
    for name in names:
        found = re.findall(r"\d+", name.removesuffix(".json"))
        if len(found) != 1:
            return []
        numbers.append(int(found[0]))
    first = 0 if 0 in numbers else 1
    return sorted(set(range(first, max(numbers, default=0) + 1)) - set(numbers))


def check_page_numbers(day: str, folder: Path, pages: list[str]) -> None:
    """Refuse a day whose numbered list pages have a gap, naming the missing pages."""
    missing = missing_page_numbers(pages)
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (f" and {len(missing) - 10:,} more" if len(missing) > 10 else "")
        raise RefusedDay(
            f"{day} refused: {folder}: list page {shown} missing ({len(pages):,} pages present, the last "
            f"{pages[-1]}); a lost page would wrongly deactivate its agents. Nothing was written; {let_through(day)}")


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
