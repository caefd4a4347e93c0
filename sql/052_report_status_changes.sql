-- Agents whose status changed on the report's day (not their first recorded day), with who they are.
select
    changes.agent_id,
    changes.is_active,
    staged.name,
    staged.email
from agent_status_changes(%(sync_date)s) as changes
left join stg_agents as staged
    on staged.agent_id = changes.agent_id
    and staged.sync_date = %(sync_date)s
where changes.was_active is not null
    and changes.was_active <> changes.is_active
order by changes.is_active, changes.agent_id
