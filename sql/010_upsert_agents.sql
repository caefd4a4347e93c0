-- agents <- stg_agents for one sync date; returns the rows inserted, updated and left unchanged.
-- A row last written from a later sync date is left alone, so a backfill never regresses
-- current state; a row whose values did not change is not rewritten.
with staged as (

    select * from stg_agents
    where sync_date = %(sync_date)s

),

upserted as (

insert into agents (
    agent_id, email, name, job_title, language, mobile, phone, time_zone,
    available, deactivated, status, focus_mode, agent_operational_status,
    last_active_at, created_at, updated_at, sync_day, source, ingested_at, sync_date
)
select
    agent_id, email, name, job_title, language, mobile, phone, time_zone,
    available, deactivated, status, focus_mode, agent_operational_status,
    last_active_at, created_at, updated_at, sync_day, source, ingested_at, sync_date
from staged
-- one lock order for every day, so two days upserting side by side cannot deadlock
order by agent_id
on conflict (agent_id) do update set
    email = excluded.email,
    name = excluded.name,
    job_title = excluded.job_title,
    language = excluded.language,
    mobile = excluded.mobile,
    phone = excluded.phone,
    time_zone = excluded.time_zone,
    available = excluded.available,
    deactivated = excluded.deactivated,
    status = excluded.status,
    focus_mode = excluded.focus_mode,
    agent_operational_status = excluded.agent_operational_status,
    last_active_at = excluded.last_active_at,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at,
    sync_day = excluded.sync_day,
    source = excluded.source,
    ingested_at = excluded.ingested_at,
    sync_date = excluded.sync_date
where agents.sync_date <= excluded.sync_date
    and (
        agents.email, agents.name, agents.job_title, agents.language, agents.mobile,
        agents.phone, agents.time_zone, agents.available, agents.deactivated, agents.status,
        agents.focus_mode, agents.agent_operational_status, agents.last_active_at,
        agents.created_at, agents.updated_at, agents.sync_day, agents.source, agents.sync_date
    ) is distinct from (
        excluded.email, excluded.name, excluded.job_title, excluded.language, excluded.mobile,
        excluded.phone, excluded.time_zone, excluded.available, excluded.deactivated, excluded.status,
        excluded.focus_mode, excluded.agent_operational_status, excluded.last_active_at,
        excluded.created_at, excluded.updated_at, excluded.sync_day, excluded.source, excluded.sync_date
    )
returning (xmax = 0) as inserted

)

select
    count(*) filter (where inserted) as rows_inserted,
    count(*) filter (where not inserted) as rows_updated,
    (select count(*) from staged) - count(*) as rows_unchanged
from upserted
