-- record_agent_versions(day, accounts): bring agent_versions up to date with the accounts' staging rows of the day, before
-- SnapshotHistory replaces the day's history rows (it reads them: they say who was recorded that day before).
-- Returns the versions opened and closed, and the agents whose versions were replayed, one row per account.
--
-- Each agent staged that day, or recorded that day before (a re-processed day), takes one of three paths:
-- - none: the day's values (absent fields taken from the version holding the day) equal that version's, and
--   the day is new for the agent, or re-processed with the same fields carried: nothing changes;
-- - open: the agent's first version, or a change on the agent's newest day: the current version is closed at
--   the day, and a version opens with the day's values. Most days' work is only this;
-- - replay: any other case (a change on a late day, a re-processed day that changed, an agent gone from a
--   re-processed day): the agent's versions are computed again from its recorded days (each day's values
--   are those of the version holding it, less the fields the day did not carry; the day itself from staging).
-- So the work follows the agents that changed, and a late day's neighbours, not the number of days loaded.
-- Days recorded before agent_versions existed have no version and are not replayed: versions begin with the
-- first day loaded by this version of the pipeline (re-process older days to include them).
create or replace function record_agent_versions(day date, accounts text[])
returns table (account text, versions_opened bigint, versions_closed bigint, agents_replayed bigint)
language plpgsql
-- a day's agents hashed with their versions in memory (PostgreSQL's default, 4MB, splits the join on disk)
set work_mem = '256MB'
as $$
#variable_conflict use_column
declare
    agents_to_change bigint;  -- version_work's rows
    written bigint;  -- the versions the day inserted
    inserted bigint;
begin
    drop table if exists pg_temp.version_work;
    create temp table version_work on commit drop as
    with

    observed as (
        select account, agent_id, absent_fields, email, name, job_title, language, mobile, phone, time_zone, available,
            deactivated, status, focus_mode, agent_operational_status, last_active_at, created_at, updated_at
        from stg_agents
        where sync_date = day and account = any(accounts)
    ),

    recorded_before as (
        select account, agent_id, coalesce(absent_fields, '{}') as absent_fields
        from agent_status_history
        where sync_date = day and account = any(accounts)
    ),

    -- each agent staged that day, or recorded that day before, once
    agents_of_the_day as (
        select
            coalesce(observed.account, recorded_before.account) as account,
            coalesce(observed.agent_id, recorded_before.agent_id) as agent_id,
            observed.agent_id is not null as is_observed,
            recorded_before.agent_id is not null as was_recorded,
            observed.absent_fields is not distinct from recorded_before.absent_fields as same_fields_carried,
            observed.absent_fields, observed.email, observed.name, observed.job_title, observed.language,
            observed.mobile, observed.phone, observed.time_zone, observed.available, observed.deactivated,
            observed.status, observed.focus_mode, observed.agent_operational_status, observed.last_active_at,
            observed.created_at, observed.updated_at
        from observed
        full join recorded_before
            on recorded_before.account = observed.account and recorded_before.agent_id = observed.agent_id
    ),

    -- the version holding the day (versions of an agent follow each other without a gap, the newest open-ended):
    -- one hash join of the day's agents with the versions that hold it, on most days the current ones
    compared as (
        select
            candidates.account,
            candidates.agent_id,
            candidates.is_observed,
            candidates.was_recorded,
            candidates.same_fields_carried,
            holding.agent_id is not null as is_held,
            holding.valid_to is null as held_by_current,
            case when 'email' = any(candidates.absent_fields) then holding.email else candidates.email end as email,
            case when 'name' = any(candidates.absent_fields) then holding.name else candidates.name end as name,
            case when 'job_title' = any(candidates.absent_fields) then holding.job_title
                else candidates.job_title end as job_title,
            case when 'language' = any(candidates.absent_fields) then holding.language
                else candidates.language end as language,
            case when 'mobile' = any(candidates.absent_fields) then holding.mobile
                else candidates.mobile end as mobile,
            case when 'phone' = any(candidates.absent_fields) then holding.phone else candidates.phone end as phone,
            case when 'time_zone' = any(candidates.absent_fields) then holding.time_zone
                else candidates.time_zone end as time_zone,
            case when 'available' = any(candidates.absent_fields) then holding.available
                else candidates.available end as available,
            candidates.deactivated,
            candidates.status,
            case when 'focus_mode' = any(candidates.absent_fields) then holding.focus_mode
                else candidates.focus_mode end as focus_mode,
            case when 'agent_operational_status' = any(candidates.absent_fields) then holding.agent_operational_status
                else candidates.agent_operational_status end as agent_operational_status,
            case when 'last_active_at' = any(candidates.absent_fields) then holding.last_active_at
                else candidates.last_active_at end as last_active_at,
            case when 'created_at' = any(candidates.absent_fields) then holding.created_at
                else candidates.created_at end as created_at,
            case when 'updated_at' = any(candidates.absent_fields) then holding.updated_at
                else candidates.updated_at end as updated_at,
            holding.email as held_email, holding.name as held_name, holding.job_title as held_job_title,
            holding.language as held_language, holding.mobile as held_mobile, holding.phone as held_phone,
            holding.time_zone as held_time_zone, holding.available as held_available,
            holding.deactivated as held_deactivated, holding.status as held_status,
            holding.focus_mode as held_focus_mode, holding.agent_operational_status as held_agent_operational_status,
            holding.last_active_at as held_last_active_at, holding.created_at as held_created_at,
            holding.updated_at as held_updated_at
        from agents_of_the_day as candidates
        left join agent_versions as holding
            on holding.account = candidates.account and holding.agent_id = candidates.agent_id
            and holding.valid_from <= day and (holding.valid_to is null or holding.valid_to > day)
    ),

    classified as (
        select
            *,
            (email, name, job_title, language, mobile, phone, time_zone, available, deactivated, status, focus_mode,
             agent_operational_status, last_active_at, created_at, updated_at)
            is distinct from
            (held_email, held_name, held_job_title, held_language, held_mobile, held_phone, held_time_zone,
             held_available, held_deactivated, held_status, held_focus_mode, held_agent_operational_status,
             held_last_active_at, held_created_at, held_updated_at) as changed
        from compared
    )

    select
        account, agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated,
        status, focus_mode, agent_operational_status, last_active_at, created_at, updated_at,
        case
            when not is_observed then 'replay'
            when was_recorded then 'replay'
            -- no version on or before the day: the first, unless the agent has later ones
            when not is_held and not exists (select 1 from agent_versions as later
                                             where later.account = classified.account
                                                 and later.agent_id = classified.agent_id) then 'open'
            when not is_held then 'replay'
            -- a change on the agent's newest day
            when held_by_current and not exists (
                select 1 from agent_status_history as later
                where later.account = classified.account and later.agent_id = classified.agent_id
                    and later.sync_date > day) then 'open'
            else 'replay'
        end as path,
        is_held and held_by_current as closes_current
    from classified
    -- unchanged, and a day new for the agent or carrying the same fields as before: nothing to do
    where not (is_held and not changed and (not was_recorded or same_fields_carried));

    get diagnostics agents_to_change = row_count;

    -- open: close the current version at the day, then open the day's
    update agent_versions as version
    set valid_to = day
    from version_work as work
    where work.path = 'open' and work.closes_current
        and version.account = work.account and version.agent_id = work.agent_id and version.valid_to is null;

    insert into agent_versions (
        account, agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated,
        status, focus_mode, agent_operational_status, last_active_at, created_at, updated_at, valid_from, valid_to
    )
    select
        account, agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated,
        status, focus_mode, agent_operational_status, last_active_at, created_at, updated_at, day, null
    from version_work
    where path = 'open';

    get diagnostics written = row_count;

    -- replay: every recorded day of these agents (the day itself from staging), their values carried forward
    -- field by field, runs of equal values become the versions
    if written < agents_to_change then  -- not every agent to change opened a version: some replay
        drop table if exists pg_temp.version_replay;
        create temp table version_replay on commit drop as
        with

        replayed_agents as (
            select account, agent_id from version_work where path = 'replay'
        ),

        recorded_days as (
            select
                history.account,
                history.agent_id,
                history.sync_date as recorded_on,
                coalesce(history.absent_fields, '{}') as absent_fields,
                version.email, version.name, version.job_title, version.language, version.mobile, version.phone,
                version.time_zone, version.available, version.deactivated, version.status, version.focus_mode,
                version.agent_operational_status, version.last_active_at, version.created_at, version.updated_at
            from agent_status_history as history
            inner join agent_versions as version
                on version.account = history.account
                and version.agent_id = history.agent_id
                and history.sync_date >= version.valid_from
                and (version.valid_to is null or history.sync_date < version.valid_to)
            where (history.account, history.agent_id) in (select account, agent_id from replayed_agents)
                and history.sync_date <> day

            union all

            select
                staged.account, staged.agent_id, day as recorded_on, staged.absent_fields, staged.email, staged.name,
                staged.job_title, staged.language, staged.mobile, staged.phone, staged.time_zone, staged.available,
                staged.deactivated,
                staged.status, staged.focus_mode, staged.agent_operational_status, staged.last_active_at,
                staged.created_at, staged.updated_at
            from stg_agents as staged
            where staged.sync_date = day
                and (staged.account, staged.agent_id) in (select account, agent_id from replayed_agents)
        ),

        carried as (
            select
                *,
                count(*) filter (where not 'email' = any(absent_fields)) over by_day as carried_email,
                count(*) filter (where not 'name' = any(absent_fields)) over by_day as carried_name,
                count(*) filter (where not 'job_title' = any(absent_fields)) over by_day as carried_job_title,
                count(*) filter (where not 'language' = any(absent_fields)) over by_day as carried_language,
                count(*) filter (where not 'mobile' = any(absent_fields)) over by_day as carried_mobile,
                count(*) filter (where not 'phone' = any(absent_fields)) over by_day as carried_phone,
                count(*) filter (where not 'time_zone' = any(absent_fields)) over by_day as carried_time_zone,
                count(*) filter (where not 'available' = any(absent_fields)) over by_day as carried_available,
                count(*) filter (where not 'focus_mode' = any(absent_fields)) over by_day as carried_focus_mode,
                count(*) filter (where not 'agent_operational_status' = any(absent_fields))
                    over by_day as carried_agent_operational_status,
                count(*) filter (where not 'last_active_at' = any(absent_fields)) over by_day as carried_last_active_at,
                count(*) filter (where not 'created_at' = any(absent_fields)) over by_day as carried_created_at,
                count(*) filter (where not 'updated_at' = any(absent_fields)) over by_day as carried_updated_at
            from recorded_days
            window by_day as (partition by account, agent_id order by recorded_on)
        ),

        effective as (
            select
                account,
                agent_id,
                recorded_on,
                case when carried_email > 0 then first_value(email)
                    over (partition by account, agent_id, carried_email order by recorded_on) end as email,
                case when carried_name > 0 then first_value(name)
                    over (partition by account, agent_id, carried_name order by recorded_on) end as name,
                case when carried_job_title > 0 then first_value(job_title)
                    over (partition by account, agent_id, carried_job_title order by recorded_on) end as job_title,
                case when carried_language > 0 then first_value(language)
                    over (partition by account, agent_id, carried_language order by recorded_on) end as language,
                case when carried_mobile > 0 then first_value(mobile)
                    over (partition by account, agent_id, carried_mobile order by recorded_on) end as mobile,
                case when carried_phone > 0 then first_value(phone)
                    over (partition by account, agent_id, carried_phone order by recorded_on) end as phone,
                case when carried_time_zone > 0 then first_value(time_zone)
                    over (partition by account, agent_id, carried_time_zone order by recorded_on) end as time_zone,
                case when carried_available > 0 then first_value(available)
                    over (partition by account, agent_id, carried_available order by recorded_on) end as available,
                deactivated,
                status,
                case when carried_focus_mode > 0 then first_value(focus_mode)
                    over (partition by account, agent_id, carried_focus_mode order by recorded_on) end as focus_mode,
                case when carried_agent_operational_status > 0 then first_value(agent_operational_status)
                    over (partition by account, agent_id, carried_agent_operational_status order by recorded_on)
                    end as agent_operational_status,
                case when carried_last_active_at > 0 then first_value(last_active_at)
                    over (partition by account, agent_id, carried_last_active_at order by recorded_on)
                    end as last_active_at,
                case when carried_created_at > 0 then first_value(created_at)
                    over (partition by account, agent_id, carried_created_at order by recorded_on) end as created_at,
                case when carried_updated_at > 0 then first_value(updated_at)
                    over (partition by account, agent_id, carried_updated_at order by recorded_on) end as updated_at
            from carried
        ),

        starts as (
            select
                *,
                (email, name, job_title, language, mobile, phone, time_zone, available, deactivated, status,
                 focus_mode, agent_operational_status, last_active_at, created_at, updated_at)
                is distinct from lag((email, name, job_title, language, mobile, phone, time_zone, available,
                                      deactivated, status, focus_mode, agent_operational_status, last_active_at,
                                      created_at, updated_at))
                    over (partition by account, agent_id order by recorded_on) as starts_version
            from effective
        )

        select
            account, agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated,
            status, focus_mode, agent_operational_status, last_active_at, created_at, updated_at,
            recorded_on as valid_from,
            lead(recorded_on) over (partition by account, agent_id order by recorded_on) as valid_to
        from starts
        where starts_version;

        delete from agent_versions
        where (account, agent_id) in (select account, agent_id from version_work where path = 'replay');

        insert into agent_versions (
            account, agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated,
            status, focus_mode, agent_operational_status, last_active_at, created_at, updated_at, valid_from, valid_to
        )
        select
            account, agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated,
            status, focus_mode, agent_operational_status, last_active_at, created_at, updated_at, valid_from, valid_to
        from version_replay;

        get diagnostics inserted = row_count;
        written := written + inserted;
    end if;

    -- planner statistics once the day wrote more versions than autovacuum waits for (50 rows and a tenth of the
    -- table): the next day's comparison is planned from them (a hash join of every version holding the day)
    if written > 50 + 0.1 * greatest((select reltuples from pg_class where oid = 'agent_versions'::regclass), 0)
    then
        analyze agent_versions;
    end if;

    -- each open closes the current version when there is one (closes_current), and inserts one
    return query
    with

    counted as (
        select
            work.account,
            count(*) filter (where work.path = 'open') as opened,
            count(*) filter (where work.path = 'open' and work.closes_current) as closed,
            count(*) filter (where work.path = 'replay') as replayed
        from version_work as work
        group by work.account
    )

    select selected.account, coalesce(counted.opened, 0), coalesce(counted.closed, 0), coalesce(counted.replayed, 0)
    from unnest(accounts) as selected (account)
    left join counted on counted.account = selected.account;
end
$$;

-- the function of databases created before accounts
drop function if exists record_agent_versions(date);
