"""Secrets Manager access: names per tenant and app, cached reads, and no value ever in a log.

Reads go through Powertools' Parameters utility (cached for ``secrets_cache_seconds``); writes and
deletes go straight to Secrets Manager and drop the cached copy.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from telltale.platform import aws
from telltale.platform.config import get_settings
from telltale.platform.errors import NotFound

_provider: Any = None


def secret_name(tenant_id: str, app_slug: str, key: str) -> str:
    return f"{get_settings().secrets_prefix}/{tenant_id}/{app_slug}/{key}"


def _secrets_provider() -> Any:
    global _provider
    if _provider is None:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        _provider = SecretsProvider(boto3_client=aws.client("secretsmanager"))
    return _provider


def reset_cache() -> None:
    global _provider
    _provider = None


def read_secret_json(name: str) -> dict[str, Any]:
    """A secret's JSON value, cached; NotFound when it does not exist."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        value = _secrets_provider().get(name, max_age=get_settings().secrets_cache_seconds)
    except GetParameterError:
        raise NotFound("secret not found") from None
    parsed = json.loads(value if isinstance(value, str) else value.decode())
    if not isinstance(parsed, dict):
        raise NotFound("secret is not a JSON object")
    return parsed


def put_secret_json(name: str, value: dict[str, Any], *, tags: dict[str, str] | None = None) -> str:
    """Create or overwrite a secret; returns its ARN."""
    sm = aws.client("secretsmanager")
    payload = json.dumps(value)
    try:
        arn = sm.put_secret_value(SecretId=name, SecretString=payload)["ARN"]
    except sm.exceptions.ResourceNotFoundException:
        arn = sm.create_secret(
            Name=name, SecretString=payload,
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )["ARN"]
    _forget(name)
    return str(arn)


def delete_secret(name: str) -> None:
    sm = aws.client("secretsmanager")
    with contextlib.suppress(sm.exceptions.ResourceNotFoundException):
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    _forget(name)


def _forget(name: str) -> None:
    if _provider is not None:
        _provider.clear_cache()

