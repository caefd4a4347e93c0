-- agents: one row per agent, its latest known state and the sync date it came from.
create table if not exists agents (
    agent_id bigint primary key,
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
    sync_day text not null,
    source text not null,
    ingested_at timestamptz not null,
    sync_date date not null
);
