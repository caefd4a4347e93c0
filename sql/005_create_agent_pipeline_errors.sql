-- agent_pipeline_errors: one row per rejected raw record (VALIDATION_ERROR), per record loaded although
-- fields the pipeline does not load break the schema (VALIDATION_WARNING), per unreadable details
-- file (PARSE_ERROR), per details call of a fetched day that answered 404 or failed (FETCH_ERROR), and per
-- entry of the day folder that is not read (UNREAD_FILE: not named *.json, or not part of the layout),
-- per account and sync date. error_message holds every reason, one per line.
create table if not exists agent_pipeline_errors (
    id bigint generated always as identity primary key,
    account text not null default 'default',
    agent_id bigint,
    sync_date date not null,
    source_file text not null,
    record_index integer,
    error_type text not null
        check (error_type in ('VALIDATION_ERROR', 'VALIDATION_WARNING', 'PARSE_ERROR', 'FETCH_ERROR', 'UNREAD_FILE')),
    error_message text not null,
    raw_record jsonb,
    created_at timestamptz not null default now()
);

-- added with accounts: the rows of databases created before them are the default account's
alter table agent_pipeline_errors add column if not exists account text not null default 'default';


-- databases created before VALIDATION_WARNING, FETCH_ERROR or UNREAD_FILE: widen the check once
do $$
begin
    if not exists (
        select 1 from pg_constraint
        where conrelid = 'agent_pipeline_errors'::regclass
            and conname = 'agent_pipeline_errors_error_type_check'
            and pg_get_constraintdef(oid) like '%UNREAD_FILE%'
    ) then
        alter table agent_pipeline_errors drop constraint if exists agent_pipeline_errors_error_type_check;
        alter table agent_pipeline_errors add constraint agent_pipeline_errors_error_type_check
            check (error_type in ('VALIDATION_ERROR', 'VALIDATION_WARNING', 'PARSE_ERROR', 'FETCH_ERROR', 'UNREAD_FILE'));
    end if;
end
$$;

-- An account's rows of a day (replaced when the day loads again, read by the report), and the 404 details answers
-- of each agent (FETCH_ERROR rows), by agent and day: UpsertAgents counts an agent's days of them
-- (sql/010_mark_deleted_agents.sql) without reading the other error rows. Created only when missing: CREATE INDEX
-- IF NOT EXISTS would wait for, then block, every day writing the table. They replace the indexes without the
-- account of databases created before accounts.
do $$
begin
    if to_regclass('agent_pipeline_errors_day') is null then
        create index agent_pipeline_errors_day on agent_pipeline_errors (sync_date, account);
    end if;
    if to_regclass('agent_pipeline_errors_agent_not_found') is null then
        create index agent_pipeline_errors_agent_not_found on agent_pipeline_errors (account, agent_id, sync_date)
            where error_type = 'FETCH_ERROR' and raw_record ->> 'status' = '404';
    end if;
    drop index if exists agent_pipeline_errors_sync_date;
    drop index if exists agent_pipeline_errors_not_found;
end
$$;
