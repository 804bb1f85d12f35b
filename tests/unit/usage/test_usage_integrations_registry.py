"""The integrations registry is the one list of usage sources: every type in it has its module, its config
model and the one contract; nothing outside it is accepted."""

from __future__ import annotations

import importlib
import inspect

import pytest

from telltale.usage import integrations
from telltale.usage.integrations import config


def test_the_registry_and_the_config_models_name_the_same_types():
    assert set(config.MODELS) == set(integrations.REGISTRY)
    assert set(integrations.BI_TYPES) | set(integrations.WAREHOUSE_TYPES) == set(integrations.TYPES)
    assert not set(integrations.BI_TYPES) & set(integrations.WAREHOUSE_TYPES)


@pytest.mark.parametrize("ctype", integrations.TYPES)
def test_every_integration_keeps_the_one_contract(ctype: str):
    spec = integrations.REGISTRY[ctype]
    module = importlib.import_module(f"telltale.usage.integrations.{spec.module}")
    assert list(inspect.signature(module.make).parameters) == ["config", "credentials", "state"]
    given = {"base_url": "https://bi.example.com", "project": "p", "host": "db.example.com", "database": "d"}
    assert set(spec.required_config) <= set(given)
    instance = module.make(config.MODELS[ctype].model_validate(given).model_dump(),
                           dict.fromkeys(spec.credential_sets[0], "x"), {})
    assert callable(instance.collect)
    assert isinstance(instance.state, dict)


def test_loading_an_unknown_type_is_refused():
    with pytest.raises(KeyError):
        integrations.load({"type": "excel", "config": {}, "credentials": {}})
