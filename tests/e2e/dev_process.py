"""`telltale dev` as a newcomer runs it: a process of its own, started, waited for and stopped with Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = dict(os.environ, TELLTALE_DATA_DIR=str(data_dir))
    return subprocess.Popen([sys.executable, "-m", "telltale_local.cli", "dev", "--port", str(port),
                             "--no-scheduler"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_up(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"telltale dev exited early:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            requests.get(url + "/swagger", timeout=2)
            return
        except (requests.ConnectionError, requests.Timeout):  # the port is bound before the stack is up
            time.sleep(0.3)
    raise AssertionError("telltale dev did not come up")


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out
