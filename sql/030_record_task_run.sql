-- agent_pipeline_runs <- the counts of one task's run for one sync date.
insert into agent_pipeline_runs (
    run_id, task, sync_date, started_at, finished_at,
    files_read, records_read, records_valid, records_invalid, records_warned, parse_errors, list_records,
    duplicates_resolved,
    agents_staged, agents_active, agents_deactivated, agents_reactivated, staging_rows, error_rows,
    rows_inserted, rows_updated, rows_unchanged, history_rows
)
values (
    %(run_id)s, %(task)s, %(sync_date)s, %(started_at)s, clock_timestamp(),
    %(files_read)s, %(records_read)s, %(records_valid)s, %(records_invalid)s, %(records_warned)s, %(parse_errors)s,
    %(list_records)s,
    %(duplicates_resolved)s, %(agents_staged)s, %(agents_active)s, %(agents_deactivated)s,
    %(agents_reactivated)s, %(staging_rows)s, %(error_rows)s, %(rows_inserted)s, %(rows_updated)s,
    %(rows_unchanged)s, %(history_rows)s
)
on conflict (run_id, task, sync_date) do update set
    started_at = excluded.started_at,
    finished_at = excluded.finished_at,
    files_read = excluded.files_read,
    records_read = excluded.records_read,
    records_valid = excluded.records_valid,
    records_invalid = excluded.records_invalid,
    records_warned = excluded.records_warned,
    parse_errors = excluded.parse_errors,
    list_records = excluded.list_records,
    duplicates_resolved = excluded.duplicates_resolved,
    agents_staged = excluded.agents_staged,
    agents_active = excluded.agents_active,
    agents_deactivated = excluded.agents_deactivated,
    agents_reactivated = excluded.agents_reactivated,
    staging_rows = excluded.staging_rows,
    error_rows = excluded.error_rows,
    rows_inserted = excluded.rows_inserted,
    rows_updated = excluded.rows_updated,
    rows_unchanged = excluded.rows_unchanged,
    history_rows = excluded.history_rows
