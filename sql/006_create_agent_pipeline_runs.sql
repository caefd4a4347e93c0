-- agent_pipeline_runs: one row per task per account per sync date per run (a run is one command).
-- Each task fills the counts it knows; the others stay null.
create table if not exists agent_pipeline_runs (
    run_id text not null,
    task text not null,
    account text not null default 'default',
    sync_date date not null,
    started_at timestamptz not null,
    finished_at timestamptz not null,
    files_read integer,
    records_read integer,
    records_valid integer,
    records_invalid integer,
    records_warned integer,
    parse_errors integer,
    list_records integer,
    duplicates_resolved integer,
    agents_staged integer,
    agents_active integer,
    agents_inactive integer,  -- every agent recorded inactive that day, newly deactivated or not
    agents_reactivated integer,
    staging_rows integer,
    error_rows integer,
    rows_inserted integer,
    rows_updated integer,
    rows_unchanged integer,
    history_rows integer,
    -- ExtractAgents (a day fetched from the Freshdesk API)
    list_pages integer,
    details_requested integer,
    details_fetched integer,
    details_missing integer,
    details_failed integer,
    requests integer,
    retries integer,
    throttled_seconds double precision,
    -- ValidateRaw: details calls that answered 404 or failed (FETCH_ERROR rows)
    fetch_errors integer,
    -- SnapshotHistory: agent_versions
    versions_opened integer,
    versions_closed integer,
    agents_replayed integer,
    -- ValidateRaw: entries of the day that are not read (UNREAD_FILE rows)
    files_unread integer,
    -- LoadStaging: agents not staged for an invalid list record; known agents no record named (staged inactive)
    agents_quarantined integer,
    agents_unseen integer,
    -- UpsertAgents: agents recorded deleted (their details answered 404 for [freshdesk] deleted_after_days days)
    agents_deleted integer,
    primary key (run_id, task, account, sync_date)
);
create index if not exists agent_pipeline_runs_sync_date on agent_pipeline_runs (sync_date);

-- agents_inactive was called agents_deactivated, though it always counted every inactive agent
do $$
begin
    if exists (select from information_schema.columns where table_schema = current_schema()
               and table_name = 'agent_pipeline_runs' and column_name = 'agents_deactivated') then
        alter table agent_pipeline_runs rename column agents_deactivated to agents_inactive;
    end if;
end $$;

-- added after the first release: databases created before it get the column here
alter table agent_pipeline_runs add column if not exists list_records integer;
alter table agent_pipeline_runs add column if not exists records_warned integer;
alter table agent_pipeline_runs add column if not exists list_pages integer;
alter table agent_pipeline_runs add column if not exists details_requested integer;
alter table agent_pipeline_runs add column if not exists details_fetched integer;
alter table agent_pipeline_runs add column if not exists details_missing integer;
alter table agent_pipeline_runs add column if not exists details_failed integer;
alter table agent_pipeline_runs add column if not exists requests integer;
alter table agent_pipeline_runs add column if not exists retries integer;
alter table agent_pipeline_runs add column if not exists throttled_seconds double precision;
alter table agent_pipeline_runs add column if not exists fetch_errors integer;
alter table agent_pipeline_runs add column if not exists versions_opened integer;
alter table agent_pipeline_runs add column if not exists versions_closed integer;
alter table agent_pipeline_runs add column if not exists agents_replayed integer;
alter table agent_pipeline_runs add column if not exists files_unread integer;
alter table agent_pipeline_runs add column if not exists agents_quarantined integer;
alter table agent_pipeline_runs add column if not exists agents_unseen integer;
alter table agent_pipeline_runs add column if not exists agents_deleted integer;

-- added with accounts: the rows of databases created before them are the default account's
alter table agent_pipeline_runs add column if not exists account text not null default 'default';
select set_primary_key('agent_pipeline_runs', 'run_id, task, account, sync_date');
