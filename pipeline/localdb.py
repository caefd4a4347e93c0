"""Reach the pipeline's database from a shell: ``python -m pipeline.localdb uri|psql [ARGS…]|stop``.

``uri`` prints the DSN (password hidden), ``psql`` opens psql on it, ``stop`` stops the embedded server.
"""
import shutil
import subprocess
import sys

from pipeline.config import SettingError, load_settings
from pipeline.database import database_dsn, embedded_data_dir, import_pgserver, redact


def psql_executable() -> str:
    """The machine's psql, else the one that ships with the embedded server."""
    if shutil.which("psql"):
        return "psql"
    from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / "psql")


def main(argv) -> int:
    command = argv[1] if len(argv) > 1 else "uri"
    settings = load_settings()
    if command == "stop":
        pgdata = embedded_data_dir(settings.output_root)
        if (pgdata / "PG_VERSION").exists():
            import_pgserver().get_server(pgdata, cleanup_mode="stop").cleanup()
            print(f"stopped the embedded PostgreSQL in {pgdata}")
        return 0
    if command == "uri":
        print(redact(database_dsn(settings)))
        return 0
    if command == "psql":
        return subprocess.call([psql_executable(), database_dsn(settings), *argv[2:]])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except SettingError as error:  # one line and exit 40, as luigi runs give for a setting
        print(f"ERROR: {error}", file=sys.stderr)
        sys.exit(40)
