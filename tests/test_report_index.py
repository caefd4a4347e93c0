"""The day's index of accounts (AccountsReport): a row per registered account with its day's counts and a link to
its page, the accounts not loaded that day listed as such; rendered pure, and checked against the database."""
import datetime
import json
import re

import luigi
import pytest
from luigi.execution_summary import LuigiStatusCode

from conftest import query
from pipeline import AccountsReport, AllAccounts
from pipeline.report import account_page_link, render_index

DAY1, DAY2 = datetime.date(2024, 1, 1), datetime.date(2024, 1, 2)
ACME, BETA, GAMMA = "acme", "beta", "gamma"
ROW = re.compile(r"<tr(?: class=muted)?><th scope=row>(.*?)</th>(.*?)</tr>")


def run(*tasks):
    result = luigi.build(list(tasks), local_scheduler=True, detailed_summary=True, log_level="WARNING")
    assert result.status == LuigiStatusCode.SUCCESS, result.summary_text
    return result


def index_rows(page: str) -> dict:
    """Each row of the index's table: its first cell, then its count cells (numbers), its link (or None) and whether
    it says "not loaded"."""
    rows = {}
    for name, cells in ROW.findall(page):
        counts = [int(n.replace(",", "")) for n in re.findall(r"<td class=n>([\d,]+)</td>", cells)]
        link = re.search(r'<a href="([^"]*)">', cells)
        rows[name] = (counts, link.group(1) if link else None, "not loaded" in cells)
    return rows


def counts(active, inactive, deactivated, reactivated, errors, warnings):
    return {"agents_active": active, "agents_inactive": inactive, "agents_deactivated": deactivated,
            "agents_reactivated": reactivated, "error_rows": errors, "warning_rows": warnings}


@pytest.mark.parametrize("account, link", [("default", "2024-01-02.html"), (ACME, "acme/2024-01-02.html"),
                                           ("a b", "a%20b/2024-01-02.html")])
def test_account_page_link_is_relative_to_the_index(account, link):
    assert account_page_link(account, DAY2) == link


def test_render_index_escapes_links_each_account_and_adds_up_the_loaded_ones():
    page = render_index({"sync_date": DAY2, "accounts": [
        {"account": "default", "loaded": True, **counts(4, 2, 1, 0, 3, 1)},
        {"account": 'a<b>&"c', "loaded": True, **counts(1_200, 5, 0, 2, 0, 0)},
        {"account": GAMMA, "loaded": False, **counts(0, 0, 0, 0, 7, 0)},
    ]})
    assert "<b>" not in page and 'a&lt;b&gt;&amp;&quot;c' in page
    assert "http" not in page  # self-contained: nothing to fetch
    rows = index_rows(page)
    assert rows["default"] == ([4, 2, 1, 0, 3, 1], "2024-01-02.html", False)
    assert rows['a&lt;b&gt;&amp;&quot;c'] == ([1_200, 5, 0, 2, 0, 0], "a%3Cb%3E%26%22c/2024-01-02.html", False)
    assert rows[GAMMA] == ([], None, True)  # not loaded: no counts, no link
    assert rows["total (2 of 3 accounts loaded)"] == ([1_204, 7, 1, 2, 3, 1], None, False)
    assert "<title>Accounts on 2024-01-02</title>" in page


DAY_COUNTS = """
with history as (
    select
        account,
        sync_date,
        is_active,
        lag(is_active) over (partition by account, agent_id order by sync_date) as was_active
    from agent_status_history
)
select
    account,
    count(*) filter (where is_active),
    count(*) filter (where not is_active),
    count(*) filter (where was_active and not is_active),
    count(*) filter (where not was_active and is_active)
from history
where sync_date = %s
group by account
"""
DAY_ERRORS = """
select
    account,
    count(*) filter (where error_type <> 'VALIDATION_WARNING'),
    count(*) filter (where error_type = 'VALIDATION_WARNING')
from agent_pipeline_errors
where sync_date = %s
group by account
"""


def test_the_index_of_a_day_matches_the_database_and_lists_an_account_not_loaded(two_accounts):
    dsn, output = two_accounts["pg_dsn"], two_accounts["output_root"]
    details = two_accounts["raw_root"] / ACME / DAY2.isoformat() / "agent_details"
    for agent_id, field, value in ((11200000002, "role_ids", "x"), (11200000003, "available", "yes")):
        record = json.loads((details / f"{agent_id}.json").read_text(encoding="utf-8"))
        record[field] = value  # a warning (a field not loaded), then a rejected record: acme's day has both
        (details / f"{agent_id}.json").write_text(json.dumps(record), encoding="utf-8")
    run(AllAccounts(sync_date=DAY1), AllAccounts(sync_date=DAY2))
    with two_accounts["accounts_file"].open("a", encoding="utf-8") as registry:  # registered, no raw folder
        registry.write(f"\n[accounts.{GAMMA}]\n")

    run(AccountsReport(sync_date=DAY2))

    index = output / "reports" / "2024-01-02-accounts.html"
    assert index.is_file()
    for account in (ACME, BETA):  # the pages it links to, written by the StatusReport tasks it requires
        assert (output / "reports" / account / "2024-01-02.html").is_file()
    assert not (output / "reports" / GAMMA).exists()
    rows = index_rows(index.read_text(encoding="utf-8"))
    errors = {account: [error_rows, warning_rows] for account, error_rows, warning_rows in query(dsn, DAY_ERRORS,
                                                                                               (DAY2,))}
    expected = {account: list(day) + errors.get(account, [0, 0]) for account, *day in query(dsn, DAY_COUNTS, (DAY2,))}
    assert set(expected) == {ACME, BETA} and expected[ACME] != expected[BETA]
    assert expected[ACME][0] > 0 and expected[ACME][4] > 0 and expected[ACME][5] > 0
    assert rows[ACME] == (expected[ACME], "acme/2024-01-02.html", False)
    assert rows[BETA] == (expected[BETA], "beta/2024-01-02.html", False)
    assert rows[GAMMA] == ([], None, True)
    total = [a + b for a, b in zip(expected[ACME], expected[BETA], strict=True)]
    assert rows["total (2 of 3 accounts loaded)"] == (total, None, False)
    linked = index.parent / rows[ACME][1]
    assert linked.resolve() == (output / "reports" / ACME / "2024-01-02.html").resolve() and linked.is_file()
    assert AccountsReport(sync_date=DAY2).complete()
