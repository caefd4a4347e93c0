-- agent_versions <- the given accounts' staging rows of the day (sql/013_create_record_agent_versions.sql); the
-- day's counts, one row per account.
select account, versions_opened, versions_closed, agents_replayed
from record_agent_versions(%(sync_date)s, %(accounts)s::text[])
