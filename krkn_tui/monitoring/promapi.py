"""A small client of Prometheus's HTTP API (instant and range queries), as krkn-lib's
KrknPrometheus calls it: times rounded to whole seconds, a bearer token when given, TLS not
verified (krkn's `disable_ssl=True`). Every answer is read as hostile: a result of the wrong
shape is a query error, never a crash."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request

MAX_BYTES = 32 * 1024 * 1024
RANGE_STEP = 10  # krkn-lib's default granularity (seconds) for alert profiles and SLOs


class QueryError(Exception):
    """Prometheus refused the query, answered something else than a result, or was unreachable."""


class Prometheus:
    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._tls = ssl.create_default_context()
        self._tls.check_hostname = False
        self._tls.verify_mode = ssl.CERT_NONE

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr}
        if at is not None:
            params["time"] = str(round(at))
        return self._get("/api/v1/query", params)

    def query_range(self, expr: str, start: float, end: float, step: int = RANGE_STEP) -> list[dict]:
        return self._get("/api/v1/query_range", {"query": expr, "start": str(round(start)),
                                                  "end": str(round(end)), "step": f"{step}s"})

    def _get(self, path: str, params: dict[str, str]) -> list[dict]:
        request = urllib.request.Request(f"{self.url}{path}?{urllib.parse.urlencode(params)}")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._tls) as response:
                body = response.read(MAX_BYTES + 1)
        except urllib.error.HTTPError as e:
            raise QueryError(f"HTTP {e.code}: {_error_text(e.read(4096))}") from None
        except (OSError, ValueError) as e:
            raise QueryError(f"{self.url} unreachable: {e}") from None
        if len(body) > MAX_BYTES:
            raise QueryError(f"answer larger than {MAX_BYTES} bytes")
        return parse_result(body)


def parse_result(body: bytes) -> list[dict]:
    """The `data.result` list of a success answer; series only (vector or matrix): a scalar or
    string result becomes one series without labels, as a list of records is what krkn reads."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise QueryError("answer is not JSON") from None
    if not isinstance(doc, dict) or doc.get("status") != "success" or not isinstance(doc.get("data"), dict):
        raise QueryError(_error_text(body))
    data = doc["data"]
    result = data.get("result")
    if data.get("resultType") in ("scalar", "string"):
        return [{"metric": {}, "value": result}] if _sample(result) else []
    if not isinstance(result, list):
        raise QueryError("answer has no result list")
    series = []
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("metric", {}), dict):
            raise QueryError("a series of the answer is not a mapping")
        values = item.get("values")
        if values is not None and not (isinstance(values, list) and all(map(_sample, values))):
            raise QueryError("a series' values are not [time, value] pairs")
        if "value" in item and not _sample(item["value"]):
            raise QueryError("a series' value is not a [time, value] pair")
        series.append(item)
    return series


def _sample(x) -> bool:
    return isinstance(x, list) and len(x) == 2 and isinstance(x[0], (int, float)) and isinstance(x[1], str)


def _error_text(body: bytes) -> str:
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("error"), str):
            return " ".join(doc["error"].split())[:300]
    except ValueError:
        pass
    return " ".join(body[:300].decode("utf-8", "replace").split()) or "empty answer"


def sample_value(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
