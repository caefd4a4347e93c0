-- Fresh planner statistics for the day partition of a table partitioned by sync date, once the day's rows are in
-- (sql/000_create_day_partition.sql): the statements that follow read it within seconds.
select analyze_day_partition(%(table)s, %(sync_date)s)
