"""The demo service's health endpoint: a small HTTP server on loopback whose answer follows the
demo Deployment, so a health check can watch the demo like a real service.

``GET /health[?min=N]`` answers 200 while at least N (default 1) replicas of the Deployment are
Ready and no NetworkPolicy denies all ingress to its pods (what an application outage does);
503 otherwise, and while the API server cannot be read. The body is JSON saying what it saw.

Run as ``python -m krkn_tui.localcluster.health --state-dir DIR --port N``; `cluster up --demo`
starts it and `cluster down` stops it. It polls the API server every half second with the
cluster's admin certificate (stdlib only, so it starts fast)."""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .certs import ensure_pki
from .demo import DEMO_NAMESPACE
from .rest import Rest

DEFAULT_PORT = 18098
POLL_SECONDS = 0.5


class DemoState:
    """What the endpoint last saw of the Deployment; refreshed by one poller thread."""

    def __init__(self, rest: Rest, namespace: str, deployment: str):
        self.rest, self.namespace, self.deployment = rest, namespace, deployment
        self.lock = threading.Lock()
        self.seen: dict = {"error": "not read yet"}

    def poll_once(self) -> None:
        try:
            status, dep = self.rest.call("GET", f"/apis/apps/v1/namespaces/{self.namespace}/deployments/{self.deployment}")
            if status != 200:
                seen = {"error": f"deployment {self.namespace}/{self.deployment}: HTTP {status}"}
            else:
                seen = {"ready": dep.get("status", {}).get("readyReplicas", 0) or 0,
                        "desired": dep.get("spec", {}).get("replicas", 0),
                        "blocked_by": self._blocking_policy(dep)}
        except OSError as e:
            seen = {"error": f"API server unreachable: {e}"}
        with self.lock:
            self.seen = seen

    def _blocking_policy(self, dep: dict) -> str | None:
        status, body = self.rest.call("GET", f"/apis/networking.k8s.io/v1/namespaces/{self.namespace}/networkpolicies")
        if status != 200:
            return None
        labels = dep.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
        for policy in body.get("items", []):
            spec = policy.get("spec", {})
            wanted = spec.get("podSelector", {}).get("matchLabels", {}) or {}
            if spec.get("podSelector", {}).get("matchExpressions"):
                continue  # the demo's outages select by labels only
            if "Ingress" in (spec.get("policyTypes") or ["Ingress"]) and not spec.get("ingress") \
                    and all(labels.get(k) == v for k, v in wanted.items()):
                return policy["metadata"]["name"]
        return None

    def answer(self, minimum: int) -> tuple[int, dict]:
        with self.lock:
            seen = dict(self.seen)
        if "error" in seen:
            return 503, {"status": "unknown", **seen}
        if seen["blocked_by"]:
            return 503, {"status": "unreachable", "reason": f"NetworkPolicy {seen['blocked_by']} denies ingress", **seen}
        if seen["ready"] < minimum:
            return 503, {"status": "down", "reason": f"{seen['ready']} ready replica(s), need {minimum}", **seen}
        return 200, {"status": "ok", **seen}


def make_server(state: DemoState, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            url = urlparse(self.path)
            if url.path != "/health":
                self._send(404, {"error": "not found: try /health"})
                return
            try:
                minimum = int(parse_qs(url.query).get("min", ["1"])[0])
            except ValueError:
                self._send(400, {"error": "min must be an integer"})
                return
            self._send(*state.answer(minimum))

        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # polled every interval: keep the log quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--server", required=True, help="the API server's URL")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--namespace", default=DEMO_NAMESPACE)
    p.add_argument("--deployment", default="frontend")
    args = p.parse_args(argv)
    state = DemoState(Rest(args.server, ensure_pki(args.state_dir / "pki"), timeout=2.0), args.namespace, args.deployment)
    state.poll_once()
    server = make_server(state, args.port)

    def poll() -> None:
        while True:
            time.sleep(POLL_SECONDS)
            state.poll_once()

    threading.Thread(target=poll, daemon=True).start()
    print(f"demo health endpoint on http://127.0.0.1:{args.port}/health", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
