-- table_updates: one row per finished database task (luigi's PostgresTarget marker table).
-- update_id is the task id, e.g. LoadStaging(sync_date=2024-01-02) with its parameter hash.
create table if not exists table_updates (
    update_id text primary key,
    target_table text,
    inserted timestamp default now()
);
