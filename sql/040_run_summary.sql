-- One row per account and sync date of a run: the counts its tasks recorded (each count comes from one task).
select
    account,
    sync_date,
    max(records_read) as records_read,
    -- invalid records and unreadable details files: the day's error rows
    max(records_invalid) + max(parse_errors) as records_invalid,
    -- records loaded although fields the pipeline does not load break the schema
    max(records_warned) as records_warned,
    max(duplicates_resolved) as duplicates_resolved,
    max(agents_staged) as agents_staged,
    -- agents not recorded for an invalid list record; known agents recorded inactive because no record named them
    max(agents_quarantined) as agents_quarantined,
    max(agents_unseen) as agents_unseen,
    max(agents_active) as agents_active,
    max(agents_inactive) as agents_inactive,
    max(agents_reactivated) as agents_reactivated,
    max(rows_inserted) as rows_inserted,
    -- agents whose loaded values changed
    max(rows_updated) as rows_updated,
    max(rows_unchanged) as rows_unchanged,
    max(history_rows) as history_rows
from agent_pipeline_runs
where run_id = %(run_id)s
group by account, sync_date
order by sync_date, account
