-- agent_status_periods: one row per account, agent and maximal run of the agent's consecutive recorded days with
-- the same status. valid_to is exclusive (the first day of the next period) and null for the current
-- period, as in dbt snapshots.

-- databases created before accounts: the view gains a first column (CREATE OR REPLACE VIEW cannot insert one)
do $$
begin
    if exists (select 1 from pg_views where viewname = 'agent_status_periods' and definition not like '%account%') then
        drop view agent_status_periods;
    end if;
end
$$;

create or replace view agent_status_periods as
with history as (

    select
        account,
        agent_id,
        sync_date,
        is_active,
        lag(is_active) over (partition by account, agent_id order by sync_date) as was_active
    from agent_status_history

),

numbered as (

    select
        account,
        agent_id,
        sync_date,
        is_active,
        sum(case when was_active is distinct from is_active then 1 else 0 end)
            over (partition by account, agent_id order by sync_date) as period
    from history

),

periods as (

    select account, agent_id, is_active, min(sync_date) as valid_from
    from numbered
    group by account, agent_id, period, is_active

)

select
    account,
    agent_id,
    is_active,
    valid_from,
    lead(valid_from) over (partition by account, agent_id order by valid_from) as valid_to,
    lead(valid_from) over (partition by account, agent_id order by valid_from) is null as is_current
from periods
