-- The agents of one account known so far (one row per agent ever loaded), but those recorded deleted (sql/010_mark_deleted_agents.sql):
-- ExtractAgents asks for the details of those that today's list pages do not name.
select agent_id
from agents
where account = %(account)s
    and deleted_on is null
