-- The partition of a table partitioned by sync date (stg_agents, agent_status_history) that holds one sync
-- date, created if it does not exist yet: run in a short transaction of its own, before the day's work.
select create_day_partition(%(table)s, %(sync_date)s) as day_partition
