-- agent_pipeline_runs <- the agents one task's run recorded deleted, on the row sql/030_record_task_run.sql wrote.
update agent_pipeline_runs
set agents_deleted = %(agents_deleted)s
where run_id = %(run_id)s
    and task = %(task)s
    and sync_date = %(sync_date)s
