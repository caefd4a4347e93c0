-- agent_status_history: one row per agent per sync date on which the agent was staged.
create table if not exists agent_status_history (
    agent_id bigint not null,
    sync_date date not null,
    is_active boolean not null,
    primary key (agent_id, sync_date)
);
create index if not exists agent_status_history_sync_date on agent_status_history (sync_date);
