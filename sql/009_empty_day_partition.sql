-- Clear the given accounts' rows of one sync date from a table partitioned by sync date (stg_agents,
-- agent_status_history) before they are written again (empty_day_partition: the other accounts' rows stay).
select empty_day_partition(%(table)s, %(sync_date)s, %(accounts)s::text[])
