-- Tables partitioned by range (sync_date), one partition per sync date, named <table>_pYYYYMMDD
-- (stg_agents_p20240102, agent_status_history_p20240102). A day's partition is created before the day's
-- transaction (create_day_partition), emptied of the day's accounts inside it (empty_day_partition) and, for staging
-- only, dropped once the day is done and old (drop_day_partitions, pipeline/partitions.py).

-- day_partition_name(parent, day): the schema-qualified, quoted name of the partition of ``parent`` that
-- holds ``day``, whether or not it exists.
create or replace function day_partition_name(parent regclass, day date)
returns text
language sql stable
as $$
    select format('%I.%I', parent_schema.nspname, parent_table.relname || '_p' || to_char(day, 'YYYYMMDD'))
    from pg_class as parent_table
    inner join pg_namespace as parent_schema on parent_schema.oid = parent_table.relnamespace
    where parent_table.oid = parent
$$;

-- create_day_partition(parent, day): the partition of ``parent`` that holds ``day``, created if it does not
-- exist yet. The table is created on its own and then attached: ATTACH takes SHARE UPDATE EXCLUSIVE on the
-- parent, which the other days' reads and writes (ACCESS SHARE, ROW EXCLUSIVE) neither wait for nor block,
-- where CREATE TABLE … PARTITION OF takes ACCESS EXCLUSIVE on the parent. The lock conflicts with itself:
-- two runs creating a partition of the same parent take turns, and the second finds the first one's table.
create or replace function create_day_partition(parent regclass, day date)
returns regclass
language plpgsql
as $$
declare
    partition_name text := day_partition_name(parent, day);
begin
    if to_regclass(partition_name) is null then
        execute format('lock table only %s in share update exclusive mode', parent);  -- not the partitions
        if to_regclass(partition_name) is null then  -- created by another run while this one waited
            execute format('create table %s (like %s including all)', partition_name, parent);
            execute format('alter table %s attach partition %s for values from (%L) to (%L)',
                           parent, partition_name, day, day + 1);
        end if;
    end if;
    return partition_name::regclass;
end
$$;

-- empty_day_partition(parent, day, accounts): delete the given accounts' rows from the partition of ``parent`` that
-- holds ``day`` (it must exist); the other accounts' rows of the day stay. DELETE takes ROW EXCLUSIVE on that
-- partition only: two accounts may replace their rows of the same day side by side (TRUNCATE could not: it would
-- wait for, then empty, another account's rows being written).
create or replace function empty_day_partition(parent regclass, day date, accounts text[])
returns void
language plpgsql
as $$
begin
    execute format('delete from %s where account = any($1)', day_partition_name(parent, day)) using accounts;
end
$$;

-- the function of databases created before accounts
drop function if exists truncate_day_partition(regclass, date);

-- drop_day_partitions(parent, days): drop the partitions of ``parent`` that hold ``days`` (those that exist);
-- returns the names of the partitions dropped. DROP takes ACCESS EXCLUSIVE on the parent: run it in a short
-- transaction with a lock_timeout.
create or replace function drop_day_partitions(parent regclass, days date[])
returns setof text
language plpgsql
as $$
declare
    day_partition regclass;
begin
    for day_partition in
        select to_regclass(day_partition_name(parent, day)) from unnest(days) as day order by day
    loop
        if day_partition is not null then
            return next day_partition::text;  -- as the search path shows it: stg_agents_p20240102
            execute format('drop table %s', day_partition);
        end if;
    end loop;
end
$$;

-- set_aside_unpartitioned(name): databases created before partitioning hold an ordinary table ``name``;
-- rename it (and its indexes, whose names the partitioned table reuses) to <name>_unpartitioned, for
-- move_into_day_partitions. Returns whether it did; does nothing (and locks nothing) otherwise.
create or replace function set_aside_unpartitioned(name text)
returns boolean
language plpgsql
as $$
declare
    old_table regclass := to_regclass(name);
    old_index regclass;
begin
    if not exists (select from pg_class where oid = old_table and relkind = 'r') then
        return false;
    end if;
    for old_index in select indexrelid from pg_index where indrelid = old_table loop
        execute format('alter index %s rename to %I', old_index,
                       (select relname from pg_class where oid = old_index) || '_unpartitioned');
    end loop;
    execute format('alter table %s rename to %I', old_table, name || '_unpartitioned');
    return true;
end
$$;

-- move_into_day_partitions(name): move every row of <name>_unpartitioned (see set_aside_unpartitioned) into the
-- partitioned table ``name``, one partition per sync date, then drop it. Columns the old table lacks take
-- their default. Does nothing when there is no such table.
create or replace function move_into_day_partitions(name text)
returns void
language plpgsql
as $$
declare
    old_table regclass := to_regclass(name || '_unpartitioned');
    day date;
    columns text;
begin
    if old_table is null then
        return;
    end if;
    for day in execute format('select distinct sync_date from %s', old_table) loop
        perform create_day_partition(name::regclass, day);
    end loop;
    select string_agg(quote_ident(new_column.attname), ', ' order by new_column.attnum)
    into columns
    from pg_attribute as new_column
    inner join pg_attribute as old_column
        on old_column.attname = new_column.attname
        and old_column.attrelid = old_table
        and old_column.attnum > 0
        and not old_column.attisdropped
    where new_column.attrelid = name::regclass
        and new_column.attnum > 0
        and not new_column.attisdropped;
    execute format('insert into %s (%s) select %s from %s', name::regclass, columns, columns, old_table);
    execute format('drop table %s', old_table);
end
$$;

-- set_primary_key(tbl, key_columns): make ``key_columns`` (e.g. 'account, agent_id') the primary key of ``tbl``,
-- replacing the key that databases created by an earlier version have (on a partitioned table, its partitions'
-- keys follow). Does nothing (and locks nothing) when the key is already that one.
create or replace function set_primary_key(tbl regclass, key_columns text)
returns void
language plpgsql
as $$
declare
    key_name text;
    key_definition text;
begin
    select conname, pg_get_constraintdef(oid) into key_name, key_definition
    from pg_constraint
    where conrelid = tbl and contype = 'p';
    if key_definition is distinct from format('PRIMARY KEY (%s)', key_columns) then
        if key_name is not null then
            execute format('alter table %s drop constraint %I', tbl, key_name);
        end if;
        execute format('alter table %s add primary key (%s)', tbl, key_columns);
    end if;
end
$$;

-- analyze_day_partition(parent, day): planner statistics for the partition of ``parent`` that holds ``day``, taken
-- in the day's transaction once its rows are in. Autovacuum analyzes a new partition a minute or more later; the
-- day's next statements run within seconds, and without statistics PostgreSQL estimates one row and joins the
-- day's agents by nested loops (a first day of 20,000 agents: SnapshotHistory 27 s instead of 0.3 s).
create or replace function analyze_day_partition(parent regclass, day date)
returns void
language plpgsql
as $$
begin
    execute format('analyze %s', day_partition_name(parent, day));
end
$$;
