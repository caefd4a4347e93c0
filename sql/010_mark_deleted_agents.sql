-- agents.deleted_on <- this sync date, for each agent of the given accounts whose details call answered 404 on it (a FETCH_ERROR row with
-- status 404) and on at least %(deleted_after_days)s loaded days in all, up to this one, after its latest history
-- row from a record (seen): recorded deleted once, it gets no more details calls (sql/070_known_agent_ids.sql) and
-- is no longer staged unseen. An agent recorded deleted before this day that the day has a record of (it is
-- listed again) is no longer deleted. Run in UpsertAgents' transaction, after sql/010_upsert_agents.sql; only the
-- history partitions of the day and earlier ones are read. Returns the number of agents recorded deleted, one row per
-- account. The agents to change are joined, not tested with `in` lists under an `or`: PostgreSQL hashes such a list
-- only while it fits in work_mem, and otherwise scans it once per agent (a day of 1,000,000 agents did not finish).
with not_found as (

    select errors.account, errors.agent_id, errors.sync_date
    from agent_pipeline_errors as errors
    where errors.error_type = 'FETCH_ERROR'
        and errors.raw_record ->> 'status' = '404'
        and errors.sync_date <= %(sync_date)s
        and (errors.account, errors.agent_id) in (
            select today.account, today.agent_id
            from agent_pipeline_errors as today
            where today.sync_date = %(sync_date)s
                and today.account = any(%(accounts)s::text[])
                and today.error_type = 'FETCH_ERROR'
                and today.raw_record ->> 'status' = '404'
        )

),

last_seen as (

    select history.account, history.agent_id, max(history.sync_date) as sync_date
    from agent_status_history as history
    where history.sync_date <= %(sync_date)s
        and coalesce(history.seen, true)
        and (history.account, history.agent_id) in (select account, agent_id from not_found)
    group by history.account, history.agent_id

),

deleted as (

    select not_found.account, not_found.agent_id
    from not_found
    left join last_seen on last_seen.account = not_found.account and last_seen.agent_id = not_found.agent_id
    where not_found.sync_date > coalesce(last_seen.sync_date, '-infinity')
    group by not_found.account, not_found.agent_id
    having count(distinct not_found.sync_date) >= %(deleted_after_days)s

),

listed_again as (

    select agents.account, agents.agent_id
    from agents
    where agents.deleted_on < %(sync_date)s
        and agents.account = any(%(accounts)s::text[])
        and exists (
            select
            from stg_agents as staged
            where staged.sync_date = %(sync_date)s
                and staged.account = agents.account
                and staged.agent_id = agents.agent_id
                and staged.source <> 'not_seen'
        )

),

new_deleted_on as (

    select account, agent_id, %(sync_date)s::date as deleted_on from deleted
    union all
    select account, agent_id, null::date from listed_again

),

changed as (

    update agents
    set deleted_on = new_deleted_on.deleted_on
    from new_deleted_on
    where agents.account = new_deleted_on.account
        and agents.agent_id = new_deleted_on.agent_id
        and (new_deleted_on.deleted_on is null) = (agents.deleted_on is not null)
    returning agents.account, agents.deleted_on

)

select selected.account, count(*) filter (where changed.deleted_on is not null) as agents_deleted
from unnest(%(accounts)s::text[]) as selected (account)
left join changed on changed.account = selected.account
group by selected.account
