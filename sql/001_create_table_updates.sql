-- table_updates: one row per finished database task (luigi's PostgresTarget marker table).
-- update_id is the task id, e.g. LoadStaging_2024_01_02_433f9bd171 (LoadStaging_acme_2024_01_02_… for an account).
create table if not exists table_updates (
    update_id text primary key,
    target_table text,
    inserted timestamp default now()
);
