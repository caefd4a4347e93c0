-- The staged day against the latest earlier day in agent_status_history (the completeness guard):
-- one row with that day, its active agents, and how many of them the day's staging rows make inactive.
-- Every reference names the day itself, so that only the partitions of the day and earlier ones are read
-- and locked (never a later day's, which another day's transaction may hold while it replaces it).
with previous as (

    select max(sync_date) as sync_date
    from agent_status_history
    where sync_date < %(sync_date)s

),

previously_active as (

    select history.agent_id
    from agent_status_history as history
    where history.sync_date = (select sync_date from previous)
        and history.sync_date < %(sync_date)s
        and history.is_active

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
