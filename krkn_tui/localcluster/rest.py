"""A minimal HTTPS client for bringing the cluster up: readiness probes and a few creates.

The official client is used everywhere else; here a few stdlib calls keep `cluster up` fast to
start and let it probe an API server that is not serving yet."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path


class Rest:
    def __init__(self, server: str, pki: dict[str, Path], timeout: float = 5.0):
        self.server = server
        self.timeout = timeout
        self.ctx = ssl.create_default_context(cafile=str(pki["ca.crt"]))
        self.ctx.load_cert_chain(str(pki["admin.crt"]), str(pki["admin.key"]))

    def call(self, method: str, path: str, body: dict | None = None,
             content_type: str = "application/json") -> tuple[int, dict | str]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=self.timeout) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, _decode(e.read())

    def ok(self, path: str) -> bool:
        try:
            status, _ = self.call("GET", path)
        except (OSError, ssl.SSLError):
            return False
        return status == 200

    def ensure(self, collection: str, obj: dict) -> None:
        """Create `obj` unless it exists already (409 is fine: `up` is idempotent)."""
        status, body = self.call("POST", collection, obj)
        if status not in (200, 201, 202, 409):
            raise RuntimeError(f"creating {obj['kind']} {obj['metadata']['name']}: HTTP {status}: {body}")


def _decode(raw: bytes) -> dict | str:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
