-- The staged day against the latest earlier day in agent_status_history (the completeness guard):
-- one row with that day, its active agents, and how many of them the day's staging rows make inactive.
with previous as (

    select max(sync_date) as sync_date
    from agent_status_history
    where sync_date < %(sync_date)s

),

previously_active as (

    select history.agent_id
    from agent_status_history as history
    inner join previous on history.sync_date = previous.sync_date
    where history.is_active

),

deactivating as (

    select staged.agent_id
    from stg_agents as staged
    inner join previously_active on staged.agent_id = previously_active.agent_id
    where staged.sync_date = %(sync_date)s
        and staged.deactivated

)

select
    (select sync_date from previous) as previous_day,
    (select count(*) from previously_active) as previously_active,
    (select count(*) from deactivating) as deactivating
