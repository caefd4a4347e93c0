-- Clear the given accounts' rows of one sync date from agent_pipeline_errors before the day is loaded again.
delete from agent_pipeline_errors
where sync_date = %(sync_date)s
    and account = any(%(accounts)s::text[])
