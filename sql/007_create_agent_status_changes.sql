-- agent_status_changes(day): one row per agent recorded on that day, with its status on the
-- agent's previous recorded day (null for its first one).
-- Nearly every agent was recorded on the latest earlier day: that one partition is joined (found at run
-- time), and only the others (new agents, agents missing that day) search the earlier days, newest first,
-- so that a day's cost does not grow with the days loaded before it. Every reference names ``day``
-- itself, so that the planner reads (and locks) only the day's partition and the earlier ones, never a
-- later day's, which another day's transaction may hold while it replaces it.
create or replace function agent_status_changes(day date)
returns table (agent_id bigint, is_active boolean, was_active boolean)
language sql stable
as $$
    with latest_earlier_day as (

        select max(sync_date) as sync_date
        from agent_status_history
        where sync_date < day

    )

    select
        today.agent_id,
        today.is_active,
        case
            when latest.agent_id is not null then latest.is_active
            else (
                select earlier.is_active
                from agent_status_history as earlier
                where earlier.agent_id = today.agent_id
                    and earlier.sync_date < day
                order by earlier.sync_date desc
                limit 1
            )
        end as was_active
    from agent_status_history as today
    left join agent_status_history as latest
        on latest.agent_id = today.agent_id
        and latest.sync_date = (select sync_date from latest_earlier_day)
        and latest.sync_date < day
    where today.sync_date = day
$$;
