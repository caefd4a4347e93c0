-- The error rows of the report's account and day, one row per reason (error_message holds one per line), with the agent or
-- file each came from, and whether that agent was recorded that day (false for a quarantined agent's records).
select
    errors.error_type,
    reason,
    errors.agent_id,
    errors.source_file,
    errors.record_index,
    exists (
        select 1 from agent_status_history as history
        where history.sync_date = %(sync_date)s
            and history.account = errors.account
            and history.agent_id = errors.agent_id
    ) as agent_recorded
from agent_pipeline_errors as errors
cross join lateral regexp_split_to_table(errors.error_message, E'\n') as reason
where errors.sync_date = %(sync_date)s
    and errors.account = %(account)s
order by errors.agent_id, errors.source_file, errors.record_index
