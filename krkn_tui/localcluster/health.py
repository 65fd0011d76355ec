"""The demo service's health endpoint: a small HTTP server on loopback that config.yaml's health
check watches.

With the real node (``--url``), ``GET /health`` is an HTTP GET of the demo application itself,
made when asked: the frontend Service's NodePort on the node's address, whose pods ask the backend
through its Service. 200 when the application answered 200; 503 with what went wrong otherwise
(refused, timed out, the frontend's 502 when the backend is unreachable). Nothing reads the API:
an application outage turns it red because the traffic is really dropped.

Without the real node (``--server``), the demo's pods are kwok's and serve nothing, so the
endpoint says so (``"source": "api-objects"``) and answers from the API instead: 200 while at
least N (``?min=N``, default 1) replicas of the Deployment are Ready and no NetworkPolicy denies
all ingress to its pods, 503 otherwise, polled every half second.

Run as ``python -m krkn_tui.localcluster.health --port N (--url URL | --state-dir DIR --server URL)``;
`cluster up --demo` starts it and `cluster down` stops it."""

from __future__ import annotations

import argparse
import http.client
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
# Below a check's default timeout (3 s), above the frontend's own wait for the backend (2 s).
APP_TIMEOUT = 2.5
KWOK_NOTE = "no real node: the demo's pods are kwok's and serve nothing; health read from the API"


class AppProbe:
    """One GET of the application per question."""

    source = "http"

    def __init__(self, url: str, timeout: float = APP_TIMEOUT):
        self.url, self.timeout = url, timeout

    def answer(self, query: dict) -> tuple[int, dict]:
        u = urlparse(self.url)
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=self.timeout)
        try:
            conn.request("GET", u.path or "/", headers={"Connection": "close"})
            resp = conn.getresponse()
            body = resp.read(512).decode(errors="replace").strip()
        except OSError as e:
            return 503, {"status": "unreachable", "source": self.source, "url": self.url,
                         "reason": f"{type(e).__name__}: {e}" if str(e) else type(e).__name__}
        finally:
            conn.close()
        seen = {"source": self.source, "url": self.url, "code": resp.status, "answer": body}
        if resp.status != 200:
            return 503, {"status": "down", "reason": f"the application answered {resp.status}", **seen}
        return 200, {"status": "ok", **seen}


class DemoState:
    """Kwok form: what the endpoint last saw of the Deployment; refreshed by one poller thread."""

    source = "api-objects"

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

    def answer(self, query: dict) -> tuple[int, dict]:
        try:
            minimum = int(query.get("min", ["1"])[0])
        except ValueError:
            return 400, {"error": "min must be an integer"}
        with self.lock:
            seen = {"source": self.source, "note": KWOK_NOTE, **self.seen}
        if "error" in seen:
            return 503, {"status": "unknown", **seen}
        if seen["blocked_by"]:
            return 503, {"status": "unreachable", "reason": f"NetworkPolicy {seen['blocked_by']} denies ingress", **seen}
        if seen["ready"] < minimum:
            return 503, {"status": "down", "reason": f"{seen['ready']} ready replica(s), need {minimum}", **seen}
        return 200, {"status": "ok", **seen}


def make_server(probe, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            url = urlparse(self.path)
            if url.path != "/health":
                self._send(404, {"error": "not found: try /health"})
                return
            self._send(*probe.answer(parse_qs(url.query)))

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
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--url", help="the demo application's URL (the frontend's NodePort on the real node)")
    p.add_argument("--state-dir", type=Path, help="kwok form: the cluster's folder (its admin certificate)")
    p.add_argument("--server", help="kwok form: the API server's URL")
    p.add_argument("--namespace", default=DEMO_NAMESPACE)
    p.add_argument("--deployment", default="frontend")
    args = p.parse_args(argv)
    if args.url:
        probe = AppProbe(args.url)
        what = f"GET {args.url}"
    elif args.state_dir and args.server:
        probe = DemoState(Rest(args.server, ensure_pki(args.state_dir / "pki"), timeout=2.0),
                          args.namespace, args.deployment)
        probe.poll_once()

        def poll() -> None:
            while True:
                time.sleep(POLL_SECONDS)
                probe.poll_once()

        threading.Thread(target=poll, daemon=True).start()
        what = f"Deployment {args.namespace}/{args.deployment} ({KWOK_NOTE})"
    else:
        p.error("give --url, or --state-dir and --server")
    server = make_server(probe, args.port)
    print(f"demo health endpoint on http://127.0.0.1:{args.port}/health: {what}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
