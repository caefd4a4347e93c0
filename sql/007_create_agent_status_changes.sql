-- agent_status_changes(day, accounts): one row per agent of the given accounts recorded on that day, with its
-- status on the agent's previous recorded day (null for its first one).
-- Nearly every agent was recorded on the latest earlier day of its account, and the accounts of one run load the
-- same days: the newest partition before the day that holds any of the accounts is joined (found at run time), and
-- only the other agents (new agents, agents missing that day, accounts behind the others) search the earlier days,
-- newest first, so that a day's cost does not grow with the days loaded before it. Every reference names ``day``
-- itself, so that the planner reads (and locks) only the day's partition and the earlier ones, never a later
-- day's, which another day's transaction may hold while it replaces it.
create or replace function agent_status_changes(day date, accounts text[])
returns table (account text, agent_id bigint, is_active boolean, was_active boolean)
language sql stable
as $$
    with latest_earlier_day as (

        -- each account's latest earlier day: the partitions newest first, stopping at the first that holds it
        select max(latest.sync_date) as sync_date
        from unnest(accounts) as selected (account)
        cross join lateral (
            select history.sync_date
            from agent_status_history as history
            where history.account = selected.account
                and history.sync_date < day
            order by history.sync_date desc
            limit 1
        ) as latest

    )

    select
        today.account,
        today.agent_id,
        today.is_active,
        case
            when latest.agent_id is not null then latest.is_active
            else (
                select earlier.is_active
                from agent_status_history as earlier
                where earlier.account = today.account
                    and earlier.agent_id = today.agent_id
                    and earlier.sync_date < day
                order by earlier.sync_date desc
                limit 1
            )
        end as was_active
    from agent_status_history as today
    left join agent_status_history as latest
        on latest.account = today.account
        and latest.agent_id = today.agent_id
        and latest.sync_date = (select sync_date from latest_earlier_day)
        and latest.sync_date < day
    where today.sync_date = day
        and today.account = any(accounts)
$$;

-- the function of databases created before accounts
drop function if exists agent_status_changes(date);
