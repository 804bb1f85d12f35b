"""Waiting for the middleware to deliver what a test's requests produced.

A WSGI server closes the response iterable (which is when the middleware records the request) after
the client may already have read the response, so a test that calls ``flush_all`` straight after its
last request can flush before that record exists. Wait for the count instead of assuming it.
"""

from __future__ import annotations

import time

from telltale_client import core


def flush_until_sent(expected: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert core.flush_all(max(0.1, deadline - time.monotonic())), "the middleware could not deliver its batch"
        sent = sum(c.stats()["sent"] for c in list(core._clients.values()))
        if sent >= expected:
            return
        assert time.monotonic() < deadline, f"the middleware sent {sent} of {expected} records in {timeout} s"
        time.sleep(0.01)
