-- The dates that decide, field by field, whether a day's value replaces the one stored in agents
-- (sql/010_upsert_agents.sql). A field's value comes from the latest sync date that carried it.

-- agent_field_sync_dates(...): agents.field_sync_dates after a day is merged into a stored row: for each
-- of `fields` whose value then comes from a sync date other than the row's, that date ('-infinity': none).
-- The day's value wins a field when the day carried it and the stored value is not from a later day.
create or replace function agent_field_sync_dates(
    fields text[], absent_fields text[], day date, stored_dates jsonb, stored_sync_date date
)
returns jsonb
language sql stable
as $$
    select coalesce(jsonb_object_agg(field, field_day), '{}')
    from unnest(fields) as field
    cross join lateral (
        select coalesce((stored_dates ->> field)::date, stored_sync_date, '-infinity') as stored_day
    ) as stored
    cross join lateral (
        select case
            when field <> all(absent_fields) and stored_day <= day then day
            else stored_day
        end as field_day
    ) as decided
    where field_day is distinct from greatest(stored_sync_date, day)
$$;

-- agent_field_taken(...): whether a merged row takes `field` from the day: the day carried it and the
-- field's date after the merge (in the new field_sync_dates, or else the new sync_date) is the day.
create or replace function agent_field_taken(
    field text, absent_fields text[], day date, field_sync_dates jsonb, sync_date date
)
returns boolean
language sql stable
as $$
    select field <> all(absent_fields)
        and coalesce((field_sync_dates ->> field)::date, sync_date) = day
$$;
