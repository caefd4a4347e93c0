-- agent_pipeline_errors: one row per rejected raw record (VALIDATION_ERROR) or unreadable
-- details file (PARSE_ERROR) per sync date. error_message holds every reason, one per line.
create table if not exists agent_pipeline_errors (
    id bigint generated always as identity primary key,
    agent_id bigint,
    sync_date date not null,
    source_file text not null,
    record_index integer,
    error_type text not null check (error_type in ('VALIDATION_ERROR', 'PARSE_ERROR')),
    error_message text not null,
    raw_record jsonb,
    created_at timestamptz not null default now()
);
create index if not exists agent_pipeline_errors_sync_date on agent_pipeline_errors (sync_date);
