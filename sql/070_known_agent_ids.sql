-- The agents known so far (one row per agent ever loaded): ExtractAgents asks for the details of those that
-- today's list pages do not name.
select agent_id
from agents
