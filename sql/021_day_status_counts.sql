-- The day's status counts of each given account, from agent_status_history: one row per account.
select
    selected.account,
    count(changes.agent_id) filter (where changes.is_active) as agents_active,
    count(changes.agent_id) filter (where not changes.is_active) as agents_inactive,
    count(changes.agent_id) filter (where changes.is_active and not changes.was_active) as agents_reactivated
from unnest(%(accounts)s::text[]) as selected (account)
left join agent_status_changes(%(sync_date)s, %(accounts)s::text[]) as changes on changes.account = selected.account
group by selected.account
