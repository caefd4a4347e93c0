-- Clear one sync date of stg_agents before it is loaded again.
delete from stg_agents
where sync_date = %(sync_date)s
