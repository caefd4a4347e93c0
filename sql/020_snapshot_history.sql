-- agent_status_history <- stg_agents for one sync date: afterwards the day holds exactly
-- one row per agent staged that day (rows of agents no longer staged are removed).
-- Returns the number of rows the day holds.
with staged as (

    select agent_id, sync_date, not deactivated as is_active
    from stg_agents
    where sync_date = %(sync_date)s

),

no_longer_staged as (

    delete from agent_status_history as history
    where history.sync_date = %(sync_date)s
        and not exists (select 1 from staged where staged.agent_id = history.agent_id)

),

written as (

    insert into agent_status_history (agent_id, sync_date, is_active)
    select agent_id, sync_date, is_active
    from staged
    order by agent_id
    on conflict (agent_id, sync_date) do update set
        is_active = excluded.is_active
    where agent_status_history.is_active is distinct from excluded.is_active

)

select count(*) as history_rows
from staged
