-- agents.deleted_on <- this sync date, for each agent of the given accounts whose details call answered 404 on it (a FETCH_ERROR row with
-- status 404) and on at least %(deleted_after_days)s loaded days in all, up to this one, after its latest history
-- row from a record (seen): recorded deleted once, it gets no more details calls (sql/070_known_agent_ids.sql) and
-- is no longer staged unseen. An agent recorded deleted before this day that the day has a record of (it is
-- listed again) is no longer deleted. Run in UpsertAgents' transaction, after sql/010_upsert_agents.sql; only the
-- history partitions of the day and earlier ones are read. Returns the number of agents recorded deleted, one row per
-- account.
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

    select staged.account, staged.agent_id
    from stg_agents as staged
    where staged.sync_date = %(sync_date)s
        and staged.account = any(%(accounts)s::text[])
        and staged.source <> 'not_seen'

),

changed as (

    update agents
    set deleted_on = case when agents.deleted_on is null then %(sync_date)s::date end
    where (agents.account, agents.agent_id) in (select account, agent_id from deleted) and agents.deleted_on is null
        or (agents.account, agents.agent_id) in (select account, agent_id from listed_again)
            and agents.deleted_on < %(sync_date)s
    returning agents.account, agents.deleted_on

)

select selected.account, count(*) filter (where changed.deleted_on is not null) as agents_deleted
from unnest(%(accounts)s::text[]) as selected (account)
left join changed on changed.account = selected.account
group by selected.account
