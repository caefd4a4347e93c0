"""The registry of Freshdesk accounts: the accounts (one per customer) whose agents the pipeline loads into one
database.

The registry is a TOML file: ``PIPELINE_ACCOUNTS_FILE``, else ``[pipeline] accounts_file`` in ``luigi.cfg``, else
``accounts.toml`` in the current folder (next to ``luigi.cfg``). It has one table per account::

    [accounts.acme]
    base_url = "https://acme.freshdesk.com"   # optional
    api_key_env = "FRESHDESK_API_KEY_ACME"    # optional: the environment variable that holds its API key
    # or: api_key_file = "/run/secrets/acme_freshdesk_key" (a mounted secret; at most one of the two)

It never holds an API key itself. Without the file, or without any account in it, the pipeline loads one account,
``default`` (raw folders ``<raw_root>/YYYY-MM-DD``); that name cannot be registered.

    python -m pipeline.accounts list
    python -m pipeline.accounts add acme --base-url https://acme.freshdesk.com --api-key-env FRESHDESK_API_KEY_ACME
    python -m pipeline.accounts remove acme
"""
import argparse
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import luigi
import tomllib

from pipeline.config import ApiSettings, SettingError, Settings, api_settings, check_base_url
from pipeline.errors import PipelineError
from pipeline.names import DEFAULT_ACCOUNT, NAME_PATTERN, NAME_RULE

ACCOUNTS_FILE_VARIABLE = "PIPELINE_ACCOUNTS_FILE"
DEFAULT_ACCOUNTS_FILE = "accounts.toml"
ENTRY_KEYS = ("base_url", "api_key_env", "api_key_file")
VARIABLE_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
# a key that would hold a secret: api_key, apikey, key, password, token, freshdesk_api_key, …
SECRET_KEY_PATTERN = r"(?:.*_)?(?:api_?key|key|password|passwd|token|secret)"
KEY_GOES_IN = "an environment variable (api_key_env) or a key file (api_key_file), never in the accounts file"
HEADER = r"\s*\[\s*accounts\s*\.\s*(?:{name}|\"{name}\"|'{name}')\s*\]\s*(?:#.*)?"


@dataclass(frozen=True)
class Account:
    """A registered Freshdesk account. It says where its API key is, never holds the key itself."""

    name: str
    base_url: str = ""  # https://acme.freshdesk.com, without a trailing slash; empty: not set
    api_key_env: str = ""  # the environment variable that holds its API key
    api_key_file: str = ""  # or the file that holds it (a mounted secret)

    def api_key(self, environ: Mapping[str, str] | None = None) -> str:
        """The account's API key, read now; empty when the entry names no variable or file. SettingError (naming
        the account and the variable or file, never the key) when the named one does not hold a key."""
        if self.api_key_env:
            environ = os.environ if environ is None else environ
            key = environ.get(self.api_key_env, "").strip()
            if not key:
                raise SettingError(f"account {self.name!r}: the environment variable {self.api_key_env}, which"
                                   f" holds its API key, is not set or empty")
            return key
        if self.api_key_file:
            return read_key_file(self.name, self.api_key_file)
        return ""

    def key_source(self) -> str:
        """Where the API key comes from: ``env VARIABLE``, ``file PATH`` or ``-``."""
        if self.api_key_env:
            return f"env {self.api_key_env}"
        return f"file {self.api_key_file}" if self.api_key_file else "-"

    def has_key(self, environ: Mapping[str, str] | None = None) -> bool:
        """Whether the named variable or file holds a key now (False when the entry names neither)."""
        try:
            return bool(self.api_key(environ))
        except SettingError:
            return False


def read_key_file(account: str, path: str) -> str:
    """The content of an API key file, stripped; SettingError names the account and the file, never its content."""
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise SettingError(f"account {account!r}: cannot read its API key file {path}:"
                           f" {(error.strerror or type(error).__name__).lower()}") from None
    except UnicodeDecodeError:
        raise SettingError(f"account {account!r}: its API key file {path} is not UTF-8 text") from None
    if not key:
        raise SettingError(f"account {account!r}: its API key file {path} is empty")
    return key


def check_account_name(name: str) -> str:
    """``name`` when it can name an account (``NAME_PATTERN``); else SettingError naming it and the rule."""
    if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
        raise SettingError(f"account name {name!r} must match {NAME_PATTERN}: {NAME_RULE}")
    return name


def check_registrable(name: str) -> str:
    """``name`` when it can be registered: a good account name other than ``DEFAULT_ACCOUNT``."""
    check_account_name(name)
    if name == DEFAULT_ACCOUNT:
        raise SettingError(f"account name {name!r} is reserved for the pipeline without registered accounts:"
                           f" choose another name")
    return name


def accounts_file(config=None, environ: Mapping[str, str] | None = None) -> Path:
    """The registry's path: ``PIPELINE_ACCOUNTS_FILE``, else ``[pipeline] accounts_file``, else
    ``accounts.toml`` in the current folder."""
    config = config if config is not None else luigi.configuration.get_config()
    environ = environ if environ is not None else os.environ
    path = (environ.get(ACCOUNTS_FILE_VARIABLE, "").strip()
            or config.get("pipeline", "accounts_file", fallback="").strip() or DEFAULT_ACCOUNTS_FILE)
    return Path(path)


def load_accounts(path: Path | None = None, config=None,
                  environ: Mapping[str, str] | None = None) -> dict[str, Account]:
    """The registered accounts by name, in name order; {} when the registry file does not exist. SettingError, in
    one line naming the file (and the account), when it cannot be used."""
    path = Path(path) if path is not None else accounts_file(config, environ)
    text = read_registry(path)
    return {} if text is None else parse_registry(text, path)


def registered_accounts(path: Path | None = None, config=None, environ: Mapping[str, str] | None = None) -> list[str]:
    """The names of the accounts the pipeline loads: the registered ones, or ``[DEFAULT_ACCOUNT]`` when none is."""
    return list(load_accounts(path, config, environ)) or [DEFAULT_ACCOUNT]


def known_accounts(config=None, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every account that may have rows: the default account (a database created before accounts, or a pipeline
    that registers none) and the registered ones."""
    return list(dict.fromkeys([DEFAULT_ACCOUNT, *load_accounts(None, config, environ)]))


def registered_account(name: str, config=None, environ: Mapping[str, str] | None = None) -> Account:
    """The registry's entry of ``name``; SettingError when it is not registered (a typo in ``--account``)."""
    accounts = load_accounts(None, config, environ)
    if name not in accounts:
        path = accounts_file(config, environ)
        known = ", ".join(accounts) or "none"
        raise SettingError(f"account {name!r} is not registered in {path} (registered: {known}); register it with:"
                           f" python -m pipeline.accounts add {name} [--base-url URL --api-key-env VARIABLE]")
    return accounts[name]


def fetches_from_api(settings: Settings, account: str) -> bool:
    """Whether the account's days come from the API (it has a base URL), without reading its key: a day whose raw
    folder exists is never fetched, and needs none."""
    if account == DEFAULT_ACCOUNT:
        return settings.freshdesk is not None
    return bool(registered_account(account).base_url)


def account_api_settings(settings: Settings, account: str, config=None,
                         environ: Mapping[str, str] | None = None) -> ApiSettings | None:
    """How the account's day is fetched: ``[freshdesk]`` for the default account; for a registered one, its own base
    URL and key with the other ``[freshdesk]`` settings. None when it has no base URL (its raw folders are read as
    someone else wrote them)."""
    if account == DEFAULT_ACCOUNT:
        return settings.freshdesk
    entry = registered_account(account, config, environ)
    if not entry.base_url:
        return None
    config = config if config is not None else luigi.configuration.get_config()
    environ = environ if environ is not None else os.environ
    return api_settings(config, environ, base_url=entry.base_url, api_key=entry.api_key(environ))


def read_registry(path: Path) -> str | None:
    """The registry file's text; None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise SettingError(f"{path}: the accounts file is not UTF-8 text") from None
    except OSError as error:
        raise SettingError(f"{path}: cannot read the accounts file:"
                           f" {(error.strerror or type(error).__name__).lower()}") from None


def parse_registry(text: str, path: Path) -> dict[str, Account]:
    """The accounts that the registry text ``text`` (of the file ``path``) declares, in name order."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # its message gives the line and column, not the text
        raise SettingError(f"{path}: not valid TOML: {error}") from None
    for key in document:
        if key != "accounts":
            refuse_secret(key, f"{path}:")
            raise SettingError(f"{path}: {key!r} at the top level: the accounts file holds only [accounts.NAME]"
                               f" tables")
    tables = document.get("accounts", {})
    if not isinstance(tables, dict):
        raise SettingError(f"{path}: 'accounts' must be a table of [accounts.NAME] tables")
    accounts = [parse_entry(name, entry, path) for name, entry in tables.items()]
    return {account.name: account for account in sorted(accounts, key=lambda account: account.name)}


def parse_entry(name: str, entry, path: Path) -> Account:
    """The account of one ``[accounts.NAME]`` table."""
    try:
        check_registrable(name)
    except SettingError as error:
        raise SettingError(f"{path}: {error}") from None
    where = f"{path}: account {name!r}:"
    if not isinstance(entry, dict):
        refuse_secret(name, f"{path}: [accounts]:")
        raise SettingError(f"{where} must be a table, [accounts.{name}]")
    for key, value in entry.items():
        if key not in ENTRY_KEYS:
            refuse_secret(key, where)
            raise SettingError(f"{where} unknown key {key!r}; the allowed keys are {', '.join(ENTRY_KEYS)}")
        if not isinstance(value, str):
            raise SettingError(f"{where} {key} must be a string in double quotes, not {toml_type(value)}")
    values = {key: entry.get(key, "").strip() for key in ENTRY_KEYS}
    if values["api_key_env"] and values["api_key_file"]:
        raise SettingError(f"{where} names both api_key_env and api_key_file: keep the one that holds its API key")
    if values["api_key_env"] and not re.fullmatch(VARIABLE_PATTERN, values["api_key_env"]):
        raise SettingError(f"{where} api_key_env must be the name of an environment variable (letters, digits"
                           f" and '_', not starting with a digit)")
    if values["base_url"]:
        values["base_url"] = account_base_url(values["base_url"], f"{where} base_url")
    if values["api_key_file"]:  # a relative path is taken from the registry file's folder
        values["api_key_file"] = str(path.parent / values["api_key_file"])
    return Account(name=name, **values)


def account_base_url(url: str, setting: str) -> str:
    """``check_base_url`` for an account: its key goes in a variable or a file, not in the URL."""
    try:
        return check_base_url(url, setting, key_goes_in=KEY_GOES_IN)
    except ValueError as error:  # urlsplit's own refusal, e.g. https://[x
        if isinstance(error, SettingError):
            raise
        raise SettingError(f"{setting} must look like https://yourcompany.freshdesk.com, not {url!r}") from None


def refuse_secret(key: str, where: str) -> None:
    """SettingError when ``key`` names a secret (``api_key``, ``password``, ``token`` …): its value stays out of
    the message and of the file."""
    if re.fullmatch(SECRET_KEY_PATTERN, key.lower().replace("-", "_")):
        raise SettingError(f"{where} {key!r} would store a secret in the accounts file: the API key goes in"
                           f" {KEY_GOES_IN}")


def toml_type(value) -> str:
    """The TOML name of a parsed value's type: ``an integer``, ``a table`` …"""
    names = {bool: "a boolean", int: "an integer", float: "a float", list: "an array", dict: "a table"}
    return next((text for kind, text in names.items() if isinstance(value, kind)), "a date or time")


# The command line: list, add, remove.

def toml_string(value: str) -> str:
    """``value`` as a TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = re.sub(r"[\x00-\x1f\x7f]", lambda char: f"\\u{ord(char.group()):04x}", escaped)
    return f'"{escaped}"'


def account_table(name: str, values: Mapping[str, str]) -> str:
    """The ``[accounts.NAME]`` table of a new account, with its non-empty values."""
    lines = [f"[accounts.{name}]"] + [f"{key} = {toml_string(value)}" for key, value in values.items() if value]
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` at once: a temporary file in the same folder, then a rename."""
    temporary = path.with_name(f"{path.name}-{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if path.exists():
            shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise SettingError(f"cannot write {path}: {(error.strerror or type(error).__name__).lower()}") from None


def add_account(path: Path, name: str, base_url: str = "", api_key_env: str = "", api_key_file: str = "") -> Account:
    """Append ``[accounts.NAME]`` to the registry file (created when missing), keeping its text."""
    text = read_registry(path) or ""
    accounts = parse_registry(text, path)
    if name in accounts:
        raise SettingError(f"{path}: account {name!r} is already registered (remove it first to change it)")
    values = {"base_url": base_url.strip(), "api_key_env": api_key_env.strip(), "api_key_file": api_key_file.strip()}
    account = parse_entry(name, {key: value for key, value in values.items() if value}, path)
    values["base_url"] = account.base_url  # without its trailing slash
    separator = "" if not text.strip() else "\n" if text.endswith("\n") else "\n\n"
    new_text = (text if text.strip() else "") + separator + account_table(name, values)
    if not declares(new_text, path, {**accounts, name: account}):
        raise SettingError(f"{path}: cannot append [accounts.{name}] to this file's layout: add it by hand")
    write_atomically(path, new_text)
    return account


def remove_account(path: Path, name: str) -> None:
    """Remove the ``[accounts.NAME]`` table (its lines up to the next table header, but the comments just before
    that header, which belong to it) from the registry file."""
    text = read_registry(path) or ""
    accounts = parse_registry(text, path)
    if name not in accounts:
        raise SettingError(f"{path}: no account {name!r} is registered")
    lines = text.splitlines(keepends=True)
    header = re.compile(HEADER.format(name=re.escape(name)))
    start = next((n for n, line in enumerate(lines) if header.fullmatch(line.rstrip("\r\n"))), None)
    if start is None:
        raise SettingError(f"{path}: account {name!r} is not written as an [accounts.{name}] table: remove it by hand")
    end = next((n for n in range(start + 1, len(lines)) if lines[n].lstrip().startswith("[")), len(lines))
    while end > start + 1 and lines[end - 1].strip()[:1] in ("", "#"):
        end -= 1
    if end < len(lines) and not lines[end].strip() and (start == 0 or not lines[start - 1].strip()):
        end += 1  # no double blank line where the table was
    new_text = "".join(lines[:start] + lines[end:])
    new_text = new_text.rstrip() + "\n" if new_text.strip() else ""  # no blank lines left at its end
    remaining = {key: account for key, account in accounts.items() if key != name}
    if not declares(new_text, path, remaining):
        raise SettingError(f"{path}: cannot remove [accounts.{name}] from this file's layout: remove it by hand")
    write_atomically(path, new_text)


def declares(text: str, path: Path, accounts: Mapping[str, Account]) -> bool:
    """Whether the registry text ``text`` declares exactly ``accounts``: an edit did what it meant to."""
    try:
        return parse_registry(text, path) == accounts
    except SettingError:
        return False


def list_lines(accounts: Mapping[str, Account], environ: Mapping[str, str] | None = None) -> list[str]:
    """One aligned line per account: name, base URL, where its key comes from, whether that key is there now."""
    rows = [(account.name, account.base_url or "-", account.key_source(),
             "-" if account.key_source() == "-" else "key present" if account.has_key(environ) else "key missing")
            for account in accounts.values()]
    widths = [max(len(row[column]) for row in rows) for column in range(3)] if rows else []
    return ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[3]])
            for row in rows]


def file_option(parser: argparse.ArgumentParser, default=argparse.SUPPRESS) -> argparse.ArgumentParser:
    """``--file``, before or after the command (after it, SUPPRESS keeps the value given before it)."""
    parser.add_argument("--file", type=Path, default=default, metavar="PATH",
                        help=f"the accounts file (default: ${ACCOUNTS_FILE_VARIABLE}, else [pipeline] accounts_file"
                             f" in luigi.cfg, else {DEFAULT_ACCOUNTS_FILE})")
    return parser


def parser() -> argparse.ArgumentParser:
    """``python -m pipeline.accounts [--file PATH] {list,add,remove}``."""
    main_parser = argparse.ArgumentParser(prog="python -m pipeline.accounts",
                                          description="The registry of Freshdesk accounts the pipeline loads.")
    file_option(main_parser, default=None)
    commands = main_parser.add_subparsers(dest="command", required=True)
    file_option(commands.add_parser("list", help="the registered accounts, and whether their key is set"))
    add = file_option(commands.add_parser("add", help="register an account"))
    add.add_argument("name", help=f"the account's name: {NAME_RULE}")
    add.add_argument("--base-url", default="", metavar="URL", help="its Freshdesk URL, e.g. https://acme.freshdesk.com")
    key = add.add_mutually_exclusive_group()
    key.add_argument("--api-key-env", default="", metavar="VAR", help="the environment variable holding its key")
    key.add_argument("--api-key-file", default="", metavar="PATH",
                     help="the file holding its key (a relative path is taken from the accounts file's folder)")
    remove = file_option(commands.add_parser("remove", help="unregister an account"))
    remove.add_argument("name")
    return main_parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; 2 (after ``ERROR: <message>`` on stderr) when the registry or the request is refused."""
    arguments = parser().parse_args(argv)
    try:
        path = arguments.file if arguments.file is not None else accounts_file()
        if arguments.command == "list":
            accounts = load_accounts(path)
            print("\n".join(list_lines(accounts)) if accounts else
                  f"no account is registered in {path}: the pipeline loads the {DEFAULT_ACCOUNT!r} account")
        elif arguments.command == "add":
            add_account(path, arguments.name, arguments.base_url, arguments.api_key_env, arguments.api_key_file)
            print(f"account {arguments.name!r} added to {path}")
        else:
            remove_account(path, arguments.name)
            print(f"account {arguments.name!r} removed from {path}")
    except PipelineError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
