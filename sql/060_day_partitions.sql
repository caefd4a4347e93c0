-- The sync dates that have a partition in a table partitioned by sync date (sql/000_create_day_partition.sql),
-- oldest first: one row per partition, with the sync date its bounds hold (whatever its name).
select substring(pg_get_expr(day_partition.relpartbound, day_partition.oid) from $$FROM \('([0-9-]+)'\)$$)::date
    as sync_date
from pg_inherits
inner join pg_class as day_partition on day_partition.oid = pg_inherits.inhrelid
where pg_inherits.inhparent = %(table)s::regclass
order by sync_date
