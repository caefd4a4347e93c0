-- agent_status_history <- stg_agents for one sync date, into the day's partition, which
-- sql/009_empty_day_partition.sql has just emptied: one row per agent staged that day, with the fields no
-- record of it carried (null: none missing), and whether a record named it (false: a known agent staged by
-- sql/011_stage_unseen_agents.sql).
-- Returns the number of rows the day holds.
with written as (

    insert into agent_status_history (agent_id, sync_date, is_active, absent_fields, seen)
    select
        agent_id, sync_date, not deactivated as is_active, nullif(absent_fields, '{}') as absent_fields,
        source <> 'not_seen' as seen
    from stg_agents
    where sync_date = %(sync_date)s
    returning 1

)

select count(*) as history_rows
from written
