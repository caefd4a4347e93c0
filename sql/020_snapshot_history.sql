-- agent_status_history <- stg_agents for one sync date of the given accounts, into the day's partition, which
-- sql/009_empty_day_partition.sql has just emptied of them: one row per agent staged that day, with the fields no
-- record of it carried (null: none missing), and whether a record named it (false: a known agent staged by
-- sql/011_stage_unseen_agents.sql).
-- Returns the number of rows the day holds, one row per account.
with written as (

    insert into agent_status_history (account, agent_id, sync_date, is_active, absent_fields, seen)
    select
        account, agent_id, sync_date, not deactivated as is_active, nullif(absent_fields, '{}') as absent_fields,
        source <> 'not_seen' as seen
    from stg_agents
    where sync_date = %(sync_date)s
        and account = any(%(accounts)s::text[])
    returning account

)

select selected.account, count(written.account) as history_rows
from unnest(%(accounts)s::text[]) as selected (account)
left join written on written.account = selected.account
group by selected.account
