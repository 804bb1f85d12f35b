"""The cost of bounding a request body's depth and size (telltale.web.replies.parse_json_body).

On a typical 1 MB body (an ingest batch of ordinary events), in the same process, alternating rounds:
the baseline is a bare ``json.loads`` (what catching RecursionError alone costs: nothing more); against it,
``parse_json_body`` as shipped (a size check, json.loads, then a walk of the parsed value one level at a time),
and the alternative it was chosen over: a scan of the text's brackets outside strings before json.loads
(two regular expressions and a running sum). Also the adversarial case: 5 MB of arrays nested 64 deep,
which both accept.

    .venv/bin/python benchmarks/web_json_bounds.py [rounds]
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
import uuid
from array import array
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "common" / "python"))

from telltale.web.replies import MAX_BODY_DEPTH, parse_json_body  # noqa: E402

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = bytes.maketrans(b"[]{}", bytes([1, 255, 1, 255]))


def scan_then_loads(text: str) -> object:
    """The alternative: refuse by the text's bracket depth, strings removed, before parsing."""
    if text.count("[") + text.count("{") > MAX_BODY_DEPTH:
        skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text)).encode("ascii").translate(_STEP)
        if max(accumulate(array("b", skeleton))) > MAX_BODY_DEPTH:
            raise ValueError("too deep")
    return json.loads(text)


def event(i: int) -> dict[str, object]:
    return {"eventId": str(uuid.uuid4()), "eventType": "contact.created", "tenantId": "demo",
            "actorType": "TENANT_STAFF", "actorId": f"TS{i}", "entityType": "CONTACT", "entityId": f"C{i}",
            "occurredAt": "2026-04-22T10:30:00Z", "attributes": {"plan": "pro", "source": "import", "seats": "12"}}


def median_ms(fn: Callable[[str], object], text: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    typical = json.dumps([event(i) for i in range(3300)])
    nest = "[" * (MAX_BODY_DEPTH - 1) + "]" * (MAX_BODY_DEPTH - 1)  # inside the outer array: 64 levels
    adversarial = "[" + ",".join([nest] * (5_000_000 // (len(nest) + 1))) + "]"
    for name, text, n in (("typical", typical, rounds), ("adversarial", adversarial, max(3, rounds // 10))):
        sides: dict[str, list[float]] = {"json.loads": [], "parse_json_body": [], "scan, then json.loads": []}
        fns = {"json.loads": json.loads, "parse_json_body": parse_json_body, "scan, then json.loads": scan_then_loads}
        for _ in range(3):  # interleaved, so that the three see the same machine
            for side, fn in fns.items():
                sides[side].append(median_ms(fn, text, n))
        base = statistics.median(sides["json.loads"])
        print(f"{name}: {len(text):,} bytes")
        for side, xs in sides.items():
            print(f"  {side:24s} {statistics.median(xs):8.2f} ms  {statistics.median(xs) / base:5.2f}x")


if __name__ == "__main__":
    main()
