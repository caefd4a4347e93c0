-- agent_versions <- the day's staging rows (sql/013_create_record_agent_versions.sql); the day's counts.
select versions_opened, versions_closed, agents_replayed
from record_agent_versions(%(sync_date)s)
