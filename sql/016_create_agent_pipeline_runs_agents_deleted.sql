-- agent_pipeline_runs.agents_deleted: UpsertAgents' count of the agents it recorded deleted (agents.deleted_on).
alter table agent_pipeline_runs add column if not exists agents_deleted integer;
