"""One credential vocabulary across surfaces: the names a connection secret and a connector's credentials
share, and the aliases accepted for them.

A saved-query secret says ``username`` (spec 000); a warehouse connector's credentials used to say
``user`` (as drivers do). Both take ``username`` now and accept ``user`` as its alias, stored under the
canonical name, so what a client wrote for one surface works on the other.
"""

from __future__ import annotations

from typing import Any

from telltale.platform.errors import ValidationError

ALIASES = {"user": "username"}


def canonical(value: dict[str, Any], where: str) -> dict[str, Any]:
    """``value`` with each alias renamed to its canonical key; a 400 naming ``where.<alias>`` when both are
    given with different values (which one was meant cannot be known)."""
    out = dict(value)
    for alias, name in ALIASES.items():
        if alias not in out:
            continue
        given = out.pop(alias)
        if name in out and out[name] != given:
            raise ValidationError(f"{where}.{alias} is an alias of {where}.{name}; give one of them",
                                  errors={f"{where}.{alias}": [f"an alias of {name}, which is also given"]})
        out.setdefault(name, given)
    return out
