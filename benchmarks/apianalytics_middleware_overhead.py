"""Middleware overhead: requests/s of a Tornado hello-world with telltale-client's Analytics handler
against the same app without it, measured with a load generator (wrk when installed, else a Python
load loop in its own processes). Target: at most 5% fewer requests per second, and ahead of the peer's
client: a third row runs the same app with tom-draper/api-analytics' Tornado client (``tornado-analytics``,
spec 002's own, from .venv/peer/tornado-analytics; else the same module from ``api-analytics``).

Each app runs in its own process; the middleware sends its batches to a sink process that answers 201,
so what is measured is the middleware (recording, buffering, batching, JSON, HTTP posts), not Telltale's
ingest. Runs are interleaved (plain, analytics, plain, ...); the headline is the median of each run's
paired ratio, with its range. Two figures:
requests/s (the target), and the server process's CPU time per request (user + system, all threads,
from /proc), which a busy shared machine disturbs far less than throughput. With taskset available the
app servers share one core and the load generator and sink the other.

    .venv/bin/python benchmarks/apianalytics_middleware_overhead.py [--seconds 5] [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients"))
PEER = ROOT / ".venv" / "peer" / "tornado-analytics"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_app(port: int, sink: str) -> None:
    """One Tornado process with all handlers: ``/plain`` (RequestHandler), ``/analytics`` (the
    middleware) and ``/peer`` (the peer's client, when installed). Same process, same core, same warm-up:
    the runs differ only in the handler."""
    import asyncio

    from tornado.web import Application, RequestHandler

    from telltale_client.tornado import Analytics, Config

    config = Config(server_url=sink)

    class WithAnalytics(Analytics):
        def __init__(self, app, res):  # type: ignore[no-untyped-def]
            super().__init__(app, res, "tt_benchmark", config)

        def get(self) -> None:
            self.write({"message": "Hello World!"})

    class Plain(RequestHandler):
        def get(self) -> None:
            self.write({"message": "Hello World!"})

    routes: list[tuple[str, type]] = [(r"/plain", Plain), (r"/analytics", WithAnalytics)]
    try:
        from api_analytics.tornado import Analytics as PeerAnalytics
        from api_analytics.tornado import Config as PeerConfig
    except ImportError:
        pass
    else:
        # The peer's client as its users run it: it posts what it gathered once a minute, to the sink.
        peer_config = PeerConfig()
        peer_config.server_url = sink

        class WithPeer(PeerAnalytics):
            def __init__(self, app, res):  # type: ignore[no-untyped-def]
                super().__init__(app, res, "peer_benchmark", peer_config)

            def get(self) -> None:
                self.write({"message": "Hello World!"})

        routes.append((r"/peer", WithPeer))

    async def main() -> None:
        Application(routes).listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())


def serve_sink(port: int) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(201)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()


def python_load(url: str, seconds: float, procs: int = 2) -> float:
    """Requests/s from ``procs`` processes each looping on a keep-alive connection."""
    code = (
        "import http.client,sys,time\n"
        "h,p,d,u=sys.argv[1],int(sys.argv[2]),float(sys.argv[3]),sys.argv[4]\n"
        "c=http.client.HTTPConnection(h,p);n=0;end=time.perf_counter()+d\n"
        "while time.perf_counter()<end:\n"
        " c.request('GET',u);r=c.getresponse();r.read();n+=1\n"
        "print(n)\n"
    )
    from urllib.parse import urlsplit

    u = urlsplit(url)
    ps = [subprocess.Popen([*PIN_LOAD, sys.executable, "-c", code, str(u.hostname), str(u.port), str(seconds), u.path],
                           stdout=subprocess.PIPE, text=True)
          for _ in range(procs)]
    return sum(int(p.communicate()[0]) for p in ps) / seconds


def wrk_load(url: str, seconds: float) -> float:
    out = subprocess.run([*PIN_LOAD, "wrk", "-t1", "-c16", f"-d{seconds:g}s", url], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert m, out
    return float(m.group(1))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


LABEL = {"plain": "plain", "analytics": "with middleware", "peer": "with peer client"}
PIN_APP: list[str] = []
PIN_LOAD: list[str] = []
if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
    PIN_APP, PIN_LOAD = ["taskset", "-c", "1"], ["taskset", "-c", "0"]


def _fake_request() -> tuple[Any, Any]:
    """A Tornado application and a GET request to it, without a server: what a handler is built from when
    the middleware's per-request cost is timed in-process."""
    import warnings

    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
    from tornado.web import Application

    class Conn:
        def set_close_callback(self, cb: object) -> None:
            pass

    app = Application([])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        req = HTTPServerRequest(start_line=RequestStartLine("GET", "/", "HTTP/1.1"), connection=Conn(),  # type: ignore[arg-type]
                                headers=HTTPHeaders({"Host": "127.0.0.1", "User-Agent": "wrk/4.1"}))
    req.remote_ip = "127.0.0.1"
    return app, req


def cost_breakdown(sink: str, n: int = 20_000) -> tuple[float, float]:
    """(request-path us, sender us) per request, timed in this process with the real code: building the
    handler and recording on finish (against the plain handler's construction), and turning records into
    a JSON batch posted to the sink. Immune to other load on the machine, unlike throughput."""

    from tornado.web import RequestHandler

    from telltale_client import core
    from telltale_client.tornado import Analytics, Config

    config = Config(server_url=sink, batch_size=10**9, flush_interval=3600, max_buffer=10**9)

    class WithAnalytics(Analytics):
        def __init__(self, app, res):  # type: ignore[no-untyped-def]
            super().__init__(app, res, "tt_breakdown", config)

    app, req = _fake_request()

    def per_call(fn: object) -> float:
        # CPU time of this thread, so other processes on the machine do not count.
        t = time.thread_time()
        for _ in range(n):
            fn()  # type: ignore[operator]
        return (time.thread_time() - t) / n * 1e6

    plains, withs = [], []
    for _ in range(7):  # interleaved, best of 7
        plains.append(per_call(lambda: RequestHandler(app, req)))
        withs.append(per_call(lambda: WithAnalytics(app, req)._tt_record()))
    plain_us, analytics_us = min(plains), min(withs)
    client = core.get_client("tt_breakdown", config, "Tornado")
    batch = [client._buffer.popleft() for _ in range(1000)]
    client._buffer.clear()
    t = time.thread_time()  # the sender's CPU; waiting for the sink's reply costs the app nothing
    for _ in range(5):
        assert client._send(batch) == "ok"
    sender_us = (time.thread_time() - t) / 5 / 1000 * 1e6
    client.shutdown(0.1)
    return analytics_us - plain_us, sender_us


def peer_cost_breakdown(sink: str, n: int = 20_000) -> tuple[float, float] | None:
    """The same two figures for the peer's Tornado client: its handler built and finished (on_finish
    records), against the plain handler's construction; and its post of a 1,000-record batch to the sink
    (JSON with requests), per record. None when it is not installed."""
    if PEER.is_dir() and str(PEER) not in sys.path:
        sys.path.insert(0, str(PEER))
    try:
        from api_analytics import core as peer_core
        from api_analytics.tornado import Analytics as PeerAnalytics
        from api_analytics.tornado import Config as PeerConfig
    except ImportError:
        return None
    import logging

    from tornado.web import RequestHandler

    logging.getLogger("api_analytics").propagate = False  # it logs every request at DEBUG; no output here
    config = PeerConfig()
    config.server_url = sink

    class WithPeer(PeerAnalytics):
        def __init__(self, app, res):  # type: ignore[no-untyped-def]
            super().__init__(app, res, "peer_breakdown", config)

    app, req = _fake_request()

    def finished() -> None:
        h = WithPeer(app, req)
        h.prepare()
        h.on_finish()

    def per_call(fn: object) -> float:
        t = time.thread_time()
        for _ in range(n):
            fn()  # type: ignore[operator]
        return (time.thread_time() - t) / n * 1e6

    plains, withs = [], []
    for _ in range(7):
        plains.append(per_call(lambda: RequestHandler(app, req)))
        withs.append(per_call(finished))
    batch = list(peer_core._requests[:1000])
    peer_core._requests.clear()
    t = time.thread_time()
    for _ in range(5):
        peer_core._post_requests("peer_breakdown", batch, "Tornado", 0, sink)
    sender_us = (time.thread_time() - t) / 5 / 1000 * 1e6
    return min(withs) - min(plains), sender_us


def wait_up(port: int) -> None:
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--serve", choices=["app", "sink"])
    ap.add_argument("--port", type=int)
    ap.add_argument("--sink")
    args = ap.parse_args()
    if args.serve == "sink":
        serve_sink(args.port)
        return 0
    if args.serve:
        serve_app(args.port, args.sink)
        return 0

    ports = {"sink": free_port(), "app": free_port()}
    sink = f"http://127.0.0.1:{ports['sink']}"
    paths = [str(ROOT / "clients"), *([str(PEER)] if PEER.is_dir() else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    procs = [subprocess.Popen([*(PIN_LOAD if k == "sink" else PIN_APP), sys.executable, __file__, "--serve", k,
                               "--port", str(p), "--sink", sink], env=env)
             for k, p in ports.items()]
    pids = {k: p.pid for k, p in zip(ports, procs, strict=True)}
    try:
        for p in ports.values():
            wait_up(p)
        load = wrk_load if shutil.which("wrk") else python_load
        gen = "wrk (1 thread, 16 connections)" if load is wrk_load else "a Python keep-alive loop (2 processes)"
        print(f"load generator: {gen}; {args.runs} interleaved runs of {args.seconds:g}s each")
        app = f"http://127.0.0.1:{ports['app']}"
        kinds = ["plain", "analytics"]
        try:
            import urllib.request

            urllib.request.urlopen(f"{app}/peer", timeout=5).read()
            kinds.append("peer")
        except OSError:
            print("the peer's client (api-analytics / tornado-analytics) is not installed: no peer row")
        for kind in kinds:
            load(f"{app}/{kind}", 1.0)  # warm-up
        rps: dict[str, list[float]] = {k: [] for k in kinds}
        cpu: dict[str, list[float]] = {k: [] for k in kinds}
        for i in range(args.runs):
            for kind in kinds:
                before = cpu_seconds(pids["app"])
                r = load(f"{app}/{kind}", args.seconds)
                rps[kind].append(r)
                cpu[kind].append((cpu_seconds(pids["app"]) - before) / (r * args.seconds) * 1e6)
            print(f"  run {i + 1}: " + "   ".join(f"{LABEL[k]} {rps[k][-1]:7.0f} req/s {cpu[k][-1]:6.1f} us CPU/req"
                                                for k in kinds))
        mp, ma = statistics.median(rps["plain"]), statistics.median(rps["analytics"])
        cp, ca = statistics.median(cpu["plain"]), statistics.median(cpu["analytics"])
        # Each run's two halves ran back to back, so their ratio cancels load that drifts between runs;
        # its median is the headline, and the spread says how far one run can be trusted.
        paired = sorted(1 - a / p for p, a in zip(rps["plain"], rps["analytics"], strict=True))
        loss = statistics.median(paired)
        print(f"median requests/s: plain {mp:.0f}, with middleware {ma:.0f}; ratio of medians {ma / mp:.3f}")
        print(f"fewer requests/s, paired per run: median {loss * 100:+.1f}%, range {paired[0] * 100:+.1f}% to "
              f"{paired[-1] * 100:+.1f}% (target <= 5%)")
        print(f"median CPU per request: plain {cp:.1f} us, with middleware {ca:.1f} us; "
              f"{(ca / cp - 1) * 100:+.1f}% (equivalent throughput ratio {cp / ca:.3f})")
        if "peer" in kinds:
            mq, cq = statistics.median(rps["peer"]), statistics.median(cpu["peer"])
            peer_paired = sorted(1 - q / p for p, q in zip(rps["plain"], rps["peer"], strict=True))
            ahead = sorted(a / q for a, q in zip(rps["analytics"], rps["peer"], strict=True))
            print(f"the peer's Tornado client: median {mq:.0f} req/s, fewer than plain, paired per run: median "
                  f"{statistics.median(peer_paired) * 100:+.1f}% (range {peer_paired[0] * 100:+.1f}% to "
                  f"{peer_paired[-1] * 100:+.1f}%); CPU per request {cq:.1f} us ({(cq / cp - 1) * 100:+.1f}%)")
            print(f"telltale middleware / peer client, req/s paired per run: median {statistics.median(ahead):.3f} "
                  f"(range {ahead[0]:.3f} to {ahead[-1]:.3f}); CPU per request {ca / cq:.3f} of the peer's")
        path_us, sender_us = cost_breakdown(sink)
        added = path_us + sender_us
        print(f"middleware cost timed in-process: {path_us:.1f} us on the request path + {sender_us:.1f} us in the "
              f"sender = {added:.1f} us per request, {added / cp * 100:.1f}% of the plain request's {cp:.0f} us CPU")
        peer = peer_cost_breakdown(sink)
        if peer is not None:
            p_path, p_sender = peer
            print(f"the peer's client timed in-process: {p_path:.1f} us on the request path + {p_sender:.1f} us "
                  f"posting = {p_path + p_sender:.1f} us per request; telltale's is {added / (p_path + p_sender):.2f}"
                  " of it")
        print("PASS" if loss <= 0.05 else "OVER TARGET (on a busy shared machine, check the CPU figures and rerun)")
        return 0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(5)


if __name__ == "__main__":
    raise SystemExit(main())
