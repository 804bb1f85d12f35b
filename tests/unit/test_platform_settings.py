from __future__ import annotations

import pytest
from pydantic import ValidationError

from telltale.config import Settings


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


def test_bad_values_are_rejected_with_the_field_name():
    with pytest.raises(ValidationError, match="db_port"):
        Settings.from_env({"TELLTALE_DB_PORT": "five"})
    with pytest.raises(ValidationError, match="event_store"):
        Settings.from_env({"TELLTALE_EVENT_STORE": "mongo"})
