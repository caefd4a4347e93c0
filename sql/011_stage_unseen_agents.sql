-- stg_agents <- the known agents that no record of the day names, for one sync date of the given accounts: one row
-- each, inactive by the presence rule (a complete list does not name it), every field absent (the stored values
-- stand), source 'not_seen'. Known: staged from a record on an earlier day (agents.first_sync_date), and not
-- recorded deleted by then. Agents quarantined that day (an invalid list record: the pairs of
-- %(quarantined_accounts)s and %(quarantined)s) are left out: their last good state stands. Run after the day's
-- staging rows are copied, before the completeness guard (they count as deactivated).
-- Returns the number of rows staged, one row per account.
with quarantined as (

    select *
    from unnest(%(quarantined_accounts)s::text[], %(quarantined)s::bigint[]) as quarantined (account, agent_id)

),

unseen as (

    select known.account, known.agent_id
    from agents as known
    where known.account = any(%(accounts)s::text[])
        and known.first_sync_date < %(sync_date)s
        and (known.deleted_on is null or known.deleted_on > %(sync_date)s)
        and not exists (
            select 1 from stg_agents as staged
            where staged.sync_date = %(sync_date)s
                and staged.account = known.account
                and staged.agent_id = known.agent_id
        )
        and not exists (
            select 1 from quarantined
            where quarantined.account = known.account and quarantined.agent_id = known.agent_id
        )

),

staged as (

    insert into stg_agents (account, agent_id, deactivated, status, absent_fields, sync_day, source, sync_date)
    select account, agent_id, true, 'inactive', %(absent_fields)s::text[], %(sync_day)s, 'not_seen', %(sync_date)s
    from unseen
    returning account

)

select selected.account, count(staged.account) as agents_unseen
from unnest(%(accounts)s::text[]) as selected (account)
left join staged on staged.account = selected.account
group by selected.account
