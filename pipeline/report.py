"""The day report: a self-contained HTML page (inline CSS and SVG, no network) about one loaded day."""
import html
import re
from collections import Counter

from pipeline.database import run_sql_file
from pipeline.raw import PARSE_ERROR
from pipeline.tables import RUN_COUNTS

LISTED_CHANGES = 200  # agents listed per change kind; the page says how many more there are


def _rows(cursor, file_name: str, sync_date) -> list[dict]:
    return run_sql_file(cursor, file_name, {"sync_date": sync_date})


def reason_group(error_type: str, reason: str) -> str:
    """A violation without the offending value, so that alike reasons group together:
    ``$.contact.email: 'x' is not a 'email'`` → ``$.contact.email: … is not a 'email'``."""
    if error_type == PARSE_ERROR:
        return "file is not valid JSON"
    path, _, message = reason.partition(": ")
    if message.endswith("is a required property"):
        return reason
    value_then_rule = re.match(r".*? (is not|is less than|is greater than|should be|does not|is too|is a) ", message)
    return f"{path}: … {message[value_then_rule.start(1):]}" if value_then_rule else reason


def gather_report(cursor, sync_date) -> dict:
    """Everything the page shows, read with ``cursor``."""
    latest = {}
    for run in _rows(cursor, "051_report_day_counts.sql", sync_date):
        latest.update({key: run[key] for key in RUN_COUNTS if run[key] is not None})
    counts = {key: latest[key] for key in RUN_COUNTS if key in latest}  # in the order the graph counts them
    changes = _rows(cursor, "052_report_status_changes.sql", sync_date)
    errors = Counter(reason_group(row["error_type"], row["reason"])
                     for row in _rows(cursor, "053_report_day_errors.sql", sync_date))
    return {
        "sync_date": sync_date,
        "daily": _rows(cursor, "050_report_daily_status.sql", sync_date),
        "counts": counts,
        "deactivated": [row for row in changes if not row["is_active"]],
        "reactivated": [row for row in changes if row["is_active"]],
        "errors": errors.most_common(),
    }


def status_chart(daily: list[dict], width: int = 720, height: int = 240) -> str:
    """An inline SVG line chart of active and inactive agents per day."""
    if not daily:
        return "<p>No loaded days yet.</p>"
    left, right, top, bottom = 60, 20, 20, 40
    top_value = max(max(d["agents_active"] or 0, d["agents_deactivated"] or 0) for d in daily) or 1
    step = (width - left - right) / max(len(daily) - 1, 1)

    def point(index, value):
        return f"{left + index * step:.1f},{top + (height - top - bottom) * (1 - (value or 0) / top_value):.1f}"

    lines = []
    for key, colour, label in (("agents_active", "#1b7f3b", "active"), ("agents_deactivated", "#b3261e", "inactive")):
        points = " ".join(point(i, day[key]) for i, day in enumerate(daily))
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        lines += [f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3" fill="{colour}">'
                  f'<title>{daily[i]["sync_date"]}: {daily[i][key]:,} {label}</title></circle>'
                  for i, p in enumerate(points.split())]
    axis_y = height - bottom
    labels = [
        f'<text x="{left - 8}" y="{top + 4}" text-anchor="end">{top_value:,}</text>',
        f'<text x="{left - 8}" y="{axis_y + 4}" text-anchor="end">0</text>',
        f'<text x="{left}" y="{axis_y + 20}">{daily[0]["sync_date"]}</text>',
        f'<text x="{width - right}" y="{axis_y + 20}" text-anchor="end">{daily[-1]["sync_date"]}</text>',
        f'<text x="{width - right}" y="{top + 4}" text-anchor="end" style="fill:#1b7f3b">— active</text>',
        f'<text x="{width - right}" y="{top + 20}" text-anchor="end" style="fill:#b3261e">— inactive</text>',
    ]
    return (f'<svg role="img" aria-label="Active and inactive agents per day" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}">'
            f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#999"/>'
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}" stroke="#999"/>'
            + "".join(lines + labels) + "</svg>")


def _agent_list(title: str, agents: list[dict]) -> str:
    items = "".join(f"<li><code>{a['agent_id']}</code> {html.escape(a['name'] or '')} "
                    f"<span class=muted>{html.escape(a['email'] or '')}</span></li>"
                    for a in agents[:LISTED_CHANGES])
    more = f"<p class=muted>… and {len(agents) - LISTED_CHANGES:,} more</p>" if len(agents) > LISTED_CHANGES else ""
    body = f"<ul>{items}</ul>{more}" if agents else "<p class=muted>None.</p>"
    return f"<section><h2>{html.escape(title)} ({len(agents):,})</h2>{body}</section>"


STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1d1d1f; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; } td, th { padding: .25rem .8rem; border-bottom: 1px solid #e3e3e3; }
th { text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #6e6e73; } svg text { font-size: 12px; fill: #444; } code { font-size: .9em; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0 2rem; }
"""


def render_report(data: dict) -> str:
    """The HTML page; pure: ``data`` is what :func:`gather_report` returns."""
    day = html.escape(str(data["sync_date"]))
    counts = "".join(f"<tr><th>{html.escape(key.replace('_', ' '))}</th><td class=n>{value:,}</td></tr>"
                     for key, value in data["counts"].items())
    errors = "".join(f"<tr><td><code>{html.escape(reason)}</code></td><td class=n>{count:,}</td></tr>"
                     for reason, count in data["errors"])
    error_table = (f"<table><tr><th>reason</th><th>records</th></tr>{errors}</table>" if errors
                   else "<p class=muted>No validation errors.</p>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Agents on {day}</title><style>{STYLE}</style></head>
<body>
<h1>Agents on {day}</h1>
<p class=muted>Freshdesk agents pipeline: status of every agent synced on {day}.</p>
<section><h2>Active and inactive agents per loaded day</h2>{status_chart(data["daily"])}</section>
<section><h2>This day's counts</h2><table>{counts}</table></section>
<div class=grid>{_agent_list("Deactivated this day", data["deactivated"])}
{_agent_list("Reactivated this day", data["reactivated"])}</div>
<section><h2>Validation errors by reason</h2>{error_table}</section>
</body></html>
"""
