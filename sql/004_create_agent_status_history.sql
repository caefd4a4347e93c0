-- agent_status_history: one row per agent per account per sync date on which the agent was staged.
-- Partitioned by sync date, one partition per day (sql/000_create_day_partition.sql): SnapshotHistory
-- replaces an account's day by deleting its rows from the day's partition. Kept for ever (staging retention never touches it).

-- databases created before partitioning: set the ordinary table aside (its rows move in below), and drop
-- the view that depends on it (sql/008_create_agent_status_periods.sql creates it again)
do $$
begin
    if set_aside_unpartitioned('agent_status_history') then
        drop view if exists agent_status_periods;
    end if;
end
$$;

create table if not exists agent_status_history (
    account text not null default 'default',
    agent_id bigint not null,
    sync_date date not null,
    is_active boolean not null,
    primary key (account, agent_id, sync_date)
) partition by range (sync_date);

-- added with accounts: the rows of databases created before them are the default account's
alter table agent_status_history add column if not exists account text not null default 'default';
select set_primary_key('agent_status_history', 'account, agent_id, sync_date');

-- An account's latest earlier recorded day (sql/011_day_against_previous.sql) is the first entry of this index in
-- the newest partition before the day that holds the account: one index page per account, where without it every
-- earlier row would be read; it also finds an account's rows of a day. Created only when missing: CREATE INDEX IF
-- NOT EXISTS would wait for, then block, every day writing the table. It replaces the index by sync date alone of
-- databases created before accounts.
do $$
begin
    if to_regclass('agent_status_history_account_sync_date') is null then
        create index agent_status_history_account_sync_date on agent_status_history (account, sync_date);
    end if;
    if to_regclass('agent_status_history_sync_date') is not null then
        drop index agent_status_history_sync_date;
    end if;
end
$$;

-- one partition per sync date of the table set aside above, then drop it
select move_into_day_partitions('agent_status_history');

-- added with agent_versions: the fields that no record of the agent carried that day (null: it carried every
-- one), so that a late or re-processed day can replay the agent's later days (sql/013_create_record_agent_versions.sql)
alter table agent_status_history add column if not exists absent_fields text[];

-- added with the accounting of every known agent: false when no record named the agent that day (not listed, no
-- details record): a known agent that the day does not name is recorded inactive by the presence rule
-- (sql/011_stage_unseen_agents.sql)
alter table agent_status_history add column if not exists seen boolean not null default true;
