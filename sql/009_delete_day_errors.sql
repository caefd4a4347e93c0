-- Clear one sync date of agent_pipeline_errors before it is loaded again.
delete from agent_pipeline_errors
where sync_date = %(sync_date)s
