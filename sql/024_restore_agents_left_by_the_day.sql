-- agents <- the rows (of the given accounts) that a re-processed day wrote before and no longer stages (a corrected day without the agent,
-- or with it quarantined): each goes back to what the remaining days say, its current version in agent_versions
-- as of its latest recorded day; an agent that no recorded day names any more is removed. Run in SnapshotHistory's
-- transaction, after the day's versions and history, when the versions step replayed agents (an agent the day no
-- longer names is one of them); a first load of a day leaves no such row. Returns the rows restored and removed.
with left_by_the_day as (

    select agents.account, agents.agent_id
    from agents
    where agents.sync_date = %(sync_date)s
        and agents.account = any(%(accounts)s::text[])
        and not exists (
            select 1 from stg_agents as staged
            where staged.sync_date = %(sync_date)s
                and staged.account = agents.account
                and staged.agent_id = agents.agent_id
        )

),

recorded as (

    select
        left_by_the_day.account,
        left_by_the_day.agent_id,
        days.first_day,
        days.last_day,
        (
            select history.seen from agent_status_history as history
            where history.account = left_by_the_day.account
                and history.agent_id = left_by_the_day.agent_id
                and history.sync_date = days.last_day
        ) as last_seen
    from left_by_the_day
    cross join lateral (
        select min(history.sync_date) as first_day, max(history.sync_date) as last_day
        from agent_status_history as history
        where history.account = left_by_the_day.account and history.agent_id = left_by_the_day.agent_id
    ) as days

),

removed as (

    delete from agents
    where (account, agent_id) in (select account, agent_id from recorded where last_day is null)
    returning 1

),

restored as (

    update agents
    set
        email = version.email,
        name = version.name,
        job_title = version.job_title,
        language = version.language,
        mobile = version.mobile,
        phone = version.phone,
        time_zone = version.time_zone,
        available = version.available,
        deactivated = version.deactivated,
        status = version.status,
        focus_mode = version.focus_mode,
        agent_operational_status = version.agent_operational_status,
        last_active_at = version.last_active_at,
        created_at = version.created_at,
        updated_at = version.updated_at,
        field_sync_dates = '{}',
        sync_day = to_char(recorded.last_day, 'YYYY-MM-DD'),
        source = case when recorded.last_seen then 'api' else 'not_seen' end,
        sync_date = recorded.last_day,
        first_sync_date = recorded.first_day
    from recorded
    inner join agent_versions as version
        on version.account = recorded.account
        and version.agent_id = recorded.agent_id
        and version.valid_to is null
    where agents.account = recorded.account and agents.agent_id = recorded.agent_id
    returning 1

)

select
    (select count(*) from restored) as agents_restored,
    (select count(*) from removed) as agents_removed
