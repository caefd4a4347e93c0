-- stg_agents: one row per agent per sync date, as resolved by the day's transform.
-- LoadStaging replaces a whole sync date at a time. absent_fields names the columns that no record of
-- the agent carried that day (the key was missing, not null): their null here means "not said".
create table if not exists stg_agents (
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
    primary key (sync_date, agent_id)
);

-- added after the first release: databases created before it get the column here
alter table stg_agents add column if not exists absent_fields text[] not null default '{}';
