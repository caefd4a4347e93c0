-- The agents of one account active on its latest day before the sync date recorded in agent_status_history: ExtractAgents pages
-- through the list a second time when some of them are not listed and their details do not say deactivated
-- (pagination drift, pipeline/extract.py). Only that day's partition and earlier ones are read.
with previous as (

    select sync_date
    from agent_status_history
    where account = %(account)s
        and sync_date < %(sync_date)s
    order by sync_date desc
    limit 1

)

select history.agent_id
from agent_status_history as history
where history.account = %(account)s
    and history.sync_date = (select sync_date from previous)
    and history.sync_date < %(sync_date)s
    and history.is_active
