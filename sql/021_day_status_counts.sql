-- The day's status counts, from agent_status_history.
select
    count(*) filter (where is_active) as agents_active,
    count(*) filter (where not is_active) as agents_deactivated,
    count(*) filter (where is_active and not was_active) as agents_reactivated
from agent_status_changes(%(sync_date)s)
