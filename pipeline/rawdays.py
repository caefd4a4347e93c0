"""Raw days that are missing: noted as luigi finds them, named in one line per account when the run ends."""
import datetime
import re
from pathlib import Path

DAY_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")

_missing: dict[str, set[datetime.date]] = {}


def note_missing(day: datetime.date, account: str) -> None:
    _missing.setdefault(account, set()).add(day)


def missing_days() -> dict[str, list[datetime.date]]:
    """The missing days of each account, by account name."""
    return {account: sorted(days) for account, days in sorted(_missing.items())}


def day_spans(days) -> str:
    """``2024-01-04 … 2024-03-31, 2024-04-05``: consecutive days as one span."""
    spans = []
    for day in sorted(days):
        if spans and day - spans[-1][1] == datetime.timedelta(days=1):
            spans[-1][1] = day
        else:
            spans.append([day, day])
    return ", ".join(first.isoformat() if first == last else f"{first} … {last}" for first, last in spans)


def layout_hint(raw_root: Path) -> str:
    """What is wrong with the raw root when it holds no day folder at all; empty when it holds some."""
    if not raw_root.is_dir():
        return f"; the raw root {raw_root} does not exist (PIPELINE_RAW_ROOT or [pipeline] raw_root)"
    names = sorted(entry.name for entry in raw_root.iterdir() if entry.is_dir())
    if any(DAY_FOLDER.fullmatch(name) for name in names):
        return ""
    found = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "") if names else "no folder"
    return (f"; {raw_root} holds no day folder named YYYY-MM-DD (found: {found}): a sync day's files go in"
            f" {raw_root}/YYYY-MM-DD/agents/ and agent_details/")


def missing_message(days, raw_root: Path) -> str:
    """One line naming every missing day (and the layout problem, if the raw root has no day folder at all)."""
    days = sorted(days)
    if len(days) == 1:
        return f"Raw input missing: {raw_root / days[0].isoformat()} does not exist{layout_hint(raw_root)}"
    return (f"Raw input missing for {len(days)} days, {day_spans(days)}: no folder {raw_root}/YYYY-MM-DD;"
            f" these days were not loaded{layout_hint(raw_root)}")
