"""Gateway overhead: requests per second through the local gateway (HTTP, JWT check, event building)
to a trivial authenticated route, against the same handler called in-process with a prebuilt event.

    .venv/bin/python benchmarks/platform_gateway.py [seconds]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "local"), str(ROOT / "layers" / "common" / "python")]


def main() -> int:
    import requests

    from telltale_local import runtime, tokens
    from telltale_local.stack import LocalStack

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    with tempfile.TemporaryDirectory() as tmp, LocalStack(Path(tmp), port=0, workers=False, scheduler=False,
                                                          demo=False) as stack:
        token = tokens.mint(stack.data_dir, tenant="bench")
        headers = {"Authorization": f"Bearer {token}"}
        url = stack.url + "/api/me"
        assert requests.get(url, headers=headers, timeout=10).status_code == 200

        def http_rps(clients: int) -> float:
            count = [0] * clients
            stop = time.perf_counter() + seconds

            def worker(i: int) -> None:
                s = requests.Session()
                while time.perf_counter() < stop:
                    s.get(url, headers=headers, timeout=10)
                    count[i] += 1

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return sum(count) / seconds

        fn = stack.template.function("apps")
        route = next(r for r in stack.template.routes if r.path == "/api/me")
        claims = tokens.as_authorizer_claims(tokens.verify(tokens.ensure_keys(stack.data_dir)[1], token))
        event = runtime.http_event(route, "GET", "/api/me", "", {"host": "x"}, b"", {}, claims, "127.0.0.1")
        handler = stack.runtime.handler_for(fn)

        def inproc_rps() -> float:
            n = 0
            stop = time.perf_counter() + seconds
            while time.perf_counter() < stop:
                handler(event, runtime.LambdaContext(fn))
                n += 1
            return n / seconds

        direct = inproc_rps()
        one = http_rps(1)
        four = http_rps(4)
        print(f"in-process handler          {direct:9.0f} req/s")
        print(f"through gateway, 1 client   {one:9.0f} req/s   ratio {one / direct:5.2f}x of in-process")
        print(f"through gateway, 4 clients  {four:9.0f} req/s   ratio {four / direct:5.2f}x of in-process")
        print(f"added per request (1 client): {(1 / one - 1 / direct) * 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
