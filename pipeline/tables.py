"""Column lists shared by the Python side: COPY order of the transform's files, and the run counts."""

STAGING_COLUMNS = (
    "agent_id", "email", "name", "job_title", "language", "mobile", "phone", "time_zone",
    "available", "deactivated", "status", "focus_mode", "agent_operational_status",
    "last_active_at", "created_at", "updated_at", "sync_day", "source", "sync_date",
)
ERROR_COLUMNS = ("agent_id", "sync_date", "source_file", "record_index", "error_type", "error_message", "raw_record")

# The counts a task may record in agent_pipeline_runs (sql/006_create_agent_pipeline_runs.sql).
RUN_COUNTS = (
    "files_read", "records_read", "records_valid", "records_invalid", "parse_errors", "list_records",
    "duplicates_resolved",
    "agents_staged", "agents_active", "agents_deactivated", "agents_reactivated", "staging_rows", "error_rows",
    "rows_inserted", "rows_updated", "rows_unchanged", "history_rows",
)

# The fields of a raw record that the transform reads, with their Spark types. ValidateRaw writes only
# these for valid records (the raw files keep the rest); transform.py reads them with this schema.
RECORD_FIELDS = {
    "id": "bigint", "available": "boolean", "deactivated": "boolean", "focus_mode": "boolean",
    "agent_operational_status": "string", "last_active_at": "string", "created_at": "string",
    "updated_at": "string",
}
CONTACT_FIELDS = ("email", "name", "job_title", "language", "mobile", "phone", "time_zone")
