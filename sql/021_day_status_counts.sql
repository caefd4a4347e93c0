-- The day's status counts of each given account, from agent_status_history: one row per account (counted by
-- account first, then joined with the accounts: a million agents are hashed into one group, not sorted).
with counted as (

    select
        changes.account,
        count(*) filter (where changes.is_active) as agents_active,
        count(*) filter (where not changes.is_active) as agents_inactive,
        count(*) filter (where changes.is_active and not changes.was_active) as agents_reactivated
    from agent_status_changes(%(sync_date)s, %(accounts)s::text[]) as changes
    group by changes.account

)

select
    selected.account,
    coalesce(counted.agents_active, 0) as agents_active,
    coalesce(counted.agents_inactive, 0) as agents_inactive,
    coalesce(counted.agents_reactivated, 0) as agents_reactivated
from unnest(%(accounts)s::text[]) as selected (account)
left join counted on counted.account = selected.account
