"""The local stack gives each function the environment template.yaml declares, with local resources for
its references, and lets the shell override a literal value (as `sam local --env-vars` does)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "local"))

from telltale_local.stack import local_env  # noqa: E402
from telltale_local.template import load  # noqa: E402

SWITCH = "TELLTALE_APIANALYTICS_CHECK_TIMEOUT_S"


def test_template_values_references_and_overrides(monkeypatch):
    monkeypatch.delenv(SWITCH, raising=False)
    env = local_env(load(), {"TELLTALE_DB_HOST": "127.0.0.1"})
    assert env[SWITCH] == "10"  # the deployed default
    assert env["TELLTALE_EVENTS_QUEUE_URL"] == "local://EventsQueue"  # a !Ref to a queue
    assert env["TELLTALE_DB_HOST"] == "127.0.0.1"  # the stack's own settings win


def test_the_shell_overrides_a_literal_value(monkeypatch):
    monkeypatch.setenv(SWITCH, "2")
    assert local_env(load(), {})[SWITCH] == "2"
