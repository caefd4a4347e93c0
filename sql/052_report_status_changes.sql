-- Agents of the report's account whose status changed on the report's day (not their first recorded day), with who they are: from
-- the day's staging rows, or, once staging retention has dropped the day, from agents (the latest known).
select
    changes.agent_id,
    changes.is_active,
    case when staged.agent_id is null then latest.name else staged.name end as name,
    case when staged.agent_id is null then latest.email else staged.email end as email
from agent_status_changes(%(sync_date)s, array[%(account)s]) as changes
left join stg_agents as staged
    on staged.account = changes.account
    and staged.agent_id = changes.agent_id
    and staged.sync_date = %(sync_date)s
left join agents as latest
    on latest.account = changes.account
    and latest.agent_id = changes.agent_id
where changes.was_active is not null
    and changes.was_active <> changes.is_active
order by changes.is_active, changes.agent_id
