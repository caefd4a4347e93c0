-- agent_versions: one row per agent (of an account) per version, the grain of a dbt snapshot of every loaded column of agents.
-- A version starts on a recorded day of the agent (a day it was staged) whose values differ from those of its
-- previous recorded day, where a field that no record of the agent carried that day (stg_agents.absent_fields)
-- keeps the value of the latest earlier day that carried it: absent is not null. valid_from is the version's
-- first day; valid_to (exclusive) the first day of the next version, null for the current one.
-- Maintained by record_agent_versions (sql/013), in SnapshotHistory's transaction: loading days in any order,
-- or re-processing one, gives the rows that loading them in order would.
create table if not exists agent_versions (
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
    valid_from date not null,
    valid_to date check (valid_to > valid_from),
    is_current boolean not null generated always as (valid_to is null) stored,
    primary key (account, agent_id, valid_from)
);

-- added with accounts: the rows of databases created before them are the default account's. agents_as_of
-- (sql/014_create_agents_as_of.sql) returns this table's rows: it is dropped here, and created again there.
do $$
begin
    if not exists (select 1 from pg_attribute where attrelid = 'agent_versions'::regclass and attname = 'account') then
        drop function if exists agents_as_of(date);
        alter table agent_versions add column account text not null default 'default';
    end if;
end
$$;
select set_primary_key('agent_versions', 'account, agent_id, valid_from');
