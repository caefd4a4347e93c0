"""PostgreSQL: which server (a DSN, or the embedded one under the output root), the schema, and luigi markers."""
import hashlib
import logging
import re
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg2
from luigi.contrib.postgres import PostgresTarget

from pipeline import embedded
from pipeline.errors import PipelineError
from pipeline.resources import read_sql, schema_migration_files

logger = logging.getLogger("luigi-interface.pipeline")

EMBEDDED_DIR = "pgdata"
_SCHEMA_LOCK = 7311_2024  # pg_advisory_xact_lock key: one schema migration at a time

_embedded = {}
_schema_applied = set()


def redact(dsn: str) -> str:
    """The DSN with any password replaced by ``***``, for logs and messages."""
    dsn = re.sub(r"(://[^:/@]*:)[^@]+@", r"\1***@", dsn)
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn, flags=re.IGNORECASE)


def embedded_server(output_root: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL whose data lives in ``<output root>/pgdata``; returns its URI.

    It keeps running after the process exits, so later runs and ``psql`` reach it at once;
    ``python -m pipeline.localdb stop`` stops it (pipeline.embedded).
    """
    pgdata = embedded_data_dir(output_root)
    if pgdata not in _embedded:
        logger.info("Using the embedded PostgreSQL %s in %s", embedded.bundled_major(), pgdata)
        _embedded[pgdata] = embedded.start(pgdata)
    return _embedded[pgdata]


def embedded_server_attached(output_root: Path) -> bool:
    """Whether this process has started or attached to the embedded server of ``output_root``."""
    return embedded_data_dir(output_root) in _embedded


def embedded_data_dir(output_root: Path) -> Path:
    return (output_root / EMBEDDED_DIR).resolve()


def database_dsn(settings) -> str:
    """The configured DSN, or the embedded server's when none is configured."""
    return settings.dsn or embedded_server(settings.output_root)


class DatabaseUnavailable(PipelineError):
    """The server cannot be reached; the message names it, without its password."""


def _one_line(error) -> str:
    return " ".join(redact(str(error)).split())  # libpq adds a hint on a second line


def connect(dsn: str):
    try:
        connection = psycopg2.connect(dsn)
    except psycopg2.OperationalError as error:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {redact(dsn)}: {_one_line(error)}") from None
    connection.set_client_encoding("UTF8")
    return connection


@contextmanager
def reported_outage(dsn: str, doing: str):
    """Turn a server that goes away (or fails for an operational reason) while ``doing`` into a one-line
    DatabaseUnavailable. The open transaction is lost with the connection: nothing of it was committed."""
    try:
        yield
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
        raise DatabaseUnavailable(f"PostgreSQL at {redact(dsn)} failed during {doing}, which committed nothing:"
                                  f" {_one_line(error) or type(error).__name__}") from None


def run_sql_file(cursor, file_name: str, params: dict) -> list[dict]:
    """Run one statement of ``sql/``; returns its result rows as dicts (none for a statement without)."""
    cursor.execute(read_sql(file_name), params)
    if cursor.description is None:
        return []
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def ensure_schema(dsn: str) -> None:
    """Apply the schema (:func:`apply_schema`) once per process and server."""
    if dsn not in _schema_applied:
        apply_schema(dsn)
        _schema_applied.add(dsn)


def apply_schema(dsn: str) -> None:
    """Apply the ``NNN_create_*.sql`` files (all idempotent), in one transaction, one process at a time. They also
    migrate databases created by earlier versions (sql/002 and sql/004: partitioning by sync date).

    Skipped when the database already has this very schema (``pipeline_schema``: a digest of the files): their
    DDL takes table locks even when it changes nothing, which would make a task wait for, or deadlock with,
    another run's transaction on the same tables."""
    statements = [read_sql(name) for name in schema_migration_files()]
    digest = hashlib.sha256("\0".join(statements).encode()).hexdigest()
    with closing(connect(dsn)) as connection, connection.cursor() as cursor:
        if _schema_digest(cursor) == digest:
            return
        cursor.execute("select pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        if _schema_digest(cursor) != digest:  # another process may have applied it meanwhile
            for statement in statements:
                cursor.execute(statement)
            cursor.execute("create table if not exists pipeline_schema (digest text not null)")
            cursor.execute("delete from pipeline_schema")
            cursor.execute("insert into pipeline_schema (digest) values (%s)", (digest,))
        connection.commit()


def _schema_digest(cursor) -> str | None:
    """The digest of the schema files last applied to the database (None: none recorded)."""
    cursor.execute("select to_regclass('pipeline_schema') is not null")
    if not cursor.fetchone()[0]:
        return None
    cursor.execute("select digest from pipeline_schema")
    row = cursor.fetchone()
    return row[0] if row else None


def existing_markers(dsn: str, update_ids) -> set:
    """Which of ``update_ids`` have a marker, in one query (none while the schema does not exist yet)."""
    with closing(connect(dsn)) as connection, connection.cursor() as cursor:
        try:
            return present_markers(cursor, update_ids)
        except psycopg2.errors.UndefinedTable:
            return set()


def present_markers(cursor, update_ids) -> set:
    """Which of ``update_ids`` have a marker, read with ``cursor`` (inside its transaction)."""
    cursor.execute(f"select update_id from {MarkerTarget.marker_table} where update_id = any(%s)", (list(update_ids),))
    return {row[0] for row in cursor.fetchall()}


class MarkerTarget(PostgresTarget):
    """luigi's ``table_updates`` marker, reached through a DSN.

    ``PostgresTarget`` takes host, user and password separately; a DSN also carries sockets, SSL
    and other options. The marker table itself is part of the schema (sql/001_create_table_updates.sql).
    """

    def __init__(self, dsn: str, table: str, update_id: str):  # not super().__init__: it wants host, user, password
        self.dsn = dsn
        self.table = table
        self.update_id = update_id

    def connect(self):
        return connect(self.dsn)

    def exists(self, connection=None):
        if connection is not None:
            return super().exists(connection)
        with closing(self.connect()) as own:
            own.autocommit = True
            return super().exists(own)

    def create_marker_table(self):
        """The table is created with the rest of the schema, before any task runs."""
