"""Request and reply models of the saved-queries API (spec 000)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TAG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,49}$"
SECRET_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
MAX_QUERY_CHARS = 100_000

ConnectionType = Literal["external", "internal"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def _check_tags(tags: list[str] | None) -> list[str] | None:
    if tags is None:
        return None
    import re

    out: list[str] = []
    for tag in tags:
        if not re.match(TAG_PATTERN, tag):
            raise ValueError(f"tag '{tag[:60]}' must be a slug: lowercase letters, digits, '-' or '_' (at most 50)")
        if tag not in out:
            out.append(tag)
    if len(out) > 20:
        raise ValueError("at most 20 tags")
    return out


class QueryCreate(_Strict):
    name: str = Field(min_length=1, max_length=200, description="Human-readable query name")
    description: str = Field(default="", max_length=2000, description="Query description")
    connection_type: ConnectionType = Field(default="external", description="external or internal")
    secret_key: str | None = Field(default=None, pattern=SECRET_KEY_PATTERN,
                                   description="Reference to the connection secret (external only)")
    query_text: str = Field(min_length=1, max_length=MAX_QUERY_CHARS,
                            description="Query template (SQL or Elasticsearch DSL/ClickHouse)")
    tags: list[str] = Field(default_factory=list, description="Tag slugs for organization")

    @field_validator("name")
    @classmethod
    def _name_has_letters(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return _check_tags(v) or []


class QueryUpdate(_Strict):
    """PUT: any field may change; the result is validated as a whole, like a create. An explicit
    ``"secret_key": null`` clears the key (needed when switching to internal)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    connection_type: ConnectionType | None = None
    secret_key: str | None = Field(default=None, pattern=SECRET_KEY_PATTERN)
    query_text: str | None = Field(default=None, min_length=1, max_length=MAX_QUERY_CHARS)
    tags: list[str] | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str] | None) -> list[str] | None:
        return _check_tags(v)
