"""`krkn-tui serve` loaded in headless Chromium (Debian's `chromium`): the page runs textual-serve's
script, which opens the websocket and receives the console's screen; the test reads what the
browser received through the DevTools protocol (xterm.js draws on a canvas, so the text is not in
the DOM) and finds the console's header. Beyond loopback, no token means 403; another site's
page cannot open the websocket."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from kubehelpers import wait_for

pytestmark = pytest.mark.cluster

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    def __init__(self, tmp_path, kubeconfig: str, *extra: str, port: int | None = None):
        (tmp_path / "config.yaml").write_text("kraken:\n  chaos_scenarios: []\n")
        self.port = port or _free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "krkn_tui", "serve", "-c", str(tmp_path / "config.yaml"),
                                      "-d", str(tmp_path / "versions"), "--port", str(self.port), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "KUBECONFIG": kubeconfig}, stdin=subprocess.DEVNULL)
        first = self.proc.stdout.readline()
        match = re.search(r"on (http://\S+)", first)
        assert match, first + self.proc.stdout.read() if self.proc.poll() is not None else first
        self.url = match.group(1)
        wait_for(self._listening, timeout=30, what="serve listening")

    def _listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _status(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def _screen_text(url: str, tmp_path, want: list[str], timeout: float = 60) -> str:
    """Load ``url`` in headless Chromium; the text of the websocket frames it received, once
    every string of ``want`` is in it."""
    import aiohttp

    proc = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", f"--user-data-dir={tmp_path / 'chromium'}", "--remote-debugging-port=0",
        "--window-size=1400,900", "about:blank", stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL)
    try:
        while True:
            line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
            assert line, "chromium ended before its DevTools endpoint was up"
            if m := re.search(r"DevTools listening on ws://([^/]+)/", line):
                break
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://{m.group(1)}/json/list") as r:
                page = next(t for t in await r.json() if t["type"] == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as cdp:
                await cdp.send_json({"id": 1, "method": "Network.enable"})
                await cdp.send_json({"id": 2, "method": "Page.navigate", "params": {"url": url}})
                received = ""
                loop = asyncio.get_running_loop()
                deadline = loop.time() + timeout
                while not all(w in received for w in want):
                    left = deadline - loop.time()
                    assert left > 0, f"Chromium never showed {want}; it received:\n{received[-3000:]}"
                    msg = await cdp.receive(timeout=left)
                    event = json.loads(msg.data)
                    if event.get("method") == "Network.webSocketFrameReceived":
                        frame = event["params"]["response"]
                        data = frame["payloadData"]
                        raw = base64.b64decode(data) if frame.get("opcode") == 2 else data.encode()
                        received += raw.decode("utf-8", "replace")
                return received
    finally:
        proc.kill()
        await proc.wait()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; `make test` "
                    "installs it as root)")
async def test_serve_answers_in_chromium_with_the_console_read_only(tmp_path, kubeconfig):
    serve = Serve(tmp_path, kubeconfig)
    try:
        assert serve.url == f"http://127.0.0.1:{serve.port}/"
        text = await _screen_text(serve.url, tmp_path, ["krkn-tui", "context krkn-local", "READ-ONLY"])
        assert "Scenarios" in text
        # Another site's page may not open a console behind the viewer's back.
        assert _status(f"http://127.0.0.1:{serve.port}/ws", {"Origin": "http://evil.example"}) == 403
    finally:
        serve.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
async def test_beyond_loopback_the_url_carries_a_token_and_nothing_answers_without_it(tmp_path, kubeconfig):
    port = _free_port()
    serve = Serve(tmp_path, kubeconfig, "--host", "0.0.0.0", "--public-url", f"http://127.0.0.1:{port}",
                  "--allow-control", port=port)
    try:
        base = f"http://127.0.0.1:{port}/"
        assert serve.url.startswith(base + "?token=") and len(serve.url) > len(base) + 30
        assert _status(base) == 403 and _status(base + "?token=wrong") == 403 and _status(base + "ws") == 403
        assert _status(base + "static/js/textual.js") == 200  # the page's script holds no secret
        assert _status(serve.url) == 200
        text = await _screen_text(serve.url, tmp_path, ["krkn-tui", "context krkn-local"])  # the cookie lets the ws in
        assert "READ-ONLY" not in text  # --allow-control: the viewers' consoles act
    finally:
        serve.close()
