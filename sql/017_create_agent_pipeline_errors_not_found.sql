-- The 404 details answers of each agent (FETCH_ERROR rows), by agent and day: UpsertAgents counts an agent's days
-- of them (sql/010_mark_deleted_agents.sql) without reading the other error rows. Created only when missing:
-- CREATE INDEX IF NOT EXISTS would wait for, then block, every day writing the table.
do $$
begin
    if to_regclass('agent_pipeline_errors_not_found') is null then
        create index agent_pipeline_errors_not_found on agent_pipeline_errors (agent_id, sync_date)
            where error_type = 'FETCH_ERROR' and raw_record ->> 'status' = '404';
    end if;
end
$$;
