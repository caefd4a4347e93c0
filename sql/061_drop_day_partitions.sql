-- Drop the partitions that hold the given sync dates of a table partitioned by sync date (staging retention):
-- one row per partition dropped. Takes ACCESS EXCLUSIVE on the table until commit: run it in a short
-- transaction with a lock_timeout.
select drop_day_partitions(%(table)s, %(days)s::date[]) as dropped
