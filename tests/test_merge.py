"""The rules that hold on real exports, on real PostgreSQL and Spark: field-level merge within a day,
absent is not null across days, warnings for fields the pipeline does not load, counts that mean what
they say, and the same ``agents`` whatever order the days load in."""
import copy
import datetime
import json

import pytest
from test_pipeline import run_days, tables

from conftest import FIXTURES, query, without

D1, D2, D3 = (datetime.date(2024, 3, day) for day in (1, 2, 3))
A, B, C, D, E = range(11200000001, 11200000006)  # five of the fixture's agents


def fixture_records(folder: str) -> dict:
    """The fixture's 2024-01-01 records of ``folder``, by agent id."""
    records = {}
    for path in sorted((FIXTURES / "2024-01-01" / folder).glob("*.json")):
        document = json.loads(path.read_text())
        records.update({r["id"]: r for r in (document if isinstance(document, list) else [document])})
    return records


LISTED, DETAILS = fixture_records("agents"), fixture_records("agent_details")


def changed(record: dict, **fields) -> dict:
    """A copy with ``fields`` set; ``contact__name=...`` sets a contact field."""
    record = copy.deepcopy(record)
    for name, value in fields.items():
        owner, key = (record["contact"], name[len("contact__"):]) if name.startswith("contact__") else (record, name)
        owner[key] = value
    return record


def write_day(raw, day, listed: list[dict], details: list[dict]) -> None:
    folder = raw / day.isoformat()
    (folder / "agents").mkdir(parents=True)
    (folder / "agent_details").mkdir()
    (folder / "agents" / "1.json").write_text(json.dumps(listed))
    for record in details:
        (folder / "agent_details" / f"{record['id']}.json").write_text(json.dumps(record))


def exports_like_the_real_ones(raw) -> None:
    """Three days shaped like real exports: list records carry no ``focus_mode``, details records no
    ``language`` or ``time_zone``.

    Day 1: A's list record wins (later updated_at), B's details record wins. All five listed.
    Day 2: C and E drop off the list (details only, language and time_zone absent); D's job title is an
    explicit null; A's list record and B's and E's details records break the schema in fields the
    pipeline does not load. Day 3: byte for byte day 2."""
    def listed(agent_id, **fields):
        return without(changed(LISTED[agent_id], **fields), "focus_mode")

    def details(agent_id, **fields):
        return without(changed(DETAILS[agent_id], **fields), "contact.language", "contact.time_zone")

    later, earlier = "2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"
    day1_list = [listed(A, updated_at=later, contact__time_zone="Europe/Lisbon"),
                 listed(B, updated_at=earlier, contact__language="de"),
                 listed(C, deactivated=False, contact__language="fr", contact__time_zone="Europe/Paris"),
                 listed(D, contact__job_title="Lead"), listed(E)]
    day1_details = [details(A, updated_at=earlier, focus_mode=False, contact__name="A from details"),
                    details(B, updated_at=later, focus_mode=True, contact__name="B from details"),
                    details(C, deactivated=False), details(D, contact__job_title="Lead"), details(E)]
    write_day(raw, D1, day1_list, day1_details)
    day2_list = [listed(A, updated_at=later, contact__time_zone="Europe/Lisbon", ticket_scope="1"),
                 listed(B, updated_at=earlier, contact__language="de"),
                 listed(D, contact__job_title=None)]
    day2_details = [details(A, updated_at=earlier, focus_mode=False, contact__name="A from details"),
                    details(B, updated_at=later, focus_mode=True, contact__name="B from details", role_ids="3"),
                    details(C, deactivated=False), details(D, contact__job_title=None),
                    changed(details(E), contact__active="yes")]
    write_day(raw, D2, day2_list, day2_details)
    write_day(raw, D3, day2_list, day2_details)


@pytest.fixture(scope="module")
def real_exports(tmp_path_factory):
    """The raw root of three days exported like the real ones (written once; the tests only read it)."""
    raw = tmp_path_factory.mktemp("real-exports") / "raw"
    exports_like_the_real_ones(raw)
    return raw


def agent(dsn, agent_id, table="agents", day=None):
    columns = "name, language, time_zone, focus_mode, job_title, status"
    if table == "agents":
        [row] = query(dsn, f"select {columns}, field_sync_dates from agents where agent_id = %s", (agent_id,))
    else:
        [row] = query(dsn, f"select {columns}, absent_fields from stg_agents where agent_id = %s and sync_date = %s",
                      (agent_id, day))
    return row


def upsert_counts(dsn, day):
    return query(dsn, "select rows_inserted, rows_updated, rows_unchanged from agent_pipeline_runs"
                      " where task = 'UpsertAgents' and sync_date = %s", (day,))[0]


def test_each_field_comes_from_the_best_record_that_carries_it(real_exports, loaded_days):
    dsn = loaded_days(real_exports, D1)["dsn"]
    # A: the list record wins, its missing focus_mode comes from the details record (and language, too)
    a_tz = "Europe/Lisbon"
    assert agent(dsn, A, "stg_agents", D1) == (LISTED[A]["contact"]["name"], "en", a_tz, False,
                                               LISTED[A]["contact"]["job_title"], "active", [])
    # B: the details record wins; language and time_zone, which it lacks, come from the list record
    assert agent(dsn, B, "stg_agents", D1)[:4] == ("B from details", "de", LISTED[B]["contact"]["time_zone"], True)
    assert query(dsn, "select count(*) from stg_agents where absent_fields <> '{}'") == [(0,)]


def test_an_agent_off_the_list_keeps_what_its_details_do_not_say(real_exports, loaded_days):
    dsn = loaded_days(real_exports, D1, D2)["dsn"]
    # C: only its details record is left; language and time_zone are absent, not null
    staged = agent(dsn, C, "stg_agents", D2)
    assert staged[1:3] == (None, None) and staged[5:] == ("inactive", ["language", "time_zone"])
    assert agent(dsn, C) == (DETAILS[C]["contact"]["name"], "fr", "Europe/Paris", DETAILS[C]["focus_mode"],
                             DETAILS[C]["contact"]["job_title"], "inactive",
                             {"language": "2024-03-01", "time_zone": "2024-03-01"})
    # D: an explicit null is a value, and replaces the stored one
    assert agent(dsn, D)[4] is None and agent(dsn, D)[6] == {}


def test_warnings_load_the_record_and_are_recorded(real_exports, loaded_days):
    dsn = loaded_days(real_exports, D1, D2)["dsn"]
    rows = query(dsn, "select agent_id, source_file, error_type, error_message, raw_record ->> 'id'"
                      " from agent_pipeline_errors where sync_date = %s order by agent_id", (D2,))
    assert rows == [
        (A, "2024-03-02/agents/1.json", "VALIDATION_WARNING", '$.ticket_scope: "1" is not of type "null", "integer"',
         str(A)),
        (B, f"2024-03-02/agent_details/{B}.json", "VALIDATION_WARNING",
         '$.role_ids: "3" is not of type "null", "array"', str(B)),
        (E, f"2024-03-02/agent_details/{E}.json", "VALIDATION_WARNING",
         '$.contact.active: "yes" is not of type "null", "boolean"', str(E)),
    ]
    # A (listed, with a warning) stays active; E (details only, with a warning) is recorded inactive
    assert dict(query(dsn, "select agent_id, is_active from agent_status_history where sync_date = %s", (D2,))) == {
        A: True, B: True, C: False, D: True, E: False}
    assert query(dsn, "select records_valid, records_invalid, records_warned from agent_pipeline_runs"
                      " where task = 'ValidateRaw' and sync_date = %s", (D2,)) == [(8, 0, 3)]


def test_counts_say_what_changed(real_exports, loaded_days):
    dsn = loaded_days(real_exports, D1, D2, D3)["dsn"]
    assert upsert_counts(dsn, D1) == (5, 0, 0)
    assert upsert_counts(dsn, D2) == (0, 3, 2)  # C and E deactivated, D's job title; A and B as they were
    assert upsert_counts(dsn, D3) == (0, 0, 5)  # the same records again: sync_date advances, nothing changed
    assert query(dsn, "select distinct sync_date from agents") == [(D3,)]


@pytest.mark.parametrize("order", [(D3, D1, D2), (D3, D2, D1)], ids=["shuffled", "newest first"])
def test_any_order_of_days_gives_the_same_agents(real_exports, loaded_days, new_database, monkeypatch, order):
    in_order = loaded_days(real_exports, D1, D2, D3)["dsn"]
    other = new_database()
    monkeypatch.setenv("PIPELINE_PG_DSN", other)
    run_days(*order)
    assert tables(other)["agents"] == tables(in_order)["agents"]
    assert agent(other, C)[1:3] == ("fr", "Europe/Paris")  # a late day fills what the later days lacked
