"""The local stack serves requests at once, as Lambda's functions do, and no request sees another's.

Deployed, each function runs in its own processes; here they share one, so the runtime keeps what
Powertools holds per process (the request being handled) per thread, and one warm container per function.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_a_request_does_not_wait_behind_a_slow_one_of_another_function(local_stack: Any, api: Any) -> None:
    # A handler held open until the other request has been answered: if the stack served one request at a
    # time, the second request could not finish and its timeout would fail the test.
    fn = local_stack.template.functions["UsageCatalogFunction"]
    original = local_stack.runtime.handler_for(fn)
    entered, release = threading.Event(), threading.Event()

    def held(event: dict[str, Any], context: Any) -> Any:
        entered.set()
        release.wait(30)
        return original(event, context)

    local_stack.runtime._handlers[fn.logical_id] = held
    try:
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(api.get, "/spaces")
            assert entered.wait(10), "the held request never reached its handler"
            fast = requests.get(f"{local_stack.url}/api/me", headers=api.headers(), timeout=10)
            assert fast.status_code == 200, fast.text
            assert not slow.done()
            release.set()
            assert slow.result(timeout=30).status_code == 200
    finally:
        release.set()
        local_stack.runtime._handlers[fn.logical_id] = original


def test_a_request_held_mid_route_still_sees_its_own_request(local_stack: Any, api: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # GET /api/me is held inside its route, after its resolver has taken the request and before the route
    # reads it, while another function's resolver handles a request of another tenant. Before, the
    # resolvers shared the request being handled: the held route answered with the other tenant.
    import sys

    fn = local_stack.template.functions["AppsFunction"]
    local_stack.runtime.handler_for(fn)
    module = sys.modules[f"telltale_function_{fn.name}_{fn.module_path.stem}"]
    original = module.current_auth
    entered, release = threading.Event(), threading.Event()

    def held(router: Any) -> Any:
        if router.current_event.headers.get("x-hold") == "yes":
            entered.set()
            release.wait(30)
        return original(router)

    monkeypatch.setattr(module, "current_auth", held)
    with ThreadPoolExecutor(1) as pool:
        mine = pool.submit(requests.get, f"{local_stack.url}/api/me",
                           headers={**api.headers(tenant="heldtenant"), "x-hold": "yes"}, timeout=30)
        assert entered.wait(10), "the held request never reached its route"
        other = requests.get(f"{local_stack.url}/spaces", headers=api.headers(tenant="othertenant"), timeout=10)
        assert other.status_code == 200, other.text
        release.set()
        reply = mine.result(timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["tenant_id"] == "heldtenant"


def test_requests_handled_at_once_each_see_their_own_request(local_stack: Any, api: Any) -> None:
    # Two functions with a Powertools resolver, hit together many times: before, the resolvers shared the
    # request being handled, so one could answer with the other's path or tenant.
    tenants = [f"conc{i}" for i in range(4)]

    def me(tenant: str) -> str:
        r = requests.get(f"{local_stack.url}/api/me", headers=api.headers(tenant=tenant), timeout=30)
        assert r.status_code == 200, r.text
        return str(r.json()["data"]["tenant_id"])

    def spaces(tenant: str) -> int:
        r = requests.get(f"{local_stack.url}/spaces", headers=api.headers(tenant=tenant), timeout=30)
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        mine = [(t, pool.submit(me, t)) for t in tenants * 15]
        others = [pool.submit(spaces, t) for t in tenants * 15]
        assert [f.result() for _, f in mine] == [t for t, _ in mine]
        assert {f.result() for f in others} == {200}
