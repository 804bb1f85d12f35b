from __future__ import annotations

import ast
from pathlib import Path

import pytest

from telltale.platform.config import Settings, SettingsError


def test_defaults_without_environment():
    s = Settings.from_env({})
    assert s.db_port == 5432 and s.event_store == "postgres" and s.aws_endpoint_url is None


def test_values_come_from_prefixed_variables():
    s = Settings.from_env({"TELLTALE_DB_HOST": "db.internal", "TELLTALE_DB_PORT": "6543",
                           "TELLTALE_DB_SSL": "true", "TELLTALE_EVENT_STORE": "clickhouse",
                           "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"})
    assert (s.db_host, s.db_port, s.db_ssl, s.event_store) == ("db.internal", 6543, True, "clickhouse")
    assert s.aws_region == "eu-west-1" and s.aws_endpoint_url == "http://127.0.0.1:5000"


def test_empty_variables_mean_default():
    assert Settings.from_env({"TELLTALE_DB_PASSWORD": ""}).db_password is None


def test_bad_values_are_rejected_with_the_variable_and_the_fix():
    with pytest.raises(SettingsError, match=r"TELLTALE_DB_PORT .*must be an integer, not 'five'"):
        Settings.from_env({"TELLTALE_DB_PORT": "five"})
    with pytest.raises(SettingsError, match=r"TELLTALE_EVENT_STORE .*must be one of postgres, clickhouse"):
        Settings.from_env({"TELLTALE_EVENT_STORE": "mongo"})
    with pytest.raises(SettingsError, match=r"TELLTALE_DB_SSL .*must be true or false"):
        Settings.from_env({"TELLTALE_DB_SSL": "maybe"})
    with pytest.raises(SettingsError, match=r"TELLTALE_MAX_PAGE_SIZE .*at least 1"):
        Settings.from_env({"TELLTALE_MAX_PAGE_SIZE": "0"})
    # every bad variable at once, so one deploy fixes them all
    with pytest.raises(SettingsError, match=r"TELLTALE_DB_PORT.*TELLTALE_CLICKHOUSE_PORT"):
        Settings.from_env({"TELLTALE_DB_PORT": "x", "TELLTALE_CLICKHOUSE_PORT": "y"})


def test_numbers_and_flags_convert():
    s = Settings.from_env({"TELLTALE_DB_CONNECT_TIMEOUT_S": "2.5", "TELLTALE_CLICKHOUSE_SECURE": "1",
                           "TELLTALE_SECRETS_CACHE_SECONDS": "30"})
    assert (s.db_connect_timeout_s, s.clickhouse_secure, s.secrets_cache_seconds) == (2.5, True, 30)


# ------------------------------------------------------------- the settings other modules used to read
NEW_SETTINGS = {  # variable: (a good value and what it becomes, bad values and what the error says)
    "TELLTALE_QUERIES_MAX_ROWS": (("500", 500), {"many": "must be an integer", "0": "at least 1"}),
    "TELLTALE_QUERIES_STATEMENT_TIMEOUT_S": (("5", 5), {"2.5": "must be an integer", "0": "at least 1",
                                                        "-3": "at least 1"}),
    "TELLTALE_QUERIES_MAX_BYTES": (("1000", 1000), {"5MB": "must be an integer", "0": "at least 1"}),
    "TELLTALE_INTERNAL_POOL_SIZE": (("2", 2), {"eight": "must be an integer", "0": "at least 1"}),
    "TELLTALE_APIANALYTICS_CHECK_TIMEOUT_S": (("2.5", 2.5), {"soon": "must be a number", "0.1": "at least 0.5",
                                                             "21": "at most 20", "nan": "finite",
                                                             "inf": "finite"}),
    "TELLTALE_USAGE_SYNC_WAIT_S": (("0", 0.0), {"soon": "must be a number", "-1": "at least 0",
                                                "26": "at most 25"}),
    "AWS_LAMBDA_RUNTIME_API": (("127.0.0.1:9001", ("127.0.0.1", 9001)),
                               {"127.0.0.1": "host:port", ":9001": "host:port", "localhost:http": "host:port",
                                "127.0.0.1:70000": "host:port"}),
}


@pytest.mark.parametrize("variable", sorted(NEW_SETTINGS))
def test_each_setting_is_converted_and_a_bad_value_names_its_variable(variable):
    (good, value), bad = NEW_SETTINGS[variable]
    field = variable.removeprefix("TELLTALE_").lower() if variable.startswith("TELLTALE_") else "lambda_runtime_api"
    assert getattr(Settings.from_env({variable: good}), field) == value
    assert getattr(Settings.from_env({}), field) == getattr(Settings(), field)  # unset: the default
    for raw, says in bad.items():
        with pytest.raises(SettingsError, match=rf"{variable} \({field}\): .*{says}"):
            Settings.from_env({variable: raw})


def test_the_runtime_api_comes_only_from_lambdas_own_variable():
    assert Settings.from_env({"TELLTALE_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}).lambda_runtime_api is None
    assert Settings.from_env({"AWS_LAMBDA_RUNTIME_API": "[::1]:9001"}).lambda_runtime_api == ("::1", 9001)


def test_the_users_of_the_new_settings_read_them_from_settings(monkeypatch):
    from telltale.apianalytics import monitors
    from telltale.connectors.base import Limits
    from telltale.connectors.internal import POOL
    from telltale.platform import config

    for name, value in {"TELLTALE_QUERIES_MAX_ROWS": "7", "TELLTALE_QUERIES_STATEMENT_TIMEOUT_S": "3",
                        "TELLTALE_QUERIES_MAX_BYTES": "999", "TELLTALE_INTERNAL_POOL_SIZE": "2",
                        "TELLTALE_APIANALYTICS_CHECK_TIMEOUT_S": "1.5"}.items():
        monkeypatch.setenv(name, value)
    config.reset_settings()
    try:
        limits = Limits()
        assert (limits.max_rows, limits.statement_timeout_s, limits.max_bytes) == (7, 3, 999)
        assert POOL.size == 2 and monitors.check_timeout() == 1.5
        monkeypatch.setenv("TELLTALE_QUERIES_MAX_ROWS", "lots")
        config.reset_settings()
        with pytest.raises(SettingsError, match="TELLTALE_QUERIES_MAX_ROWS"):  # no silent default any more
            Limits()
    finally:
        monkeypatch.undo()
        config.reset_settings()


# ------------------------------------------------------------------ one reader of the environment
ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "common" / "python" / "telltale"
READER = LAYER / "platform" / "config.py"
DEPLOYED = (LAYER, ROOT / "functions")  # the layer and the handlers: what runs in Lambda
# Every way to the process environment that the os module (and posix, nt, which os re-exports) offers.
ENVIRONMENT = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
OS_MODULES = {"os", "posix", "nt"}


def environment_reads(source: str) -> list[str]:
    """Where ``source`` reaches the environment: any attribute of that name on anything (``os.environ``,
    ``__import__("os").getenv``, an alias of os), any import of one from os (``from os import environ``),
    and a name of them looked up dynamically (``getattr(os, "environ")``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in OS_MODULES:
            found += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names
                      if a.name in ENVIRONMENT or a.name == "*"]
        elif isinstance(node, ast.Constant) and node.value in ENVIRONMENT:
            found.append(f"line {node.lineno}: {node.value!r}")
    return found


def test_only_the_settings_module_reads_the_environment():
    files = sorted(p for top in DEPLOYED for p in top.rglob("*.py") if p != READER)
    assert len(files) > 100
    offenders = {str(path.relative_to(ROOT)): reads for path in files
                 if (reads := environment_reads(path.read_text(encoding="utf-8")))}
    assert offenders == {}, f"read settings through telltale.platform.config.Settings: {offenders}"
    assert environment_reads(READER.read_text(encoding="utf-8"))  # the scan sees the one reader


@pytest.mark.parametrize("source", [
    "import os\nos.environ['X']",
    "import os\nos.getenv('X')",
    "import os as o\no.environ.get('X')",
    "from os import environ\n",
    "from os import getenv as g\n",
    "from os import *\n",
    "import posix\nposix.environ",
    "__import__('os').environ",
    "import os\ngetattr(os, 'environ')",
    "import os\nos.putenv('X', '1')",
])
def test_the_scan_finds_every_way_to_the_environment(source):
    assert environment_reads(source)


def test_the_scan_leaves_other_code_alone():
    assert environment_reads("import os\nos.urandom(16)\nenv = jinja2.sandbox.SandboxedEnvironment()") == []


def test_template_yaml_sets_only_settings_and_valid_values():
    """Every TELLTALE_ variable a function of template.yaml is given is a setting, and its literal value
    passes Settings (a misspelt variable would otherwise be ignored in silence)."""
    import sys
    from dataclasses import fields

    sys.path.insert(0, str(ROOT / "local"))
    from telltale_local.template import load

    known = {"TELLTALE_" + f.name.upper() for f in fields(Settings)}
    for fn in load().functions.values():
        ours = {k: v for k, v in fn.environment.items() if k.startswith("TELLTALE_")}
        assert set(ours) <= known, (fn.logical_id, sorted(set(ours) - known))
        Settings.from_env({k: str(v) for k, v in ours.items() if not isinstance(v, dict)})
