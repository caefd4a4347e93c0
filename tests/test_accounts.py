"""The registry of Freshdesk accounts: reading and refusing the file, the API keys, the command line."""
import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.accounts import (
    DEFAULT_ACCOUNT,
    NAME_PATTERN,
    Account,
    accounts_file,
    add_account,
    check_account_name,
    load_accounts,
    registered_accounts,
    remove_account,
)
from pipeline.config import SettingError

REPO = Path(__file__).resolve().parent.parent
SECRET = "fd-s3cr3t-9f8e7d6c"  # a recognizable key: it must never be printed


def config(text=""):
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return parser


def registry(tmp_path, text, name="accounts.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path) -> str:
    with pytest.raises(SettingError) as failure:
        load_accounts(path, config(), environ={})
    message = str(failure.value)
    assert "\n" not in message and SECRET not in message
    return message


GOOD = """\
# Customers loaded every night
[accounts.zeta]
api_key_file = "keys/zeta"

[accounts.acme]
base_url = "https://acme.freshdesk.com/"   # the trailing slash is dropped
api_key_env = "FRESHDESK_API_KEY_ACME"

[accounts.initech]
"""


def test_a_good_file_is_read_in_name_order(tmp_path):
    path = registry(tmp_path, GOOD)
    accounts = load_accounts(path, config(), environ={})
    assert list(accounts) == ["acme", "initech", "zeta"]
    assert accounts["acme"] == Account("acme", "https://acme.freshdesk.com", api_key_env="FRESHDESK_API_KEY_ACME")
    assert accounts["initech"] == Account("initech")
    assert accounts["zeta"] == Account("zeta", api_key_file=str(tmp_path / "keys" / "zeta"))  # from the file's folder
    assert registered_accounts(path, config(), environ={}) == ["acme", "initech", "zeta"]


def test_the_example_file_is_a_valid_registry():
    accounts = load_accounts(REPO / "accounts.example.toml", config(), environ={})
    assert accounts and DEFAULT_ACCOUNT not in accounts
    assert all(account.api_key_env or account.api_key_file or not account.base_url for account in accounts.values())


def test_a_missing_file_registers_no_account_and_the_pipeline_loads_the_default_one(tmp_path):
    assert load_accounts(tmp_path / "accounts.toml", config(), environ={}) == {}
    assert registered_accounts(tmp_path / "accounts.toml", config(), environ={}) == [DEFAULT_ACCOUNT] == ["default"]
    assert registered_accounts(registry(tmp_path, "# none yet\n"), config(), environ={}) == ["default"]


def test_the_file_is_the_environment_variable_then_luigi_cfg_then_accounts_toml(tmp_path, monkeypatch):
    cfg = config("[pipeline]\naccounts_file = /etc/pipeline/accounts.toml\n")
    assert accounts_file(cfg, {"PIPELINE_ACCOUNTS_FILE": "/env/accounts.toml"}) == Path("/env/accounts.toml")
    assert accounts_file(cfg, {}) == Path("/etc/pipeline/accounts.toml")
    assert accounts_file(config(), {}) == Path("accounts.toml")
    monkeypatch.chdir(tmp_path)
    registry(tmp_path, "[accounts.acme]\n")
    registry(tmp_path, "[accounts.globex]\n", name="other.toml")
    assert list(load_accounts(config=config(), environ={})) == ["acme"]
    assert list(load_accounts(config=config(), environ={"PIPELINE_ACCOUNTS_FILE": "other.toml"})) == ["globex"]


@pytest.mark.parametrize("name", ["a", "acme", "acme-eu_2", "a" + "b" * 62])
def test_good_account_names(name):
    assert check_account_name(name) == name


@pytest.mark.parametrize("name", ["", "Acme", "2024-01-02", "-acme", "_acme", "ac me", "acme.eu", "a" * 64,
                                  "acme\n", "café"])
def test_a_bad_account_name_is_one_line_naming_it_and_the_rule(name):
    with pytest.raises(SettingError) as failure:
        check_account_name(name)
    assert str(failure.value).startswith(f"account name {name!r} must match {NAME_PATTERN}: a lower-case letter")
    assert "\n" not in str(failure.value)


@pytest.mark.parametrize("text, expected", [
    ('[accounts.acme]\nbase_url = "https://acme.freshdesk.com\n', ["not valid TOML", "line 2"]),
    ("[accounts.acme]\n[accounts.acme]\n", ["not valid TOML", "line 2"]),
    ('[accounts.acme]\nbase_ur = "https://acme.freshdesk.com"\n',
     ["account 'acme'", "unknown key 'base_ur'", "base_url, api_key_env, api_key_file"]),
    ("[accounts.acme]\nbase_url = 5\n", ["account 'acme'", "base_url must be a string", "not an integer"]),
    ("[accounts.acme]\napi_key_env = [\"A\"]\n", ["account 'acme'", "api_key_env must be a string", "an array"]),
    ("[accounts.Acme]\n", ["account name 'Acme' must match", NAME_PATTERN]),
    ("[accounts.2024-01-02]\n", ["account name '2024-01-02' must match"]),
    ('[accounts."acme corp"]\n', ["account name 'acme corp' must match"]),
    ("[accounts.default]\n", ["account name 'default' is reserved"]),
    ('[accounts.acme]\napi_key_env = "ACME_KEY"\napi_key_file = "/run/secrets/acme"\n',
     ["account 'acme'", "both api_key_env and api_key_file"]),
    (f'[accounts.acme]\napi_key_env = "{SECRET} "\n', ["account 'acme'", "api_key_env must be the name of an"]),
    ('[accounts.acme]\nbase_url = "ftp://acme.freshdesk.com"\n',
     ["account 'acme': base_url must look like https://yourcompany.freshdesk.com", "ftp://acme.freshdesk.com"]),
    ('[accounts.acme]\nbase_url = "https://[acme"\n', ["account 'acme': base_url must look like"]),
    (f'[accounts.acme]\nbase_url = "https://me:{SECRET}@acme.freshdesk.com"\n',
     ["account 'acme': base_url must not hold credentials", "api_key_env", "api_key_file"]),
    (f'[accounts.acme]\napi_key = "{SECRET}"\n', ["account 'acme'", "'api_key' would store a secret", "api_key_env"]),
    (f'[accounts.acme]\nkey = "{SECRET}"\n', ["account 'acme'", "'key' would store a secret"]),
    (f'[accounts.acme]\npassword = "{SECRET}"\n', ["account 'acme'", "'password' would store a secret"]),
    (f'[accounts.acme]\nFreshdesk-API-Key = "{SECRET}"\n', ["account 'acme'", "'Freshdesk-API-Key' would store"]),
    (f'[accounts.acme]\ntoken = "{SECRET}"\n', ["account 'acme'", "'token' would store a secret",
                                                "an environment variable (api_key_env) or a key file"]),
    (f'token = "{SECRET}"\n[accounts.acme]\n', ["'token' would store a secret"]),
    (f'[accounts]\nacme = "{SECRET}"\n', ["account 'acme': must be a table, [accounts.acme]"]),
    ('[pipeline]\nraw_root = "data/raw"\n', ["'pipeline' at the top level", "only [accounts.NAME] tables"]),
    ('accounts = "acme"\n', ["'accounts' must be a table of [accounts.NAME] tables"]),
])
def test_a_registry_the_pipeline_cannot_use_is_refused_in_one_line(tmp_path, text, expected):
    path = registry(tmp_path, text)
    message = refusal(path)
    assert message.startswith(f"{path}: ")
    for part in expected:
        assert part in message


def test_a_registry_that_is_not_text_is_refused(tmp_path):
    path = tmp_path / "accounts.toml"
    path.write_bytes(b"[accounts.acme]\nbase_url = \"\xff\"\n")
    assert refusal(path) == f"{path}: the accounts file is not UTF-8 text"


def test_the_api_key_comes_from_the_named_variable(tmp_path):
    account = Account("acme", api_key_env="ACME_KEY")
    assert account.api_key({"ACME_KEY": f" {SECRET}\n"}) == SECRET
    assert account.has_key({"ACME_KEY": SECRET}) is True
    for environ in ({}, {"ACME_KEY": "  "}):
        with pytest.raises(SettingError) as failure:
            account.api_key(environ)
        assert str(failure.value) == ("account 'acme': the environment variable ACME_KEY, which holds its API key,"
                                      " is not set or empty")
        assert account.has_key(environ) is False
    assert SECRET not in repr(account)


def test_the_api_key_comes_from_the_key_file(tmp_path):
    key_file = tmp_path / "acme_key"
    key_file.write_text(f"{SECRET}\n", encoding="utf-8")
    path = registry(tmp_path, '[accounts.acme]\napi_key_file = "acme_key"\n')
    account = load_accounts(path, config(), environ={})["acme"]
    assert account.api_key({}) == SECRET
    assert SECRET not in repr(account) and SECRET not in str(account)
    key_file.write_text("\n", encoding="utf-8")
    with pytest.raises(SettingError, match=r"^account 'acme': its API key file .*acme_key is empty$"):
        account.api_key({})


def test_a_missing_key_file_names_the_account_and_the_file(tmp_path):
    account = Account("acme", api_key_file=str(tmp_path / "absent"))
    with pytest.raises(SettingError) as failure:
        account.api_key({})
    assert str(failure.value) == f"account 'acme': cannot read its API key file {tmp_path / 'absent'}: no such file" \
                                 " or directory"
    assert account.has_key({}) is False


def test_an_account_without_a_key_source_has_an_empty_key():
    account = Account("initech", base_url="https://initech.freshdesk.com")
    assert (account.api_key({}), account.key_source(), account.has_key({})) == ("", "-", False)


def test_add_appends_a_table_and_keeps_the_text_and_remove_takes_it_out(tmp_path):
    path = registry(tmp_path, "# Customers loaded every night\n[accounts.acme]\napi_key_env = \"ACME_KEY\"\n")
    weird = str(tmp_path / 'we"ird\\key')
    escaped = weird.replace("\\", "\\\\").replace('"', '\\"')  # a TOML basic string
    added = add_account(path, "globex", base_url="https://globex.freshdesk.com/", api_key_file=weird)
    assert added == Account("globex", "https://globex.freshdesk.com", api_key_file=weird)
    assert path.read_text(encoding="utf-8") == (
        "# Customers loaded every night\n[accounts.acme]\napi_key_env = \"ACME_KEY\"\n\n[accounts.globex]\n"
        "base_url = \"https://globex.freshdesk.com\"\n"
        f"api_key_file = \"{escaped}\"\n")
    assert load_accounts(path, config(), environ={}) == {"acme": Account("acme", api_key_env="ACME_KEY"),
                                                         "globex": added}
    assert sorted(child.name for child in tmp_path.iterdir()) == ["accounts.toml"]  # no temporary file left
    remove_account(path, "acme")
    assert path.read_text(encoding="utf-8") == (
        "# Customers loaded every night\n\n[accounts.globex]\nbase_url = \"https://globex.freshdesk.com\"\n"
        f"api_key_file = \"{escaped}\"\n")


def test_remove_keeps_the_comments_before_the_next_table(tmp_path):
    path = registry(tmp_path, "# Registry\n\n[accounts.acme]\n# its key\napi_key_env = \"ACME_KEY\"\n\n"
                              "# Globex, since 2021\n[accounts.globex]\n\n[accounts.initech]\n")
    remove_account(path, "acme")
    assert path.read_text(encoding="utf-8") == "# Registry\n\n# Globex, since 2021\n[accounts.globex]\n\n" \
                                               "[accounts.initech]\n"
    remove_account(path, "initech")
    assert path.read_text(encoding="utf-8") == "# Registry\n\n# Globex, since 2021\n[accounts.globex]\n"


def test_add_creates_the_file_and_its_folder(tmp_path):
    path = tmp_path / "etc" / "accounts.toml"
    add_account(path, "acme", api_key_env="ACME_KEY")
    assert path.read_text(encoding="utf-8") == "[accounts.acme]\napi_key_env = \"ACME_KEY\"\n"


@pytest.mark.parametrize("name, options, expected", [
    ("acme", {}, "account 'acme' is already registered"),
    ("default", {}, "account name 'default' is reserved"),
    ("Globex", {}, "account name 'Globex' must match"),
    ("globex", {"base_url": "globex.freshdesk.com"}, "account 'globex': base_url must look like"),
    ("globex", {"api_key_env": "A", "api_key_file": "/k"}, "both api_key_env and api_key_file"),
])
def test_add_refuses_and_leaves_the_file_as_it_was(tmp_path, name, options, expected):
    text = "# Registry\n[accounts.acme]\n"
    path = registry(tmp_path, text)
    with pytest.raises(SettingError) as failure:
        add_account(path, name, **options)
    assert str(failure.value).startswith(f"{path}: ") and expected in str(failure.value)
    assert path.read_text(encoding="utf-8") == text


def test_a_layout_without_account_tables_is_left_to_edit_by_hand(tmp_path):
    inline = 'accounts = { acme = { api_key_env = "ACME_KEY" } }\n'
    path = registry(tmp_path, inline)
    with pytest.raises(SettingError, match=r"cannot append \[accounts\.globex\] .*: add it by hand$"):
        add_account(path, "globex")
    with pytest.raises(SettingError, match=r"account 'acme' is not written as an \[accounts\.acme\] table"):
        remove_account(path, "acme")
    with pytest.raises(SettingError, match=r"no account 'globex' is registered$"):
        remove_account(path, "globex")
    assert path.read_text(encoding="utf-8") == inline


def accounts_cli(tmp_path, *args, env=None):
    environment = {key: value for key, value in os.environ.items() if key != "PIPELINE_ACCOUNTS_FILE"}
    environment.update({"PYTHONPATH": str(REPO), **(env or {})})
    return subprocess.run([sys.executable, "-m", "pipeline.accounts", *args], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_command_line_adds_lists_and_removes_accounts_without_printing_a_key(tmp_path):
    registry(tmp_path, "# Customers loaded every night\n", name="registry.toml")
    (tmp_path / "globex_key").write_text(f"{SECRET}-globex\n", encoding="utf-8")
    add = accounts_cli(tmp_path, "--file", "registry.toml", "add", "acme", "--base-url",
                       "https://acme.freshdesk.com", "--api-key-env", "ACME_KEY")
    assert (add.returncode, add.stdout, add.stderr) == (0, "account 'acme' added to registry.toml\n", "")
    add = accounts_cli(tmp_path, "add", "globex", "--api-key-file", "globex_key", "--file", "registry.toml")
    assert add.returncode == 0, add.stderr

    listed = accounts_cli(tmp_path, "--file", "registry.toml", "list", env={"ACME_KEY": SECRET})
    assert listed.returncode == 0 and listed.stderr == ""
    assert SECRET not in listed.stdout
    assert [line.split() for line in listed.stdout.splitlines()] == [
        ["acme", "https://acme.freshdesk.com", "env", "ACME_KEY", "key", "present"],
        ["globex", "-", "file", "globex_key", "key", "present"]]
    listed = accounts_cli(tmp_path, "--file", "registry.toml", "list", env={"ACME_KEY": ""})
    assert listed.stdout.splitlines()[0].split()[-4:] == ["env", "ACME_KEY", "key", "missing"]

    removed = accounts_cli(tmp_path, "--file", "registry.toml", "remove", "acme")
    assert (removed.returncode, removed.stdout) == (0, "account 'acme' removed from registry.toml\n")
    assert (tmp_path / "registry.toml").read_text(encoding="utf-8") == (
        "# Customers loaded every night\n\n[accounts.globex]\napi_key_file = \"globex_key\"\n")
    assert list(load_accounts(tmp_path / "registry.toml", config(), environ={})) == ["globex"]


@pytest.mark.parametrize("args, expected", [
    (["add", "acme"], "ERROR: registry.toml: account 'acme' is already registered"),
    (["add", "Acme"], "ERROR: registry.toml: account name 'Acme' must match"),
    (["add", "2024-01-02"], "ERROR: registry.toml: account name '2024-01-02' must match"),
    (["add", "globex", "--base-url", f"https://me:{SECRET}@globex.freshdesk.com"],
     "ERROR: registry.toml: account 'globex': base_url must not hold credentials"),
    (["remove", "globex"], "ERROR: registry.toml: no account 'globex' is registered"),
])
def test_the_command_line_refuses_in_one_line_and_exit_2(tmp_path, args, expected):
    text = "# Registry\n[accounts.acme]\n"
    registry(tmp_path, text, name="registry.toml")
    result = accounts_cli(tmp_path, "--file", "registry.toml", *args)
    assert (result.returncode, result.stdout) == (2, "")
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(expected)
    assert SECRET not in result.stderr
    assert (tmp_path / "registry.toml").read_text(encoding="utf-8") == text


def test_the_command_line_reports_a_broken_registry_without_a_traceback(tmp_path):
    registry(tmp_path, f'[accounts.acme]\napi_key = "{SECRET}"\n')  # accounts.toml in the current folder
    result = accounts_cli(tmp_path, "list")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("ERROR: accounts.toml: account 'acme': 'api_key' would store a secret in the accounts"
                             " file: the API key goes in an environment variable (api_key_env) or a key file"
                             " (api_key_file), never in the accounts file\n")


def test_the_command_line_lists_no_account_when_there_is_no_file(tmp_path):
    result = accounts_cli(tmp_path, "list")
    assert result.returncode == 0 and not (tmp_path / "accounts.toml").exists()
    assert result.stdout == "no account is registered in accounts.toml: the pipeline loads the 'default' account\n"
