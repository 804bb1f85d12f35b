"""Paging: the ``page``/``page_size`` query parameters of every listing route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from telltale.platform.errors import ValidationError
from telltale.web.http import HasEvent


class Page(BaseModel):
    page: int = 1
    page_size: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_params(app: HasEvent, *, default_size: int = 20, max_size: int = 100) -> Page:
    """``page`` and ``page_size`` from the query string, validated with messages that say the limits."""
    q = app.current_event.query_string_parameters or {}
    errors: dict[str, list[str]] = {}
    values: dict[str, int] = {}
    for name, default, lo, hi in (("page", 1, 1, 1_000_000), ("page_size", default_size, 1, max_size)):
        raw = q.get(name)
        if raw is None:
            values[name] = default
            continue
        try:
            value = int(raw)
        except ValueError:
            errors[name] = [f"must be an integer between {lo} and {hi}"]
            continue
        if not lo <= value <= hi:
            errors[name] = [f"must be between {lo} and {hi}"]
        values[name] = value
    if errors:
        raise ValidationError("invalid paging parameters", errors=errors)
    return Page(**values)


def listing(items: list[Any], total: int, page: Page) -> dict[str, Any]:
    """A listing's reply: its page of ``items``, the ``total`` across pages, and the page it is."""
    return {"items": items, "total": total, "page": page.page, "page_size": page.page_size}
