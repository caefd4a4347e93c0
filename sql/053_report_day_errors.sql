-- The report day's error rows, one row per reason (error_message holds one per line), with the agent or
-- file each came from.
select
    errors.error_type,
    reason,
    errors.agent_id,
    errors.source_file,
    errors.record_index
from agent_pipeline_errors as errors
cross join lateral regexp_split_to_table(errors.error_message, E'\n') as reason
where errors.sync_date = %(sync_date)s
order by errors.agent_id, errors.source_file, errors.record_index
