-- agents.deleted_on: the sync date on which the agent was recorded deleted, its details having answered 404 on
-- [freshdesk] deleted_after_days loaded days with no record of it since the first of them
-- (sql/010_mark_deleted_agents.sql); null: not deleted. A deleted agent gets no more details calls.
alter table agents add column if not exists deleted_on date;
