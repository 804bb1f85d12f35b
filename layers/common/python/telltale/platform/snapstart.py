"""Lambda SnapStart for Python: work done once before the snapshot, and what a restored copy must not keep.

With SnapStart, Lambda runs a function's initialisation when a version is published, snapshots the
memory, and starts each new execution environment from that snapshot instead of importing again. The
runtime (Python 3.12 and later) ships ``snapshot_restore_py``, whose hooks run just before the snapshot
and just after each restore. Outside Lambda, or where the module is absent, :func:`register` does nothing
and the function starts as it always did.

What a snapshot shares between every environment restored from it, and so must be made anew after a
restore: open sockets (the platform database's thread connection, pooled tenant sessions) and the state
of :mod:`random` (two environments would draw the same numbers). Secrets are never read before the
snapshot, so none is in it. AWS clients are kept: creating one opens no connection, and their
credentials are read when a request is signed.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from telltale.platform import db

__all__ = ["register", "restored"]


def register(prepare: Callable[[], None], forget: Callable[[], None] | None = None) -> bool:
    """Run ``prepare`` before the snapshot, and after each restore :func:`restored` and then ``forget`` (what
    the caller's own modules hold: pooled sessions, say). False when the runtime has no SnapStart hooks:
    then nothing is registered and neither is called."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(prepare)
    register_after_restore(restored)
    if forget is not None:
        register_after_restore(forget)
    return True


def restored() -> None:
    """Forget what every environment restored from one snapshot would otherwise share."""
    db.reset()
    random.seed()  # from os.urandom: each environment its own sequence
