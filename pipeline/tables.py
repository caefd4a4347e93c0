"""Column lists shared by the Python side: the fields a raw record loads into, COPY order of the
transform's files, and the run counts."""

# The fields of a raw record that the pipeline loads: column → (path in the record, Spark type). This is the
# one list of them; the schemas say what each must look like (pipeline.validation checks that they declare
# every path here), and a violation anywhere else in a record is a warning, not a rejection.
RECORD_FIELDS = {
    "agent_id": ("id", "bigint"),
    "email": ("contact.email", "string"),
    "name": ("contact.name", "string"),
    "job_title": ("contact.job_title", "string"),
    "language": ("contact.language", "string"),
    "mobile": ("contact.mobile", "string"),
    "phone": ("contact.phone", "string"),
    "time_zone": ("contact.time_zone", "string"),
    "available": ("available", "boolean"),
    "source_deactivated": ("deactivated", "boolean"),  # one input of the staged `deactivated`
    "focus_mode": ("focus_mode", "boolean"),
    "agent_operational_status": ("agent_operational_status", "string"),
    "last_active_at": ("last_active_at", "string"),
    "created_at": ("created_at", "string"),
    "updated_at": ("updated_at", "string"),
}
# Each loaded field's path as keys: ("contact", "email").
RECORD_PATHS = {column: tuple(path.split(".")) for column, (path, _) in RECORD_FIELDS.items()}
# The loaded fields grouped by the object that holds them, {("contact",): ("email", …), (): ("agent_id", …)}:
# ValidateRaw reads each group's keys at once, and hands the values over in this order (pipeline.handoff).
RECORD_GROUPS = {parent: tuple(column for column, path in RECORD_PATHS.items() if path[:-1] == parent)
                 for parent in dict.fromkeys(path[:-1] for path in RECORD_PATHS.values())}
HANDOFF_ORDER = tuple(column for columns in RECORD_GROUPS.values() for column in columns)

# The columns of stg_agents and agents that hold a record's value as it came (absent_fields names them).
CARRIED_COLUMNS = tuple(column for column in RECORD_FIELDS if column not in ("agent_id", "source_deactivated"))

STAGING_COLUMNS = (
    "agent_id", "email", "name", "job_title", "language", "mobile", "phone", "time_zone",
    "available", "deactivated", "status", "focus_mode", "agent_operational_status",
    "last_active_at", "created_at", "updated_at", "absent_fields", "sync_day", "source", "sync_date", "account",
)
ERROR_COLUMNS = ("agent_id", "sync_date", "source_file", "record_index", "error_type", "error_message", "raw_record",
                 "account")

# The counts a task may record in agent_pipeline_runs (sql/006_create_agent_pipeline_runs.sql).
RUN_COUNTS = (
    "files_read", "records_read", "records_valid", "records_invalid", "records_warned", "parse_errors",
    "list_records", "duplicates_resolved",
    "agents_staged", "agents_active", "agents_inactive", "agents_reactivated", "staging_rows", "error_rows",
    "rows_inserted", "rows_updated", "rows_unchanged", "history_rows",
    "list_pages", "details_requested", "details_fetched", "details_missing", "details_failed", "requests", "retries",
    "throttled_seconds", "fetch_errors", "versions_opened", "versions_closed", "agents_replayed",
    "files_unread", "agents_quarantined", "agents_unseen", "agents_deleted",
)
