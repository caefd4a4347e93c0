-- The latest recorded run of each task for the report's account and day.
select distinct on (task) *
from agent_pipeline_runs
where sync_date = %(sync_date)s
    and account = %(account)s
order by task, finished_at desc
