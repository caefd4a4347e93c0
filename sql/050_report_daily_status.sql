-- Active and inactive agents of the report's account per loaded sync date up to the report's day, from the latest
-- SnapshotHistory run of each day (agent_pipeline_runs: one small row per day, not the whole history).
select distinct on (sync_date)
    sync_date,
    agents_active,
    agents_inactive
from agent_pipeline_runs
where task = 'SnapshotHistory'
    and account = %(account)s
    and sync_date <= %(sync_date)s
order by sync_date, finished_at desc
