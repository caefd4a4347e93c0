-- agent_status_changes(day): one row per agent recorded on that day, with its status on the
-- agent's previous recorded day (null for its first one). Index lookups only: cheap per day.
create or replace function agent_status_changes(day date)
returns table (agent_id bigint, is_active boolean, was_active boolean)
language sql stable
as $$
    select today.agent_id, today.is_active, previous.is_active as was_active
    from agent_status_history as today
    left join lateral (
        select earlier.is_active
        from agent_status_history as earlier
        where earlier.agent_id = today.agent_id
            and earlier.sync_date < today.sync_date
        order by earlier.sync_date desc
        limit 1
    ) as previous on true
    where today.sync_date = day
$$;
