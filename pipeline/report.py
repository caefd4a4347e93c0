"""The day reports: self-contained HTML pages (inline CSS and SVG, no network) about one account's loaded day, and
the day's index of every account, linking to their pages."""
import html
import re
from pathlib import PurePosixPath
from urllib.parse import quote

from pipeline.config import account_folder
from pipeline.database import run_sql_file
from pipeline.manifest import FETCH_ERROR
from pipeline.metrics import COUNT_LABELS
from pipeline.names import DEFAULT_ACCOUNT
from pipeline.raw import PARSE_ERROR
from pipeline.tables import RUN_COUNTS

LISTED_CHANGES = 200  # agents listed per change kind; the page says how many more there are


def _rows(cursor, file_name: str, sync_date, account: str) -> list[dict]:
    return run_sql_file(cursor, file_name, {"sync_date": sync_date, "account": account, "accounts": [account]})


RULE = re.compile(r"(?P<value>.*) (?P<rule>(?:is not of type|is not a|is not one of|is not|is less than|is greater than"
                  r"|should be|does not|is too) .*)")


def reason_group(error_type: str, reason: str) -> str:
    """A violation without the offending value, so that alike reasons group together:
    ``$.contact.email: "x" is not a "email"`` → ``$.contact.email: … is not a "email"``. The value comes
    first and the schema's words last, so the last rule phrase is the rule's."""
    if error_type == PARSE_ERROR:
        return "file is not valid JSON"
    if error_type == FETCH_ERROR:  # "GET <url>: <what it answered>; no record …": the answer, without the agent
        return "details call: " + re.sub(r"^GET \S+: ", "", reason).split(";")[0]
    path, _, message = reason.partition(": ")
    duplicate = re.match(r'(duplicate key ".*?") \(values ', message)
    if duplicate:
        return f"{path}: {duplicate.group(1)}"
    value_then_rule = RULE.fullmatch(message)
    return f"{path}: … {value_then_rule.group('rule')}" if value_then_rule else reason


def error_source(row: dict) -> str:
    """Where an error row came from: the agent when its id could be read, else the file (and record)."""
    if row["agent_id"] is not None:
        return str(row["agent_id"])
    return row["source_file"] + ("" if row["record_index"] is None else f" [{row['record_index']}]")


def grouped_reasons(rows: list[dict]) -> list[tuple[str, list[str]]]:
    """Each reason group with the agents or files it came from, the most frequent first."""
    sources = {}
    for row in rows:
        found = sources.setdefault(reason_group(row["error_type"], row["reason"]), [])
        source = error_source(row)
        if source not in found:
            found.append(source)
    return sorted(sources.items(), key=lambda item: (-len(item[1]), item[0]))


WARNING = "VALIDATION_WARNING"


DAY_STATUS_COUNTS = ("agents_active", "agents_inactive", "agents_reactivated")


def gather_report(cursor, sync_date, account: str = DEFAULT_ACCOUNT) -> dict:
    """Everything an account's page shows, read with ``cursor``. The day's status counts and the lists of agents whose
    status changed both come from ``agent_status_history`` as it is now (days loaded out of order change what
    a day's "previous recorded day" is); the other counts from the day's latest run of each task."""
    latest = {}
    for run in _rows(cursor, "051_report_day_counts.sql", sync_date, account):
        latest.update({key: run[key] for key in RUN_COUNTS if run[key] is not None})
    latest.update(_rows(cursor, "021_day_status_counts.sql", sync_date, account)[0])
    latest.pop("account")
    counts = {key: latest[key] for key in RUN_COUNTS if key in latest}  # in the order the graph counts them
    changes = _rows(cursor, "052_report_status_changes.sql", sync_date, account)
    errors = _rows(cursor, "053_report_day_errors.sql", sync_date, account)
    warnings = [row for row in errors if row["error_type"] == WARNING]
    return {
        "sync_date": sync_date,
        "account": account,
        "daily": _rows(cursor, "050_report_daily_status.sql", sync_date, account),
        "counts": counts,
        "deactivated": [row for row in changes if not row["is_active"]],
        "reactivated": [row for row in changes if row["is_active"]],
        "unseen": _rows(cursor, "054_report_unseen_agents.sql", sync_date, account),
        "errors": grouped_reasons([row for row in errors if row["error_type"] != WARNING]),
        "warnings": grouped_reasons([row for row in warnings if row["agent_recorded"]]),
        "warnings_not_loaded": grouped_reasons([row for row in warnings if not row["agent_recorded"]]),
    }


def nice_step(top: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) that divides ``[0, top]`` into about ``ticks`` parts."""
    rough = max(top / ticks, 1)
    power = 10 ** (len(str(int(rough))) - 1)
    return next(factor * power for factor in (1, 2, 5, 10) if factor * power >= rough)


def status_chart(daily: list[dict], width: int = 720, height: int = 260) -> str:
    """An inline SVG line chart of the agents active and inactive on each loaded day, with a count axis
    (round steps, grid lines) and a date axis (at most ``7`` dates, first and last included)."""
    if not daily:
        return "<p>No loaded days yet.</p>"
    left, right, top, bottom = 70, 20, 30, 50
    highest = max(max(d["agents_active"] or 0, d["agents_inactive"] or 0) for d in daily)
    step_value = nice_step(highest)
    top_value = max(step_value * -(-highest // step_value), step_value)
    step = (width - left - right) / max(len(daily) - 1, 1)
    axis_y = height - bottom

    def x(index):
        return left + index * step

    def y(value):
        return top + (axis_y - top) * (1 - (value or 0) / top_value)

    parts = [f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#999"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}" stroke="#999"/>']
    for value in range(0, top_value + 1, step_value):
        parts += [f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - right}" y2="{y(value):.1f}" stroke="#eee"/>',
                  f'<text x="{left - 8}" y="{y(value) + 4:.1f}" text-anchor="end">{value:,}</text>']
    shown = sorted({round(i * (len(daily) - 1) / 6) for i in range(7)}) if len(daily) > 7 else range(len(daily))
    for index in shown:
        anchor = "start" if len(daily) > 1 and index == 0 else "end" if index == len(daily) - 1 else "middle"
        parts.append(f'<text x="{x(index):.1f}" y="{axis_y + 18}" text-anchor="{anchor}">'
                     f'{daily[index]["sync_date"].isoformat()}</text>')
    middle_x, middle_y = left + (width - left - right) / 2, top + (axis_y - top) / 2
    parts += [f'<text x="{middle_x:.0f}" y="{height - 8}" text-anchor="middle">sync date</text>',
              f'<text x="14" y="{middle_y:.0f}" text-anchor="middle" '
              f'transform="rotate(-90 14 {middle_y:.0f})">agents</text>']
    for n, (key, colour, label) in enumerate((("agents_active", "#1b7f3b", "active"),
                                              ("agents_inactive", "#b3261e", "inactive"))):
        points = [(x(i), y(day[key])) for i, day in enumerate(daily)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}"/>')
        parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}">'
                  f'<title>{daily[i]["sync_date"]}: {daily[i][key] or 0:,} {label}</title></circle>'
                  for i, (px, py) in enumerate(points)]
        parts.append(f'<text x="{width - right}" y="{14 + 14 * n}" text-anchor="end" style="fill:{colour}">'
                     f'— {label} on the day</text>')
    return (f'<svg role="img" aria-label="Agents active and inactive on each loaded day" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">' + "".join(parts) + "</svg>")


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


SHOWN_SOURCES = 10  # agents or files listed per reason


def _reason_table(groups: list[tuple[str, list[str]]], what: str, none: str) -> str:
    if not groups:
        return f"<p class=muted>{none}</p>"
    rows = []
    for reason, sources in groups:
        listed = ", ".join(f"<code>{html.escape(source)}</code>" for source in sources[:SHOWN_SOURCES])
        more = f" … and {len(sources) - SHOWN_SOURCES:,} more" if len(sources) > SHOWN_SOURCES else ""
        rows.append(f"<tr><td><code>{html.escape(reason)}</code></td><td class=n>{len(sources):,}</td>"
                    f"<td>{listed}{more}</td></tr>")
    return f"<table><tr><th>reason</th><th>{what}</th><th>from</th></tr>{''.join(rows)}</table>"


def render_report(data: dict) -> str:
    """The HTML page; pure: ``data`` is what :func:`gather_report` returns."""
    day = html.escape(str(data["sync_date"]))
    of_account = "" if data["account"] == DEFAULT_ACCOUNT else f" of {html.escape(data['account'])}"
    counts = {}
    for key, value in data["counts"].items():
        counts[key] = value
        if key == "agents_inactive":  # next to it: from the comparison with each agent's previous day
            counts["deactivated_this_day"] = len(data["deactivated"])
    labels = COUNT_LABELS | {"deactivated_this_day": "deactivated this day (active on the previous recorded day)"}
    count_rows = "".join(f"<tr><th>{html.escape(labels.get(key, key))}</th><td class=n>{value:,}</td></tr>"
                         for key, value in counts.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Agents{of_account} on {day}</title><style>{STYLE}</style></head>
<body>
<h1>Agents{of_account} on {day}</h1>
<p class=muted>Freshdesk agents pipeline: status of every agent synced on {day}.</p>
<section><h2>Agents active and inactive on each loaded day</h2>{status_chart(data["daily"])}</section>
<section><h2>This day's counts</h2><table>{count_rows}</table></section>
<div class=grid>{_agent_list("Deactivated this day", data["deactivated"])}
{_agent_list("Reactivated this day", data["reactivated"])}</div>
<p class=muted>Deactivated and reactivated: the status changed since the agent's previous recorded day, as
recorded now (the counts above are taken the same way). "Inactive on this day" counts every inactive agent,
also those inactive before.</p>
{_agent_list("Not seen this day", data["unseen"])}
<p class=muted>Known agents that no record of the day named (not in the list pages, no details record): recorded
inactive, with the values last seen.</p>
<section><h2>Rejected records and files by reason</h2>
{_reason_table(data["errors"], "records", "No rejected records or files.")}</section>
<section><h2>Warnings by reason (the records loaded)</h2>
<p class=muted>Fields the pipeline does not load break the schema; the loaded fields are valid.</p>
{_reason_table(data["warnings"], "records", "No warnings.")}</section>
<section><h2>Warnings on records not loaded (their agent is quarantined)</h2>
<p class=muted>Valid records of an agent with an invalid list record that day: the agent is not recorded.</p>
{_reason_table(data["warnings_not_loaded"], "records", "None.")}</section>
</body></html>
"""


# The day's index of accounts: output/reports/<day>-accounts.html.

INDEX_COUNTS = (("agents_active", "active"), ("agents_inactive", "inactive"),
                ("agents_deactivated", "deactivated this day"), ("agents_reactivated", "reactivated this day"),
                ("error_rows", "error rows"), ("warning_rows", "warning rows"))
INDEX_STYLE = "tfoot th, tfoot td { font-weight: 600; border-top: 2px solid #c7c7cc; }"


def gather_index(cursor, sync_date, accounts) -> dict:
    """Everything the day's index shows, read with ``cursor``: a row per account of ``accounts``, in their order,
    with its day's counts and whether its day is loaded (sql/055_report_accounts_index.sql)."""
    rows = run_sql_file(cursor, "055_report_accounts_index.sql", {"sync_date": sync_date, "accounts": list(accounts)})
    return {"sync_date": sync_date, "accounts": rows}


def account_page_link(account: str, sync_date) -> str:
    """The relative link from the day's index (``reports/<day>-accounts.html``) to an account's page of the day:
    ``<day>.html`` for the default account, ``<account>/<day>.html`` for the others (the layout of
    :func:`pipeline.config.account_folder`), URL-quoted."""
    return quote((account_folder(PurePosixPath(), account) / f"{sync_date.isoformat()}.html").as_posix())


def render_index(data: dict) -> str:
    """The day's index page; pure: ``data`` is what :func:`gather_index` returns. An account whose day is not loaded
    is listed as such, without a link; the total adds up the loaded accounts."""
    day = html.escape(str(data["sync_date"]))
    accounts = data["accounts"]
    loaded = [row for row in accounts if row["loaded"]]
    header = "".join(f"<th>{html.escape(label)}</th>" for _, label in INDEX_COUNTS)
    rows = []
    for row in accounts:
        name = f"<th scope=row>{html.escape(row['account'])}</th>"
        if row["loaded"]:
            cells = "".join(f"<td class=n>{row[key]:,}</td>" for key, _ in INDEX_COUNTS)
            link = html.escape(account_page_link(row["account"], data["sync_date"]))
            rows.append(f'<tr>{name}{cells}<td><a href="{link}">report</a></td></tr>')
        else:
            rows.append(f"<tr class=muted>{name}<td colspan={len(INDEX_COUNTS)}>not loaded</td><td></td></tr>")
    totals = "".join(f"<td class=n>{sum(row[key] for row in loaded):,}</td>" for key, _ in INDEX_COUNTS)
    total = (f"<tr><th scope=row>total ({len(loaded):,} of {len(accounts):,} accounts loaded)</th>{totals}"
             f"<td></td></tr>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Accounts on {day}</title><style>{STYLE}{INDEX_STYLE}</style></head>
<body>
<h1>Accounts on {day}</h1>
<p class=muted>Freshdesk agents pipeline: every registered account's agents synced on {day}, each linking to its
page.</p>
<table><thead><tr><th>account</th>{header}<th>page</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
<tfoot>{total}</tfoot></table>
<p class=muted>Active and inactive: the agents recorded on the day. Deactivated and reactivated: the status changed
since the agent's previous recorded day, as recorded now. Error rows: rejected records, unreadable or unread files
and failed details calls; warning rows: records loaded although fields the pipeline does not load break the schema.
An account is not loaded when no agent of it is recorded on the day.</p>
</body></html>
"""
