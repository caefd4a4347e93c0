-- agent_status_changes(day): one row per agent recorded on that day, with its status on the
-- agent's previous recorded day (null for its first one). Index lookups only: cheap per day.
-- Both sides name ``day`` itself, so that the planner reads (and locks) only the day's partition and
-- the earlier ones, never a later day's, which another day's transaction may hold while it replaces it;
-- the earlier partitions are searched newest first and the search stops at the first one that has the agent.
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
            and earlier.sync_date < day
        order by earlier.sync_date desc
        limit 1
    ) as previous on true
    where today.sync_date = day
$$;
