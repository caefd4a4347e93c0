-- The staged day of each given account against the account's latest earlier day in agent_status_history (the
-- completeness guard): one row per account with that day, its active agents, and how many of them the day's
-- staging rows make inactive. Every reference names the day itself, so that only the partitions of the day and
-- earlier ones are read and locked (never a later day's, which another day's transaction may hold while it
-- replaces it); each account's latest earlier day is the first entry of agent_status_history_account_sync_date.
with previous as (

    select
        selected.account,
        (
            select max(history.sync_date)
            from agent_status_history as history
            where history.account = selected.account
                and history.sync_date < %(sync_date)s
        ) as sync_date
    from unnest(%(accounts)s::text[]) as selected (account)

),

previously_active as (

    select history.account, history.agent_id
    from previous
    inner join agent_status_history as history
        on history.account = previous.account
        and history.sync_date = previous.sync_date
    where history.sync_date < %(sync_date)s
        and history.is_active

),

deactivating as (

    select staged.account, staged.agent_id
    from stg_agents as staged
    inner join previously_active
        on staged.account = previously_active.account
        and staged.agent_id = previously_active.agent_id
    where staged.sync_date = %(sync_date)s
        and staged.account = any(%(accounts)s::text[])
        and staged.deactivated

)

select
    previous.account,
    previous.sync_date as previous_day,
    (select count(*) from previously_active where previously_active.account = previous.account)
        as previously_active,
    (select count(*) from deactivating where deactivating.account = previous.account) as deactivating
from previous
