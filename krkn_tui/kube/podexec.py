"""Run a command in a pod's container through the API server's exec endpoint, with its exit code.

The kubernetes client's `stream` helper returns only the output unless the response is read as a
WebSocket; the exit code comes from the error channel's Status (Success, or NonZeroExitCode with
an ExitCode cause)."""

from __future__ import annotations

from dataclasses import dataclass

from ..sanitize import one_line


@dataclass(frozen=True)
class ExecResult:
    code: int  # the command's exit code; -1 when the API server gave none (exec refused)
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def why(self) -> str:
        """The failure in one line: the command's own message, else its exit code."""
        text = one_line(self.stderr or self.stdout)
        return text[:300] or f"exit code {self.code}"


def exec_in_pod(api_client, namespace: str, pod: str, container: str | None, argv: list[str],
                timeout: float = 60.0) -> ExecResult:
    import yaml
    from kubernetes import client
    from kubernetes.stream import stream

    core = client.CoreV1Api(api_client)
    resp = stream(core.connect_get_namespaced_pod_exec, pod, namespace, container=container, command=argv,
                  stdin=False, stdout=True, stderr=True, tty=False, _preload_content=False,
                  _request_timeout=timeout)
    try:
        resp.run_forever(timeout=timeout)
        out, err = resp.read_stdout() or "", resp.read_stderr() or ""
        status = resp.read_channel(3)  # the error channel: a Status object
    finally:
        resp.close()
    return ExecResult(_exit_code(yaml.safe_load(status) if status else None), out, err)


def _exit_code(status) -> int:
    if not isinstance(status, dict):
        return -1
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message"))
            except (TypeError, ValueError):
                return -1
    return -1
