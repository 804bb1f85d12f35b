from __future__ import annotations

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
