-- The accounts index of the report's day: one row per account in %(accounts)s, in their order, with its agents
-- active and inactive on the day, those deactivated and reactivated that day (the status changed since the agent's
-- previous recorded day), its error rows and warning rows of the day, and whether the day is loaded for it (it has
-- rows in agent_status_history that day). Every table read here is filtered on the day itself, so that only the
-- day's partitions are read (agent_status_changes reads the earlier partition it compares the day with).
with selected_accounts as (

    select account, listed_order
    from unnest(%(accounts)s::text[]) with ordinality as selected (account, listed_order)

),

day_history as (

    select account, is_active
    from agent_status_history
    where sync_date = %(sync_date)s
        and account = any(%(accounts)s::text[])

),

day_changes as (

    select account, is_active, was_active
    from agent_status_changes(%(sync_date)s, %(accounts)s::text[])

),

day_errors as (

    select account, error_type
    from agent_pipeline_errors
    where sync_date = %(sync_date)s
        and account = any(%(accounts)s::text[])

),

status_counts as (

    select
        account,
        count(*) filter (where is_active) as agents_active,
        count(*) filter (where not is_active) as agents_inactive
    from day_history
    group by account

),

change_counts as (

    select
        account,
        count(*) filter (where not is_active) as agents_deactivated,
        count(*) filter (where is_active) as agents_reactivated
    from day_changes
    where was_active is not null
        and was_active <> is_active
    group by account

),

error_counts as (

    select
        account,
        count(*) filter (where error_type <> 'VALIDATION_WARNING') as error_rows,
        count(*) filter (where error_type = 'VALIDATION_WARNING') as warning_rows
    from day_errors
    group by account

)

select
    selected_accounts.account,
    status_counts.account is not null as loaded,
    coalesce(status_counts.agents_active, 0) as agents_active,
    coalesce(status_counts.agents_inactive, 0) as agents_inactive,
    coalesce(change_counts.agents_deactivated, 0) as agents_deactivated,
    coalesce(change_counts.agents_reactivated, 0) as agents_reactivated,
    coalesce(error_counts.error_rows, 0) as error_rows,
    coalesce(error_counts.warning_rows, 0) as warning_rows
from selected_accounts
left join status_counts on status_counts.account = selected_accounts.account
left join change_counts on change_counts.account = selected_accounts.account
left join error_counts on error_counts.account = selected_accounts.account
order by selected_accounts.listed_order
