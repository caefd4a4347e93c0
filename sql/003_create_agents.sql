-- agents: one row per agent per account, its latest known state and the sync date it came from.
-- Each field holds the value of the latest sync date that carried it; field_sync_dates names each field
-- whose value is older than sync_date, with the sync date it came from ('-infinity': no day carried it).
create table if not exists agents (
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
    field_sync_dates jsonb not null default '{}',
    sync_day text not null,
    source text not null,
    ingested_at timestamptz not null,
    sync_date date not null,
    primary key (account, agent_id)
);

-- added after the first release: databases created before it get the column here
alter table agents add column if not exists field_sync_dates jsonb not null default '{}';

-- added with the accounting of every known agent: the first sync date the agent was staged (from a record), which
-- makes it known to every later day (sql/011_stage_unseen_agents.sql), and the sync date it was recorded deleted
-- (its details answered 404 for [freshdesk] deleted_after_days days with no record of it since the first of them,
-- sql/010_mark_deleted_agents.sql; null: not deleted). A deleted agent gets no more details calls.
alter table agents add column if not exists first_sync_date date;
alter table agents add column if not exists deleted_on date;

-- added with accounts: the rows of databases created before them are the default account's
alter table agents add column if not exists account text not null default 'default';
select set_primary_key('agents', 'account, agent_id');

-- databases created before first_sync_date (and so before accounts: one account): each agent's first recorded day
-- (or, before its history is written, the day it was upserted from), once
do $$
begin
    if exists (select 1 from agents where first_sync_date is null) then
        update agents
        set first_sync_date = least(agents.sync_date, first_recorded.sync_date)
        from (
            select agents.agent_id, min(history.sync_date) as sync_date
            from agents
            left join agent_status_history as history on history.agent_id = agents.agent_id
            where agents.first_sync_date is null
            group by agents.agent_id
        ) as first_recorded
        where agents.agent_id = first_recorded.agent_id;
    end if;
end
$$;
