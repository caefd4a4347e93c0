-- stg_agents: one row per agent per account per sync date, as resolved by the day's transform.
-- Partitioned by sync date, one partition per day (sql/000_create_day_partition.sql): LoadStaging replaces
-- an account's day by deleting its rows from the day's partition, and staging retention drops old days' partitions. absent_fields names
-- the columns that no record of the agent carried that day (the key was missing, not null): their null here
-- means "not said".

-- databases created before partitioning: set the ordinary table aside (its rows move in below)
select set_aside_unpartitioned('stg_agents');

create table if not exists stg_agents (
    account text not null default 'default',
    agent_id bigint not null,
    email text,
    name text,
    job_title text,
    language text,
    mobile text,
    phone text,
    time_zone text,
    available boolean,
    deactivated boolean not null,
    status text not null check (status in ('active', 'inactive')),
    focus_mode boolean,
    agent_operational_status text,
    last_active_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz,
    absent_fields text[] not null default '{}',
    sync_day text not null,
    source text not null,
    ingested_at timestamptz not null default now(),
    sync_date date not null,
    primary key (sync_date, account, agent_id)
) partition by range (sync_date);

-- one partition per sync date of the table set aside above, then drop it (databases created before the
-- first release's absent_fields get its default, '{}', as the column added then did)
select move_into_day_partitions('stg_agents');

-- added with accounts (many Freshdesk accounts in one database): the rows of databases created before them are
-- the default account's; an agent id is unique within its account
alter table stg_agents add column if not exists account text not null default 'default';
select set_primary_key('stg_agents', 'sync_date, account, agent_id');
