-- agent_field_taken(...): field by field, whether a day's value replaces the one stored in agents
-- (sql/010_upsert_agents.sql), where a field's value comes from the latest sync date that carried it.
-- It does when the day carried the field and the field's date after the merge (in the new
-- field_sync_dates, or else the new sync_date) is the day.
create or replace function agent_field_taken(
    field text, absent_fields text[], day date, field_sync_dates jsonb, sync_date date
)
returns boolean
language sql stable
as $$
    select field <> all(absent_fields)
        and coalesce((field_sync_dates ->> field)::date, sync_date) = day
$$;
