"""A refused day that ExtractAgents fetched is set aside, so that the next run fetches it anew.

ExtractAgents' output is the raw day folder: while it exists, the day is never fetched again. A day fetched from
an API that answered something incomplete (an empty list, pages that do not match the manifest) would then stay
refused run after run, and letting it through would deactivate everyone. So when today's fetched day (it has
``_manifest.json``) is refused, under the day's file lock:

- its raw folder is moved to ``<raw_root>/<day>.refused-<HHMMSS>``, kept for inspection (the name is not a
  ``YYYY-MM-DD`` day, so nothing reads it);
- its file targets under the output root (``validated/<day>``, ``transformed/<day>``) are removed, as Reprocess
  removes them;

and the refusal says where the files went: the same command, run again today, fetches the day anew. A day laid
out by hand (no manifest), or an earlier day (only today can be fetched), is refused as before.
"""
import datetime
import shutil
from contextlib import nullcontext
from pathlib import Path

from pipeline.completeness import ACCEPT_FLAG, RefusedDay
from pipeline.locks import day_file_lock, remove_leftover_temporary_folders
from pipeline.manifest import MANIFEST
from pipeline.names import DEFAULT_ACCOUNT

FILE_STAGES = ("validated", "transformed")  # the day's file targets made from its raw folder
NOTHING_WRITTEN = "Nothing was written; "  # where a refusal's way out begins: replaced, as it no longer applies


def remove_file_target(path: Path) -> None:
    """Remove a day's file target (a folder or a file) and the temporary folders an interrupted run left beside
    it. Call it only while holding the day's file lock."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    remove_leftover_temporary_folders(path)


def aside_path(day_dir: Path, clock=datetime.datetime.now) -> Path:
    """Where a refused day's raw folder goes: ``<day>.refused-<HHMMSS>`` beside it (``-2``, ``-3`` … when taken)."""
    name = f"{day_dir.name}.refused-{clock():%H%M%S}"
    path, number = day_dir.with_name(name), 1
    while path.exists() or path.is_symlink():
        number += 1
        path = day_dir.with_name(f"{name}-{number}")
    return path


def set_aside_refused_day(refused: RefusedDay, settings, sync_date: datetime.date, holder: str,
                          locked: bool = False, account: str = DEFAULT_ACCOUNT) -> RefusedDay:
    """The error to raise for ``refused``: for today's day fetched by ExtractAgents, its raw folder moved aside and
    its file targets removed (under the day's file lock, unless the caller holds it: ``locked``), and a message
    that says so; any other day's refusal as it is."""
    if account != DEFAULT_ACCOUNT:  # the command that lets the day through names the account
        refused = RefusedDay(str(refused).replace("SnapshotHistory --sync-date",
                                                  f"SnapshotHistory --account {account} --sync-date"))
    day_dir = settings.raw_day(sync_date, account)
    if sync_date != datetime.date.today() or not (day_dir / MANIFEST).is_file():
        return refused
    with nullcontext() if locked else day_file_lock(settings.output_root, sync_date, holder, account):
        aside = aside_path(day_dir)
        try:
            day_dir.rename(aside)
            for stage in FILE_STAGES:
                remove_file_target(settings.output_dir(stage, sync_date, account))
        except OSError as error:
            return RefusedDay(f"{refused} (its fetched files could not be moved aside: {error}; move {day_dir}"
                              " away and run the same command again to fetch the day anew)")
    head, found, _ = str(refused).partition(NOTHING_WRITTEN)
    day = sync_date.isoformat()
    return RefusedDay(
        f"{head + 'Nothing was written. ' if found else f'{refused} '}The fetched files were moved to {aside}: running"
        f" the same command again today fetches the day anew. Only if the API's answer really is complete, move"
        f" them back to {day_dir} and let the day through with: luigi --module pipeline SnapshotHistory"
        f"{'' if account == DEFAULT_ACCOUNT else f' --account {account}'} --sync-date {day} {ACCEPT_FLAG} {day}")


def validate_or_set_aside(settings, sync_date: datetime.date, account: str, holder: str, raw_dir: Path, out_dir: Path,
                          **options) -> dict:
    """Validate an account's raw day into ``out_dir`` (pipeline.raw.validate_day with ``options``, among them
    ``accept_incomplete``), under the day's file lock; a refused day that was fetched today is set aside, to be
    fetched anew."""
    from pipeline.raw import validate_day

    try:
        return validate_day(raw_dir, out_dir, **options)
    except RefusedDay as refused:
        raise set_aside_refused_day(refused, settings, sync_date, holder, locked=True, account=account) from None
