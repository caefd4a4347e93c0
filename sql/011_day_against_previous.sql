-- The staged day of each given account against the account's latest earlier day in agent_status_history (the
-- completeness guard): one row per account with that day, its active agents, and how many of them the day's
-- staging rows make inactive. Each account is looked up on its own (a lateral join): its latest earlier day is
-- the first entry of agent_status_history_account_sync_date in the newest partition before the day that holds the
-- account, and its rows of that day are read from that partition alone (pruned at run time), so that the cost
-- follows the accounts and their agents, not the days loaded before. Every reference names the day itself, so
-- that only the partitions of the day and earlier ones are read and locked (never a later day's, which another
-- day's transaction may hold while it replaces it).
with selected as (

    select account
    from unnest(%(accounts)s::text[]) as selected (account)

),

previous as (

    select selected.account, latest.sync_date
    from selected
    left join lateral (
        select history.sync_date
        from agent_status_history as history
        where history.account = selected.account
            and history.sync_date < %(sync_date)s
        order by history.sync_date desc
        limit 1
    ) as latest on true

),

compared as (

    select
        previous.account,
        previous.sync_date as previous_day,
        (
            select count(*)
            from agent_status_history as history
            where history.account = previous.account
                and history.sync_date = previous.sync_date
                and history.sync_date < %(sync_date)s
                and history.is_active
        ) as previously_active,
        (
            select count(*)
            from stg_agents as staged
            inner join agent_status_history as history
                on history.account = staged.account
                and history.agent_id = staged.agent_id
                and history.sync_date = previous.sync_date
                and history.sync_date < %(sync_date)s
                and history.is_active
            where staged.sync_date = %(sync_date)s
                and staged.account = previous.account
                and staged.deactivated
        ) as deactivating
    from previous

)

select account, previous_day, previously_active, deactivating
from compared
