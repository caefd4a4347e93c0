-- Clear one sync date of a table partitioned by sync date (stg_agents, agent_status_history) before it is
-- written again: TRUNCATE of the day's partition, which locks that partition only.
select truncate_day_partition(%(table)s, %(sync_date)s)
