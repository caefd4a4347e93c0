-- agents: one row per agent, its latest known state and the sync date it came from.
-- Each field holds the value of the latest sync date that carried it; field_sync_dates names each field
-- whose value is older than sync_date, with the sync date it came from ('-infinity': no day carried it).
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
    field_sync_dates jsonb not null default '{}',
    sync_day text not null,
    source text not null,
    ingested_at timestamptz not null,
    sync_date date not null
);

-- added after the first release: databases created before it get the column here
alter table agents add column if not exists field_sync_dates jsonb not null default '{}';
