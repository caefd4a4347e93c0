"""The columns the transform writes and LoadStaging copies, in COPY order."""

STAGING_COLUMNS = (
    "agent_id", "email", "name", "job_title", "language", "mobile", "phone", "time_zone",
    "available", "deactivated", "status", "focus_mode", "agent_operational_status",
    "last_active_at", "created_at", "updated_at", "sync_day", "source", "sync_date",
)
ERROR_COLUMNS = ("agent_id", "sync_date", "source_file", "record_index", "error_type", "error_message", "raw_record")
