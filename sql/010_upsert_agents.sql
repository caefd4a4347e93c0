-- agents <- stg_agents for one sync date of the given accounts, field by field; returns the agents inserted,
-- changed and unchanged, one row per account.
--
-- Each field keeps the value of the latest sync date that carried it: a field the day did not carry
-- (stg_agents.absent_fields) keeps its stored value, and a day never replaces a value that came from a
-- later day, so days may load in any order with the same result. A row is rewritten only when something
-- in it moves; it counts as changed only when a loaded value did (a row written only to advance its
-- sync_date counts as unchanged). Run after sql/010_lock_agents.sql: the stored rows read here are the
-- rows the insert meets.
with staged as (

    select * from stg_agents
    where sync_date = %(sync_date)s
        and account = any(%(accounts)s::text[])

),

merged as (

    select
        staged.account,
        staged.agent_id,
        stored.agent_id is null as is_new,
        case when taken.email then staged.email else stored.email end as email,
        case when taken.name then staged.name else stored.name end as name,
        case when taken.job_title then staged.job_title else stored.job_title end as job_title,
        case when taken.language then staged.language else stored.language end as language,
        case when taken.mobile then staged.mobile else stored.mobile end as mobile,
        case when taken.phone then staged.phone else stored.phone end as phone,
        case when taken.time_zone then staged.time_zone else stored.time_zone end as time_zone,
        case when taken.available then staged.available else stored.available end as available,
        case when taken.deactivated then staged.deactivated else stored.deactivated end as deactivated,
        case when taken.status then staged.status else stored.status end as status,
        case when taken.focus_mode then staged.focus_mode else stored.focus_mode end as focus_mode,
        case when taken.agent_operational_status
            then staged.agent_operational_status else stored.agent_operational_status end
            as agent_operational_status,
        case when taken.last_active_at then staged.last_active_at else stored.last_active_at end as last_active_at,
        case when taken.created_at then staged.created_at else stored.created_at end as created_at,
        case when taken.updated_at then staged.updated_at else stored.updated_at end as updated_at,
        dated.new_dates as field_sync_dates,
        case when dated.new_sync_date = staged.sync_date then staged.sync_day else stored.sync_day end as sync_day,
        case when dated.new_sync_date = staged.sync_date then staged.source else stored.source end as source,
        staged.ingested_at,
        dated.new_sync_date as sync_date,
        dated.new_first_sync_date as first_sync_date,
        stored.agent_id is not null and (
            taken.email and staged.email is distinct from stored.email
            or taken.name and staged.name is distinct from stored.name
            or taken.job_title and staged.job_title is distinct from stored.job_title
            or taken.language and staged.language is distinct from stored.language
            or taken.mobile and staged.mobile is distinct from stored.mobile
            or taken.phone and staged.phone is distinct from stored.phone
            or taken.time_zone and staged.time_zone is distinct from stored.time_zone
            or taken.available and staged.available is distinct from stored.available
            or taken.deactivated and staged.deactivated is distinct from stored.deactivated
            or taken.status and staged.status is distinct from stored.status
            or taken.focus_mode and staged.focus_mode is distinct from stored.focus_mode
            or taken.agent_operational_status
                and staged.agent_operational_status is distinct from stored.agent_operational_status
            or taken.last_active_at and staged.last_active_at is distinct from stored.last_active_at
            or taken.created_at and staged.created_at is distinct from stored.created_at
            or taken.updated_at and staged.updated_at is distinct from stored.updated_at
        ) as changed,
        stored.sync_date is distinct from dated.new_sync_date
            or stored.field_sync_dates is distinct from dated.new_dates
            or stored.first_sync_date is distinct from dated.new_first_sync_date as moved
    from staged
    left join agents as stored
        on stored.account = staged.account
        and stored.agent_id = staged.agent_id
    cross join lateral (
        select
            staged.absent_fields as absent,
            staged.sync_date as day,
            greatest(stored.sync_date, staged.sync_date) as new_sync_date,
            -- the first day a record named the agent (an unseen row never does: sql/011_stage_unseen_agents.sql)
            least(stored.first_sync_date, case when staged.source <> 'not_seen' then staged.sync_date end)
                as new_first_sync_date,
            case
                -- the common case: the day carries every field, and every stored value is as old as its row
                when cardinality(staged.absent_fields) = 0 and coalesce(stored.field_sync_dates = '{}', true)
                    then '{}'::jsonb
                -- a day as new as the stored row (or a new agent) takes every field it carries;
                -- the fields it lacks keep the date of their stored value
                when staged.sync_date >= coalesce(stored.sync_date, '-infinity') then (
                    select coalesce(jsonb_object_agg(field, field_day), '{}')
                    from unnest(staged.absent_fields) as field
                    cross join lateral (
                        select coalesce((stored.field_sync_dates ->> field)::date, stored.sync_date, '-infinity')
                            as field_day
                    ) as kept
                    where field_day <> staged.sync_date
                )
                -- a late day takes only the fields it carries whose stored value is older than itself
                else (
                    select coalesce(jsonb_object_agg(
                        field,
                        case
                            when field <> all(staged.absent_fields) and (field_day #>> '{}')::date <= staged.sync_date
                                then to_jsonb(staged.sync_date)
                            else field_day
                        end
                    ), '{}')
                    from jsonb_each(stored.field_sync_dates) as older (field, field_day)
                )
            end as new_dates
        offset 0  -- computed once per row, not once per use
    ) as dated
    cross join lateral (
        select
            agent_field_taken('email', absent, day, new_dates, new_sync_date) as email,
            agent_field_taken('name', absent, day, new_dates, new_sync_date) as name,
            agent_field_taken('job_title', absent, day, new_dates, new_sync_date) as job_title,
            agent_field_taken('language', absent, day, new_dates, new_sync_date) as language,
            agent_field_taken('mobile', absent, day, new_dates, new_sync_date) as mobile,
            agent_field_taken('phone', absent, day, new_dates, new_sync_date) as phone,
            agent_field_taken('time_zone', absent, day, new_dates, new_sync_date) as time_zone,
            agent_field_taken('available', absent, day, new_dates, new_sync_date) as available,
            agent_field_taken('deactivated', absent, day, new_dates, new_sync_date) as deactivated,
            agent_field_taken('status', absent, day, new_dates, new_sync_date) as status,
            agent_field_taken('focus_mode', absent, day, new_dates, new_sync_date) as focus_mode,
            agent_field_taken('agent_operational_status', absent, day, new_dates, new_sync_date) as agent_operational_status,
            agent_field_taken('last_active_at', absent, day, new_dates, new_sync_date) as last_active_at,
            agent_field_taken('created_at', absent, day, new_dates, new_sync_date) as created_at,
            agent_field_taken('updated_at', absent, day, new_dates, new_sync_date) as updated_at
    ) as taken

),

upserted as (

    insert into agents (
        account, agent_id, email, name, job_title, language, mobile, phone, time_zone,
        available, deactivated, status, focus_mode, agent_operational_status,
        last_active_at, created_at, updated_at, field_sync_dates, sync_day, source, ingested_at, sync_date,
        first_sync_date
    )
    select
        account, agent_id, email, name, job_title, language, mobile, phone, time_zone,
        available, deactivated, status, focus_mode, agent_operational_status,
        last_active_at, created_at, updated_at, field_sync_dates, sync_day, source, ingested_at, sync_date,
        first_sync_date
    from merged
    where is_new or changed or moved
    -- one lock order for every day
    order by account, agent_id
    on conflict (account, agent_id) do update set
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
        field_sync_dates = excluded.field_sync_dates,
        sync_day = excluded.sync_day,
        source = excluded.source,
        ingested_at = excluded.ingested_at,
        sync_date = excluded.sync_date,
        first_sync_date = excluded.first_sync_date

)

select
    selected.account,
    count(*) filter (where merged.is_new) as rows_inserted,
    count(*) filter (where merged.changed) as rows_updated,
    count(*) filter (where not merged.is_new and not merged.changed) as rows_unchanged
from unnest(%(accounts)s::text[]) as selected (account)
left join merged on merged.account = selected.account
group by selected.account
