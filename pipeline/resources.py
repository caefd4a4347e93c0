"""Files the package ships beside its code: the JSON Schemas and the SQL statements.

They live at the top of the repository (``schemas/``, ``sql/``) and setup.py installs them
as the data packages ``pipeline.schemas`` and ``pipeline.sql``; both are found relative to
the package, never relative to the working directory.
"""
from importlib import resources
from importlib.resources.abc import Traversable


def resource_dir(name: str) -> Traversable:
    """The shipped folder ``name`` ('schemas' or 'sql')."""
    return resources.files(f"pipeline.{name}")


def read_sql(file_name: str) -> str:
    return resource_dir("sql").joinpath(file_name).read_text(encoding="utf-8")


def schema_migration_files() -> list[str]:
    """The numbered ``NNN_create_*.sql`` files, in the order they are applied."""
    names = (entry.name for entry in resource_dir("sql").iterdir())
    return sorted(name for name in names if "_create_" in name and name.endswith(".sql"))
