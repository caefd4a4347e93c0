-- The report day's rejected records: one row per reason (error_message holds one per line).
select
    errors.error_type,
    reason
from agent_pipeline_errors as errors
cross join lateral regexp_split_to_table(errors.error_message, E'\n') as reason
where errors.sync_date = %(sync_date)s
