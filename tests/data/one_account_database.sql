-- A database written by the one-account pipeline, before accounts: the two fixture days loaded with
-- RangeDaily --of SnapshotHistory (pg_dump --inserts). tests/test_accounts_pipeline.py upgrades it in place.
--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: agent_field_taken(text, text[], date, jsonb, date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.agent_field_taken(field text, absent_fields text[], day date, field_sync_dates jsonb, sync_date date) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
    select field <> all(absent_fields)
        and coalesce((field_sync_dates ->> field)::date, sync_date) = day
$$;


--
-- Name: agent_status_changes(date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.agent_status_changes(day date) RETURNS TABLE(agent_id bigint, is_active boolean, was_active boolean)
    LANGUAGE sql STABLE
    AS $$
    with latest_earlier_day as (

        select max(sync_date) as sync_date
        from agent_status_history
        where sync_date < day

    )

    select
        today.agent_id,
        today.is_active,
        case
            when latest.agent_id is not null then latest.is_active
            else (
                select earlier.is_active
                from agent_status_history as earlier
                where earlier.agent_id = today.agent_id
                    and earlier.sync_date < day
                order by earlier.sync_date desc
                limit 1
            )
        end as was_active
    from agent_status_history as today
    left join agent_status_history as latest
        on latest.agent_id = today.agent_id
        and latest.sync_date = (select sync_date from latest_earlier_day)
        and latest.sync_date < day
    where today.sync_date = day
$$;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: agent_versions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_versions (
    agent_id bigint NOT NULL,
    email text,
    name text,
    job_title text,
    language text,
    mobile text,
    phone text,
    time_zone text,
    available boolean,
    deactivated boolean NOT NULL,
    status text NOT NULL,
    focus_mode boolean,
    agent_operational_status text,
    last_active_at timestamp with time zone,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    valid_from date NOT NULL,
    valid_to date,
    is_current boolean GENERATED ALWAYS AS ((valid_to IS NULL)) STORED NOT NULL,
    CONSTRAINT agent_versions_check CHECK ((valid_to > valid_from)),
    CONSTRAINT agent_versions_status_check CHECK ((status = ANY (ARRAY['active'::text, 'inactive'::text])))
);


--
-- Name: agents_as_of(date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.agents_as_of(day date) RETURNS SETOF public.agent_versions
    LANGUAGE sql STABLE
    AS $$
    select *
    from agent_versions
    where valid_from <= day and (valid_to is null or valid_to > day)
$$;


--
-- Name: create_day_partition(regclass, date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.create_day_partition(parent regclass, day date) RETURNS regclass
    LANGUAGE plpgsql
    AS $$
declare
    partition_name text := day_partition_name(parent, day);
begin
    if to_regclass(partition_name) is null then
        execute format('lock table only %s in share update exclusive mode', parent);  -- not the partitions
        if to_regclass(partition_name) is null then  -- created by another run while this one waited
            execute format('create table %s (like %s including all)', partition_name, parent);
            execute format('alter table %s attach partition %s for values from (%L) to (%L)',
                           parent, partition_name, day, day + 1);
        end if;
    end if;
    return partition_name::regclass;
end
$$;


--
-- Name: day_partition_name(regclass, date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.day_partition_name(parent regclass, day date) RETURNS text
    LANGUAGE sql STABLE
    AS $$
    select format('%I.%I', parent_schema.nspname, parent_table.relname || '_p' || to_char(day, 'YYYYMMDD'))
    from pg_class as parent_table
    inner join pg_namespace as parent_schema on parent_schema.oid = parent_table.relnamespace
    where parent_table.oid = parent
$$;


--
-- Name: drop_day_partitions(regclass, date[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.drop_day_partitions(parent regclass, days date[]) RETURNS SETOF text
    LANGUAGE plpgsql
    AS $$
declare
    day_partition regclass;
begin
    for day_partition in
        select to_regclass(day_partition_name(parent, day)) from unnest(days) as day order by day
    loop
        if day_partition is not null then
            return next day_partition::text;  -- as the search path shows it: stg_agents_p20240102
            execute format('drop table %s', day_partition);
        end if;
    end loop;
end
$$;


--
-- Name: move_into_day_partitions(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.move_into_day_partitions(name text) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
    old_table regclass := to_regclass(name || '_unpartitioned');
    day date;
    columns text;
begin
    if old_table is null then
        return;
    end if;
    for day in execute format('select distinct sync_date from %s', old_table) loop
        perform create_day_partition(name::regclass, day);
    end loop;
    select string_agg(quote_ident(new_column.attname), ', ' order by new_column.attnum)
    into columns
    from pg_attribute as new_column
    inner join pg_attribute as old_column
        on old_column.attname = new_column.attname
        and old_column.attrelid = old_table
        and old_column.attnum > 0
        and not old_column.attisdropped
    where new_column.attrelid = name::regclass
        and new_column.attnum > 0
        and not new_column.attisdropped;
    execute format('insert into %s (%s) select %s from %s', name::regclass, columns, columns, old_table);
    execute format('drop table %s', old_table);
end
$$;


--
-- Name: record_agent_versions(date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.record_agent_versions(day date) RETURNS TABLE(versions_opened bigint, versions_closed bigint, agents_replayed bigint)
    LANGUAGE plpgsql
    SET work_mem TO '256MB'
    AS $$
declare
    opened bigint;
    closed bigint;
    replayed bigint;
begin
    drop table if exists pg_temp.version_work;
    create temp table version_work on commit drop as
    with

    observed as (
        select agent_id, absent_fields, email, name, job_title, language, mobile, phone, time_zone, available,
            deactivated, status, focus_mode, agent_operational_status, last_active_at, created_at, updated_at
        from stg_agents
        where sync_date = day
    ),

    recorded_before as (
        select agent_id, coalesce(absent_fields, '{}') as absent_fields
        from agent_status_history
        where sync_date = day
    ),

    agents_of_the_day as (
        select agent_id from observed
        union
        select agent_id from recorded_before
    ),

    -- the version holding the day: on most days the agent's current one (one join), else an earlier one
    current_holding as (
        select version.*
        from agents_of_the_day as candidates
        inner join agent_versions as version
            on version.agent_id = candidates.agent_id and version.valid_to is null and version.valid_from <= day
    ),

    earlier_holding as (
        select version.*
        from agents_of_the_day as candidates
        cross join lateral (
            select *
            from agent_versions as version
            where version.agent_id = candidates.agent_id and version.valid_from <= day
            order by version.valid_from desc
            limit 1
        ) as version
        where not exists (select 1 from current_holding where current_holding.agent_id = candidates.agent_id)
    ),

    holding as (
        select * from current_holding
        union all
        select * from earlier_holding
    ),

    compared as (
        select
            candidates.agent_id,
            observed.agent_id is not null as is_observed,
            recorded_before.agent_id is not null as was_recorded,
            observed.absent_fields is not distinct from recorded_before.absent_fields as same_fields_carried,
            holding.agent_id is not null as is_held,
            holding.valid_to is null as held_by_current,
            case when 'email' = any(observed.absent_fields) then holding.email else observed.email end as email,
            case when 'name' = any(observed.absent_fields) then holding.name else observed.name end as name,
            case when 'job_title' = any(observed.absent_fields) then holding.job_title
                else observed.job_title end as job_title,
            case when 'language' = any(observed.absent_fields) then holding.language
                else observed.language end as language,
            case when 'mobile' = any(observed.absent_fields) then holding.mobile else observed.mobile end as mobile,
            case when 'phone' = any(observed.absent_fields) then holding.phone else observed.phone end as phone,
            case when 'time_zone' = any(observed.absent_fields) then holding.time_zone
                else observed.time_zone end as time_zone,
            case when 'available' = any(observed.absent_fields) then holding.available
                else observed.available end as available,
            observed.deactivated,
            observed.status,
            case when 'focus_mode' = any(observed.absent_fields) then holding.focus_mode
                else observed.focus_mode end as focus_mode,
            case when 'agent_operational_status' = any(observed.absent_fields) then holding.agent_operational_status
                else observed.agent_operational_status end as agent_operational_status,
            case when 'last_active_at' = any(observed.absent_fields) then holding.last_active_at
                else observed.last_active_at end as last_active_at,
            case when 'created_at' = any(observed.absent_fields) then holding.created_at
                else observed.created_at end as created_at,
            case when 'updated_at' = any(observed.absent_fields) then holding.updated_at
                else observed.updated_at end as updated_at,
            holding.email as held_email, holding.name as held_name, holding.job_title as held_job_title,
            holding.language as held_language, holding.mobile as held_mobile, holding.phone as held_phone,
            holding.time_zone as held_time_zone, holding.available as held_available,
            holding.deactivated as held_deactivated, holding.status as held_status,
            holding.focus_mode as held_focus_mode, holding.agent_operational_status as held_agent_operational_status,
            holding.last_active_at as held_last_active_at, holding.created_at as held_created_at,
            holding.updated_at as held_updated_at
        from agents_of_the_day as candidates
        left join observed on observed.agent_id = candidates.agent_id
        left join recorded_before on recorded_before.agent_id = candidates.agent_id
        left join holding on holding.agent_id = candidates.agent_id
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
        agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated, status,
        focus_mode, agent_operational_status, last_active_at, created_at, updated_at,
        case
            when not is_observed then 'replay'
            when was_recorded then 'replay'
            -- no version on or before the day: the first, unless the agent has later ones
            when not is_held and not exists (select 1 from agent_versions as later
                                             where later.agent_id = classified.agent_id) then 'open'
            when not is_held then 'replay'
            -- a change on the agent's newest day
            when held_by_current and not exists (
                select 1 from agent_status_history as later
                where later.agent_id = classified.agent_id and later.sync_date > day) then 'open'
            else 'replay'
        end as path,
        is_held and held_by_current as closes_current
    from classified
    -- unchanged, and a day new for the agent or carrying the same fields as before: nothing to do
    where not (is_held and not changed and (not was_recorded or same_fields_carried));

    -- open: close the current version at the day, then open the day's
    update agent_versions as version
    set valid_to = day
    from version_work as work
    where work.path = 'open' and work.closes_current
        and version.agent_id = work.agent_id and version.valid_to is null;
    get diagnostics closed = row_count;

    insert into agent_versions (
        agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated, status,
        focus_mode, agent_operational_status, last_active_at, created_at, updated_at, valid_from, valid_to
    )
    select
        agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated, status,
        focus_mode, agent_operational_status, last_active_at, created_at, updated_at, day, null
    from version_work
    where path = 'open';
    get diagnostics opened = row_count;

    -- replay: every recorded day of these agents (the day itself from staging), their values carried forward
    -- field by field, runs of equal values become the versions
    drop table if exists pg_temp.version_replay;
    create temp table version_replay on commit drop as
    with

    replayed_agents as (
        select agent_id from version_work where path = 'replay'
    ),

    recorded_days as (
        select
            history.agent_id,
            history.sync_date as recorded_on,
            coalesce(history.absent_fields, '{}') as absent_fields,
            version.email, version.name, version.job_title, version.language, version.mobile, version.phone,
            version.time_zone, version.available, version.deactivated, version.status, version.focus_mode,
            version.agent_operational_status, version.last_active_at, version.created_at, version.updated_at
        from agent_status_history as history
        inner join agent_versions as version
            on version.agent_id = history.agent_id
            and history.sync_date >= version.valid_from
            and (version.valid_to is null or history.sync_date < version.valid_to)
        where history.agent_id in (select agent_id from replayed_agents)
            and history.sync_date <> day

        union all

        select
            staged.agent_id, day as recorded_on, staged.absent_fields, staged.email, staged.name, staged.job_title,
            staged.language, staged.mobile, staged.phone, staged.time_zone, staged.available, staged.deactivated,
            staged.status, staged.focus_mode, staged.agent_operational_status, staged.last_active_at,
            staged.created_at, staged.updated_at
        from stg_agents as staged
        where staged.sync_date = day and staged.agent_id in (select agent_id from replayed_agents)
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
        window by_day as (partition by agent_id order by recorded_on)
    ),

    effective as (
        select
            agent_id,
            recorded_on,
            case when carried_email > 0 then first_value(email)
                over (partition by agent_id, carried_email order by recorded_on) end as email,
            case when carried_name > 0 then first_value(name)
                over (partition by agent_id, carried_name order by recorded_on) end as name,
            case when carried_job_title > 0 then first_value(job_title)
                over (partition by agent_id, carried_job_title order by recorded_on) end as job_title,
            case when carried_language > 0 then first_value(language)
                over (partition by agent_id, carried_language order by recorded_on) end as language,
            case when carried_mobile > 0 then first_value(mobile)
                over (partition by agent_id, carried_mobile order by recorded_on) end as mobile,
            case when carried_phone > 0 then first_value(phone)
                over (partition by agent_id, carried_phone order by recorded_on) end as phone,
            case when carried_time_zone > 0 then first_value(time_zone)
                over (partition by agent_id, carried_time_zone order by recorded_on) end as time_zone,
            case when carried_available > 0 then first_value(available)
                over (partition by agent_id, carried_available order by recorded_on) end as available,
            deactivated,
            status,
            case when carried_focus_mode > 0 then first_value(focus_mode)
                over (partition by agent_id, carried_focus_mode order by recorded_on) end as focus_mode,
            case when carried_agent_operational_status > 0 then first_value(agent_operational_status)
                over (partition by agent_id, carried_agent_operational_status order by recorded_on)
                end as agent_operational_status,
            case when carried_last_active_at > 0 then first_value(last_active_at)
                over (partition by agent_id, carried_last_active_at order by recorded_on) end as last_active_at,
            case when carried_created_at > 0 then first_value(created_at)
                over (partition by agent_id, carried_created_at order by recorded_on) end as created_at,
            case when carried_updated_at > 0 then first_value(updated_at)
                over (partition by agent_id, carried_updated_at order by recorded_on) end as updated_at
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
                over (partition by agent_id order by recorded_on) as starts_version
        from effective
    )

    select
        agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated, status,
        focus_mode, agent_operational_status, last_active_at, created_at, updated_at,
        recorded_on as valid_from,
        lead(recorded_on) over (partition by agent_id order by recorded_on) as valid_to
    from starts
    where starts_version;

    delete from agent_versions
    where agent_id in (select agent_id from version_work where path = 'replay');

    insert into agent_versions (
        agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated, status,
        focus_mode, agent_operational_status, last_active_at, created_at, updated_at, valid_from, valid_to
    )
    select
        agent_id, email, name, job_title, language, mobile, phone, time_zone, available, deactivated, status,
        focus_mode, agent_operational_status, last_active_at, created_at, updated_at, valid_from, valid_to
    from version_replay;

    select count(*) into replayed from version_work where path = 'replay';
    return query select opened, closed, replayed;
end
$$;


--
-- Name: set_aside_unpartitioned(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.set_aside_unpartitioned(name text) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
declare
    old_table regclass := to_regclass(name);
    old_index regclass;
begin
    if not exists (select from pg_class where oid = old_table and relkind = 'r') then
        return false;
    end if;
    for old_index in select indexrelid from pg_index where indrelid = old_table loop
        execute format('alter index %s rename to %I', old_index,
                       (select relname from pg_class where oid = old_index) || '_unpartitioned');
    end loop;
    execute format('alter table %s rename to %I', old_table, name || '_unpartitioned');
    return true;
end
$$;


--
-- Name: truncate_day_partition(regclass, date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.truncate_day_partition(parent regclass, day date) RETURNS void
    LANGUAGE plpgsql
    AS $$
begin
    execute format('truncate %s', day_partition_name(parent, day));
end
$$;


--
-- Name: agent_pipeline_errors; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_pipeline_errors (
    id bigint NOT NULL,
    agent_id bigint,
    sync_date date NOT NULL,
    source_file text NOT NULL,
    record_index integer,
    error_type text NOT NULL,
    error_message text NOT NULL,
    raw_record jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT agent_pipeline_errors_error_type_check CHECK ((error_type = ANY (ARRAY['VALIDATION_ERROR'::text, 'VALIDATION_WARNING'::text, 'PARSE_ERROR'::text, 'FETCH_ERROR'::text, 'UNREAD_FILE'::text])))
);


--
-- Name: agent_pipeline_errors_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.agent_pipeline_errors ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.agent_pipeline_errors_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: agent_pipeline_runs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_pipeline_runs (
    run_id text NOT NULL,
    task text NOT NULL,
    sync_date date NOT NULL,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone NOT NULL,
    files_read integer,
    records_read integer,
    records_valid integer,
    records_invalid integer,
    records_warned integer,
    parse_errors integer,
    list_records integer,
    duplicates_resolved integer,
    agents_staged integer,
    agents_active integer,
    agents_deactivated integer,
    agents_reactivated integer,
    staging_rows integer,
    error_rows integer,
    rows_inserted integer,
    rows_updated integer,
    rows_unchanged integer,
    history_rows integer,
    list_pages integer,
    details_requested integer,
    details_fetched integer,
    details_missing integer,
    details_failed integer,
    requests integer,
    retries integer,
    throttled_seconds double precision,
    fetch_errors integer,
    versions_opened integer,
    versions_closed integer,
    agents_replayed integer,
    files_unread integer,
    agents_quarantined integer,
    agents_unseen integer,
    agents_deleted integer
);


--
-- Name: agent_status_history; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_status_history (
    agent_id bigint NOT NULL,
    sync_date date NOT NULL,
    is_active boolean NOT NULL,
    absent_fields text[],
    seen boolean DEFAULT true NOT NULL
)
PARTITION BY RANGE (sync_date);


--
-- Name: agent_status_history_p20240101; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_status_history_p20240101 (
    agent_id bigint NOT NULL,
    sync_date date NOT NULL,
    is_active boolean NOT NULL,
    absent_fields text[],
    seen boolean DEFAULT true NOT NULL
);


--
-- Name: agent_status_history_p20240102; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_status_history_p20240102 (
    agent_id bigint NOT NULL,
    sync_date date NOT NULL,
    is_active boolean NOT NULL,
    absent_fields text[],
    seen boolean DEFAULT true NOT NULL
);


--
-- Name: agent_status_periods; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.agent_status_periods AS
 WITH history AS (
         SELECT agent_status_history.agent_id,
            agent_status_history.sync_date,
            agent_status_history.is_active,
            lag(agent_status_history.is_active) OVER (PARTITION BY agent_status_history.agent_id ORDER BY agent_status_history.sync_date) AS was_active
           FROM public.agent_status_history
        ), numbered AS (
         SELECT history.agent_id,
            history.sync_date,
            history.is_active,
            sum(
                CASE
                    WHEN (history.was_active IS DISTINCT FROM history.is_active) THEN 1
                    ELSE 0
                END) OVER (PARTITION BY history.agent_id ORDER BY history.sync_date) AS period
           FROM history
        ), periods AS (
         SELECT numbered.agent_id,
            numbered.is_active,
            min(numbered.sync_date) AS valid_from
           FROM numbered
          GROUP BY numbered.agent_id, numbered.period, numbered.is_active
        )
 SELECT periods.agent_id,
    periods.is_active,
    periods.valid_from,
    lead(periods.valid_from) OVER (PARTITION BY periods.agent_id ORDER BY periods.valid_from) AS valid_to,
    (lead(periods.valid_from) OVER (PARTITION BY periods.agent_id ORDER BY periods.valid_from) IS NULL) AS is_current
   FROM periods;


--
-- Name: agents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agents (
    agent_id bigint NOT NULL,
    email text,
    name text,
    job_title text,
    language text,
    mobile text,
    phone text,
    time_zone text,
    available boolean,
    deactivated boolean NOT NULL,
    status text NOT NULL,
    focus_mode boolean,
    agent_operational_status text,
    last_active_at timestamp with time zone,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    field_sync_dates jsonb DEFAULT '{}'::jsonb NOT NULL,
    sync_day text NOT NULL,
    source text NOT NULL,
    ingested_at timestamp with time zone NOT NULL,
    sync_date date NOT NULL,
    first_sync_date date,
    deleted_on date,
    CONSTRAINT agents_status_check CHECK ((status = ANY (ARRAY['active'::text, 'inactive'::text])))
);


--
-- Name: pipeline_schema; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.pipeline_schema (
    digest text NOT NULL
);


--
-- Name: stg_agents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stg_agents (
    agent_id bigint NOT NULL,
    email text,
    name text,
    job_title text,
    language text,
    mobile text,
    phone text,
    time_zone text,
    available boolean,
    deactivated boolean NOT NULL,
    status text NOT NULL,
    focus_mode boolean,
    agent_operational_status text,
    last_active_at timestamp with time zone,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    absent_fields text[] DEFAULT '{}'::text[] NOT NULL,
    sync_day text NOT NULL,
    source text NOT NULL,
    ingested_at timestamp with time zone DEFAULT now() NOT NULL,
    sync_date date NOT NULL,
    CONSTRAINT stg_agents_status_check CHECK ((status = ANY (ARRAY['active'::text, 'inactive'::text])))
)
PARTITION BY RANGE (sync_date);


--
-- Name: stg_agents_p20240101; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stg_agents_p20240101 (
    agent_id bigint NOT NULL,
    email text,
    name text,
    job_title text,
    language text,
    mobile text,
    phone text,
    time_zone text,
    available boolean,
    deactivated boolean NOT NULL,
    status text NOT NULL,
    focus_mode boolean,
    agent_operational_status text,
    last_active_at timestamp with time zone,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    absent_fields text[] DEFAULT '{}'::text[] NOT NULL,
    sync_day text NOT NULL,
    source text NOT NULL,
    ingested_at timestamp with time zone DEFAULT now() NOT NULL,
    sync_date date NOT NULL,
    CONSTRAINT stg_agents_status_check CHECK ((status = ANY (ARRAY['active'::text, 'inactive'::text])))
);


--
-- Name: stg_agents_p20240102; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stg_agents_p20240102 (
    agent_id bigint NOT NULL,
    email text,
    name text,
    job_title text,
    language text,
    mobile text,
    phone text,
    time_zone text,
    available boolean,
    deactivated boolean NOT NULL,
    status text NOT NULL,
    focus_mode boolean,
    agent_operational_status text,
    last_active_at timestamp with time zone,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    absent_fields text[] DEFAULT '{}'::text[] NOT NULL,
    sync_day text NOT NULL,
    source text NOT NULL,
    ingested_at timestamp with time zone DEFAULT now() NOT NULL,
    sync_date date NOT NULL,
    CONSTRAINT stg_agents_status_check CHECK ((status = ANY (ARRAY['active'::text, 'inactive'::text])))
);


--
-- Name: table_updates; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.table_updates (
    update_id text NOT NULL,
    target_table text,
    inserted timestamp without time zone DEFAULT now()
);


--
-- Name: agent_status_history_p20240101; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_status_history ATTACH PARTITION public.agent_status_history_p20240101 FOR VALUES FROM ('2024-01-01') TO ('2024-01-02');


--
-- Name: agent_status_history_p20240102; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_status_history ATTACH PARTITION public.agent_status_history_p20240102 FOR VALUES FROM ('2024-01-02') TO ('2024-01-03');


--
-- Name: stg_agents_p20240101; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stg_agents ATTACH PARTITION public.stg_agents_p20240101 FOR VALUES FROM ('2024-01-01') TO ('2024-01-02');


--
-- Name: stg_agents_p20240102; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stg_agents ATTACH PARTITION public.stg_agents_p20240102 FOR VALUES FROM ('2024-01-02') TO ('2024-01-03');


--
-- Data for Name: agent_pipeline_errors; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: agent_pipeline_runs; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.agent_pipeline_runs VALUES ('a1a6b9363ca6', 'ValidateRaw', '2024-01-01', '2026-12-04 05:55:26.969343+00', '2026-12-04 05:55:27.247604+00', 7, 12, 12, 0, 0, 0, 6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL);
INSERT INTO public.agent_pipeline_runs VALUES ('a1a6b9363ca6', 'TransformAgents', '2024-01-01', '2026-12-04 05:55:27.25397+00', '2026-12-04 05:55:51.833596+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO public.agent_pipeline_runs VALUES ('a1a6b9363ca6', 'LoadStaging', '2024-01-01', '2026-12-04 05:55:51.845462+00', '2026-12-04 05:55:51.997152+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 6, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL);
INSERT INTO public.agent_pipeline_runs VALUES ('a1a6b9363ca6', 'UpsertAgents', '2024-01-01', '2026-12-04 05:55:52.028837+00', '2026-12-04 05:55:52.046634+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 6, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0);
INSERT INTO public.agent_pipeline_runs VALUES ('a1a6b9363ca6', 'SnapshotHistory', '2024-01-01', '2026-12-04 05:55:52.054826+00', '2026-12-04 05:55:52.102884+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 5, 1, 0, NULL, NULL, NULL, NULL, NULL, 6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 6, 0, 0, NULL, NULL, NULL, NULL);
INSERT INTO public.agent_pipeline_runs VALUES ('a1a6b9363ca6', 'ValidateRaw', '2024-01-02', '2026-12-04 05:55:52.141656+00', '2026-12-04 05:55:52.159011+00', 7, 10, 10, 0, 0, 0, 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL);
INSERT INTO public.agent_pipeline_runs VALUES ('a1a6b9363ca6', 'TransformAgents', '2024-01-02', '2026-12-04 05:55:52.16349+00', '2026-12-04 05:55:55.416761+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO public.agent_pipeline_runs VALUES ('a1a6b9363ca6', 'LoadStaging', '2024-01-02', '2026-12-04 05:55:55.428361+00', '2026-12-04 05:55:55.458674+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 6, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL);
INSERT INTO public.agent_pipeline_runs VALUES ('a1a6b9363ca6', 'UpsertAgents', '2024-01-02', '2026-12-04 05:55:55.478958+00', '2026-12-04 05:55:55.502236+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 3, 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0);
INSERT INTO public.agent_pipeline_runs VALUES ('a1a6b9363ca6', 'SnapshotHistory', '2024-01-02', '2026-12-04 05:55:55.514135+00', '2026-12-04 05:55:55.58294+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 3, 3, 0, NULL, NULL, NULL, NULL, NULL, 6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 3, 3, 0, NULL, NULL, NULL, NULL);


--
-- Data for Name: agent_status_history_p20240101; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.agent_status_history_p20240101 VALUES (11200000001, '2024-01-01', true, NULL, true);
INSERT INTO public.agent_status_history_p20240101 VALUES (11200000002, '2024-01-01', true, NULL, true);
INSERT INTO public.agent_status_history_p20240101 VALUES (11200000003, '2024-01-01', false, NULL, true);
INSERT INTO public.agent_status_history_p20240101 VALUES (11200000004, '2024-01-01', true, NULL, true);
INSERT INTO public.agent_status_history_p20240101 VALUES (11200000005, '2024-01-01', true, NULL, true);
INSERT INTO public.agent_status_history_p20240101 VALUES (11200000006, '2024-01-01', true, NULL, true);


--
-- Data for Name: agent_status_history_p20240102; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.agent_status_history_p20240102 VALUES (11200000001, '2024-01-02', true, NULL, true);
INSERT INTO public.agent_status_history_p20240102 VALUES (11200000002, '2024-01-02', true, NULL, true);
INSERT INTO public.agent_status_history_p20240102 VALUES (11200000003, '2024-01-02', false, NULL, true);
INSERT INTO public.agent_status_history_p20240102 VALUES (11200000004, '2024-01-02', false, NULL, true);
INSERT INTO public.agent_status_history_p20240102 VALUES (11200000005, '2024-01-02', true, NULL, true);
INSERT INTO public.agent_status_history_p20240102 VALUES (11200000006, '2024-01-02', false, NULL, true);


--
-- Data for Name: agent_versions; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.agent_versions VALUES (11200000002, 'priya.raman@example.com', 'Priya Raman', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2026-01-04 05:45:52+00', '2021-08-13 16:58:26+00', '2026-01-04 05:45:52+00', '2024-01-01', NULL, DEFAULT);
INSERT INTO public.agent_versions VALUES (11200000005, 'omar.haddad@example.com', 'Omar Haddad', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2025-12-30 02:03:36+00', '2021-12-15 19:04:54+00', '2025-12-30 02:03:36+00', '2024-01-01', NULL, DEFAULT);
INSERT INTO public.agent_versions VALUES (11200000003, 'jonas.weber@example.com', 'Jonas Weber', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, true, 'inactive', true, 'available', '2024-01-09 18:12:16+00', '2021-08-30 16:58:49+00', '2025-03-26 17:49:12+00', '2024-01-01', NULL, DEFAULT);
INSERT INTO public.agent_versions VALUES (11200000006, 'lucia.alves@example.com', 'Lucia Alves', 'IT Support', 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2026-01-04 08:57:30+00', '2022-05-26 08:26:55+00', '2026-01-04 08:57:30+00', '2024-01-01', '2024-01-02', DEFAULT);
INSERT INTO public.agent_versions VALUES (11200000001, 'alex.morgan@example.com', 'Alex Morgan', NULL, 'en', '5551441955', '5557275367', 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2024-12-09 14:27:16+00', '2021-08-13 11:50:18+00', '2025-03-26 18:19:00+00', '2024-01-01', '2024-01-02', DEFAULT);
INSERT INTO public.agent_versions VALUES (11200000004, 'mei.tanaka@example.com', 'Mei Tanaka', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2026-01-03 07:58:29+00', '2021-11-18 14:48:12+00', '2026-01-03 07:58:29+00', '2024-01-01', '2024-01-02', DEFAULT);
INSERT INTO public.agent_versions VALUES (11200000006, 'lucia.alves@example.com', 'Lucia Alves', 'IT Support', 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, true, 'inactive', true, 'available', '2026-01-04 08:57:30+00', '2022-05-26 08:26:55+00', '2026-01-04 08:57:30+00', '2024-01-02', NULL, DEFAULT);
INSERT INTO public.agent_versions VALUES (11200000001, 'alex.morgan@example.com', 'Alex Morgan', NULL, 'en', '5559823754', '5556655194', 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2024-12-09 14:27:16+00', '2021-08-13 11:50:18+00', '2025-03-26 18:19:00+00', '2024-01-02', NULL, DEFAULT);
INSERT INTO public.agent_versions VALUES (11200000004, 'mei.tanaka@example.com', 'Mei Tanaka', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, true, 'inactive', true, 'available', '2026-01-03 07:58:29+00', '2021-11-18 14:48:12+00', '2026-01-03 07:58:29+00', '2024-01-02', NULL, DEFAULT);


--
-- Data for Name: agents; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.agents VALUES (11200000001, 'alex.morgan@example.com', 'Alex Morgan', NULL, 'en', '5559823754', '5556655194', 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2024-12-09 14:27:16+00', '2021-08-13 11:50:18+00', '2025-03-26 18:19:00+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02', '2024-01-01', NULL);
INSERT INTO public.agents VALUES (11200000002, 'priya.raman@example.com', 'Priya Raman', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2026-01-04 05:45:52+00', '2021-08-13 16:58:26+00', '2026-01-04 05:45:52+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02', '2024-01-01', NULL);
INSERT INTO public.agents VALUES (11200000003, 'jonas.weber@example.com', 'Jonas Weber', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, true, 'inactive', true, 'available', '2024-01-09 18:12:16+00', '2021-08-30 16:58:49+00', '2025-03-26 17:49:12+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02', '2024-01-01', NULL);
INSERT INTO public.agents VALUES (11200000004, 'mei.tanaka@example.com', 'Mei Tanaka', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, true, 'inactive', true, 'available', '2026-01-03 07:58:29+00', '2021-11-18 14:48:12+00', '2026-01-03 07:58:29+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02', '2024-01-01', NULL);
INSERT INTO public.agents VALUES (11200000005, 'omar.haddad@example.com', 'Omar Haddad', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2025-12-30 02:03:36+00', '2021-12-15 19:04:54+00', '2025-12-30 02:03:36+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02', '2024-01-01', NULL);
INSERT INTO public.agents VALUES (11200000006, 'lucia.alves@example.com', 'Lucia Alves', 'IT Support', 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, true, 'inactive', true, 'available', '2026-01-04 08:57:30+00', '2022-05-26 08:26:55+00', '2026-01-04 08:57:30+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02', '2024-01-01', NULL);


--
-- Data for Name: pipeline_schema; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.pipeline_schema VALUES ('d048fc919ebd6dc96ec7be5846f725b49dbb580ba45838e45249f97bd223eb1a');


--
-- Data for Name: stg_agents_p20240101; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.stg_agents_p20240101 VALUES (11200000006, 'lucia.alves@example.com', 'Lucia Alves', 'IT Support', 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2026-01-04 08:57:30+00', '2022-05-26 08:26:55+00', '2026-01-04 08:57:30+00', '{}', '2024-01-01', 'api', '2026-12-04 05:55:51.880073+00', '2024-01-01');
INSERT INTO public.stg_agents_p20240101 VALUES (11200000001, 'alex.morgan@example.com', 'Alex Morgan', NULL, 'en', '5551441955', '5557275367', 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2024-12-09 14:27:16+00', '2021-08-13 11:50:18+00', '2025-03-26 18:19:00+00', '{}', '2024-01-01', 'api', '2026-12-04 05:55:51.880073+00', '2024-01-01');
INSERT INTO public.stg_agents_p20240101 VALUES (11200000002, 'priya.raman@example.com', 'Priya Raman', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2026-01-04 05:45:52+00', '2021-08-13 16:58:26+00', '2026-01-04 05:45:52+00', '{}', '2024-01-01', 'api', '2026-12-04 05:55:51.880073+00', '2024-01-01');
INSERT INTO public.stg_agents_p20240101 VALUES (11200000003, 'jonas.weber@example.com', 'Jonas Weber', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, true, 'inactive', true, 'available', '2024-01-09 18:12:16+00', '2021-08-30 16:58:49+00', '2025-03-26 17:49:12+00', '{}', '2024-01-01', 'api', '2026-12-04 05:55:51.880073+00', '2024-01-01');
INSERT INTO public.stg_agents_p20240101 VALUES (11200000004, 'mei.tanaka@example.com', 'Mei Tanaka', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2026-01-03 07:58:29+00', '2021-11-18 14:48:12+00', '2026-01-03 07:58:29+00', '{}', '2024-01-01', 'api', '2026-12-04 05:55:51.880073+00', '2024-01-01');
INSERT INTO public.stg_agents_p20240101 VALUES (11200000005, 'omar.haddad@example.com', 'Omar Haddad', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2025-12-30 02:03:36+00', '2021-12-15 19:04:54+00', '2025-12-30 02:03:36+00', '{}', '2024-01-01', 'api', '2026-12-04 05:55:51.880073+00', '2024-01-01');


--
-- Data for Name: stg_agents_p20240102; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.stg_agents_p20240102 VALUES (11200000006, 'lucia.alves@example.com', 'Lucia Alves', 'IT Support', 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, true, 'inactive', true, 'available', '2026-01-04 08:57:30+00', '2022-05-26 08:26:55+00', '2026-01-04 08:57:30+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02');
INSERT INTO public.stg_agents_p20240102 VALUES (11200000001, 'alex.morgan@example.com', 'Alex Morgan', NULL, 'en', '5559823754', '5556655194', 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2024-12-09 14:27:16+00', '2021-08-13 11:50:18+00', '2025-03-26 18:19:00+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02');
INSERT INTO public.stg_agents_p20240102 VALUES (11200000002, 'priya.raman@example.com', 'Priya Raman', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2026-01-04 05:45:52+00', '2021-08-13 16:58:26+00', '2026-01-04 05:45:52+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02');
INSERT INTO public.stg_agents_p20240102 VALUES (11200000003, 'jonas.weber@example.com', 'Jonas Weber', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, true, 'inactive', true, 'available', '2024-01-09 18:12:16+00', '2021-08-30 16:58:49+00', '2025-03-26 17:49:12+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02');
INSERT INTO public.stg_agents_p20240102 VALUES (11200000004, 'mei.tanaka@example.com', 'Mei Tanaka', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, true, 'inactive', true, 'available', '2026-01-03 07:58:29+00', '2021-11-18 14:48:12+00', '2026-01-03 07:58:29+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02');
INSERT INTO public.stg_agents_p20240102 VALUES (11200000005, 'omar.haddad@example.com', 'Omar Haddad', NULL, 'en', NULL, NULL, 'Eastern Time (US & Canada)', false, false, 'active', true, 'available', '2025-12-30 02:03:36+00', '2021-12-15 19:04:54+00', '2025-12-30 02:03:36+00', '{}', '2024-01-02', 'api', '2026-12-04 05:55:55.445426+00', '2024-01-02');


--
-- Data for Name: table_updates; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.table_updates VALUES ('LoadStaging_2024_01_01_b940533a42', 'stg_agents', '2026-12-04 05:55:51.880073');
INSERT INTO public.table_updates VALUES ('UpsertAgents_2024_01_01_b940533a42', 'agents', '2026-12-04 05:55:52.036652');
INSERT INTO public.table_updates VALUES ('SnapshotHistory_2024_01_01_b940533a42', 'agent_status_history', '2026-12-04 05:55:52.073846');
INSERT INTO public.table_updates VALUES ('LoadStaging_2024_01_02_433f9bd171', 'stg_agents', '2026-12-04 05:55:55.445426');
INSERT INTO public.table_updates VALUES ('UpsertAgents_2024_01_02_433f9bd171', 'agents', '2026-12-04 05:55:55.488055');
INSERT INTO public.table_updates VALUES ('SnapshotHistory_2024_01_02_433f9bd171', 'agent_status_history', '2026-12-04 05:55:55.549236');


--
-- Name: agent_pipeline_errors_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.agent_pipeline_errors_id_seq', 1, false);


--
-- Name: agent_pipeline_errors agent_pipeline_errors_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_pipeline_errors
    ADD CONSTRAINT agent_pipeline_errors_pkey PRIMARY KEY (id);


--
-- Name: agent_pipeline_runs agent_pipeline_runs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_pipeline_runs
    ADD CONSTRAINT agent_pipeline_runs_pkey PRIMARY KEY (run_id, task, sync_date);


--
-- Name: agent_status_history agent_status_history_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_status_history
    ADD CONSTRAINT agent_status_history_pkey PRIMARY KEY (agent_id, sync_date);


--
-- Name: agent_status_history_p20240101 agent_status_history_p20240101_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_status_history_p20240101
    ADD CONSTRAINT agent_status_history_p20240101_pkey PRIMARY KEY (agent_id, sync_date);


--
-- Name: agent_status_history_p20240102 agent_status_history_p20240102_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_status_history_p20240102
    ADD CONSTRAINT agent_status_history_p20240102_pkey PRIMARY KEY (agent_id, sync_date);


--
-- Name: agent_versions agent_versions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_versions
    ADD CONSTRAINT agent_versions_pkey PRIMARY KEY (agent_id, valid_from);


--
-- Name: agents agents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agents
    ADD CONSTRAINT agents_pkey PRIMARY KEY (agent_id);


--
-- Name: stg_agents stg_agents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stg_agents
    ADD CONSTRAINT stg_agents_pkey PRIMARY KEY (sync_date, agent_id);


--
-- Name: stg_agents_p20240101 stg_agents_p20240101_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stg_agents_p20240101
    ADD CONSTRAINT stg_agents_p20240101_pkey PRIMARY KEY (sync_date, agent_id);


--
-- Name: stg_agents_p20240102 stg_agents_p20240102_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stg_agents_p20240102
    ADD CONSTRAINT stg_agents_p20240102_pkey PRIMARY KEY (sync_date, agent_id);


--
-- Name: table_updates table_updates_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.table_updates
    ADD CONSTRAINT table_updates_pkey PRIMARY KEY (update_id);


--
-- Name: agent_pipeline_errors_not_found; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_pipeline_errors_not_found ON public.agent_pipeline_errors USING btree (agent_id, sync_date) WHERE ((error_type = 'FETCH_ERROR'::text) AND ((raw_record ->> 'status'::text) = '404'::text));


--
-- Name: agent_pipeline_errors_sync_date; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_pipeline_errors_sync_date ON public.agent_pipeline_errors USING btree (sync_date);


--
-- Name: agent_pipeline_runs_sync_date; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_pipeline_runs_sync_date ON public.agent_pipeline_runs USING btree (sync_date);


--
-- Name: agent_status_history_sync_date; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_status_history_sync_date ON ONLY public.agent_status_history USING btree (sync_date);


--
-- Name: agent_status_history_p20240101_sync_date_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_status_history_p20240101_sync_date_idx ON public.agent_status_history_p20240101 USING btree (sync_date);


--
-- Name: agent_status_history_p20240102_sync_date_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_status_history_p20240102_sync_date_idx ON public.agent_status_history_p20240102 USING btree (sync_date);


--
-- Name: agent_status_history_p20240101_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.agent_status_history_pkey ATTACH PARTITION public.agent_status_history_p20240101_pkey;


--
-- Name: agent_status_history_p20240101_sync_date_idx; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.agent_status_history_sync_date ATTACH PARTITION public.agent_status_history_p20240101_sync_date_idx;


--
-- Name: agent_status_history_p20240102_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.agent_status_history_pkey ATTACH PARTITION public.agent_status_history_p20240102_pkey;


--
-- Name: agent_status_history_p20240102_sync_date_idx; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.agent_status_history_sync_date ATTACH PARTITION public.agent_status_history_p20240102_sync_date_idx;


--
-- Name: stg_agents_p20240101_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.stg_agents_pkey ATTACH PARTITION public.stg_agents_p20240101_pkey;


--
-- Name: stg_agents_p20240102_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.stg_agents_pkey ATTACH PARTITION public.stg_agents_p20240102_pkey;


--
-- PostgreSQL database dump complete
--


