-- The known agents of the report's account that no record of the report's day named (recorded inactive, not seen), with who they are
-- (the latest known values: the day carried none).
select
    history.agent_id,
    latest.name,
    latest.email
from agent_status_history as history
left join agents as latest
    on latest.account = history.account
    and latest.agent_id = history.agent_id
where history.sync_date = %(sync_date)s
    and history.account = %(account)s
    and not history.seen
order by history.agent_id
