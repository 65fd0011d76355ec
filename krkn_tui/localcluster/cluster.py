"""`krkn-tui cluster up | down | status | kubeconfig`: the local control plane's life cycle.

State lives in one folder (certs, etcd data, logs, kubeconfig, state.json with pids and ports);
binaries in a cache folder shared by every checkout and install (see localcluster/build.sh, shipped
inside the package as localcluster/go/build.sh)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from datetime import datetime
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import yaml

from . import apiendpoint, blockvol, components, health, nodesandbox, processes, prometheus, realnode, selfimage
from .certs import ensure_pki
from .demo import DEMO_NAMESPACE, FRONTEND_NODE_PORT, demo_objects, node
from .progress import Progress, stream
from .rest import Rest
from .stages import PROFILES

CONTEXT_NAME = "krkn-local"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
BINARIES = (*COMPONENTS, "kubectl")
QUIET_SECONDS = 30.0  # while one binary compiles, a reminder this often
# On the demo's Deployments and Services: a digest of the spec `up` last applied.
DEMO_SPEC_ANNOTATION = "krkn-tui.io/demo-spec"


def _say(line: str) -> None:
    print(line, flush=True)  # at once, also into a pipe: `make` and CI show it live


class ClusterError(Exception):
    """The local cluster could not be built or started; the message says what to do."""


def default_state_dir() -> Path:
    if env := os.environ.get("KRKN_TUI_CLUSTER_DIR"):
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "krkn-tui" / "cluster"


def default_cache_dir() -> Path:
    return Path(os.environ.get("KRKN_TUI_CACHE") or Path.home() / ".cache" / "krkn-tui").expanduser()


def build_script() -> Path:
    """The Go module's build.sh, shipped as package data (``go/``), so an installed krkn-tui
    (``pip install .``, pipx) builds the cluster too; in a checkout ``go`` links to the
    repository's ``localcluster/``, the one copy."""
    return Path(__file__).resolve().parent / "go" / "build.sh"


class LocalCluster:
    def __init__(self, state_dir: Path | None = None, cache_dir: Path | None = None,
                 say: Callable[[str], None] = _say, script: Path | None = None):
        self.state_dir = Path(state_dir or default_state_dir())
        self.cache_dir = Path(cache_dir or default_cache_dir())
        self.bin_dir = self.cache_dir / "bin"
        self.images_dir = self.cache_dir / "images"
        self.say = say
        self.build_script = script or build_script()
        self.kubeconfig = self.state_dir / "kubeconfig"
        self._state_file = self.state_dir / "state.json"

    # -- build -------------------------------------------------------------------------------

    def build(self, *, show_up_to_date: bool = False, quiet: float = QUIET_SECONDS,
              self_image: str = "stale", refresh_node: bool = False) -> None:
        """Build missing or stale binaries (quick when nothing changed).

        build.sh's lines (a component being built, built, or up to date) are passed on as they
        come, each with the time since the build began; while one compiles, a reminder every
        ``quiet`` seconds; at the end the total. krkn-tui's own image is assembled again when
        stale (`self_image="stale"`, `cluster build`) or only when missing ("missing", `up`: checkouts
        sharing the cache would otherwise take turns repacking it, a minute each). `refresh_node`
        (`cluster build`): a running real node then gets the images packed anew."""
        script = self.build_script
        if not script.exists():
            raise ClusterError(f"{script}: not found; this krkn-tui was installed without the local cluster's "
                               "Go module (krkn_tui/localcluster/go): reinstall it from a checkout or a wheel")
        env = {**os.environ, "KRKN_TUI_CACHE": str(self.cache_dir)}
        progress = Progress(self.say)
        building: list[str] = []  # the component being compiled now, if any

        def on_line(line: str) -> None:
            words = line.split()
            if line.startswith("localcluster: building ") and len(words) > 2:
                building[:] = [words[2]]
            elif line.startswith("localcluster: built "):
                building.clear()
            if show_up_to_date or "up to date" not in line:
                progress.line(line)

        def on_quiet() -> None:
            if building:
                progress.line(f"localcluster: still building {building[0]}")

        code = stream(["bash", str(script)], env, on_line, on_quiet, quiet)
        if code != 0:
            raise ClusterError(f"building the local cluster failed after {progress.elapsed:.0f}s (see the lines above)")
        if realnode.missing(self.bin_dir, self.images_dir) is None:
            # krkn-tui's own image (the guard's, on the real node), from this Python and krkn-tui.
            try:
                selfimage.build(script, self.cache_dir, on_line, only_if_missing=self_image == "missing")
            except (RuntimeError, OSError) as e:
                progress.line(f"localcluster: krkn-tui's image not built: {e}")
        if refresh_node:
            self.refresh_images(progress.line)
        progress.done("localcluster: build finished")

    def binaries_present(self) -> bool:
        return all((self.bin_dir / b).exists() for b in BINARIES) and (self.bin_dir / "kwok-stages.yaml").exists()

    # -- state -------------------------------------------------------------------------------

    def _load(self) -> dict:
        try:
            return json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, state: dict) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self._state_file)

    @contextmanager
    def _lock(self):
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.state_dir / "lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # one `up`/`down` at a time, across processes
            yield

    def server(self, state: dict | None = None) -> str | None:
        state = state if state is not None else self._load()
        port = state.get("ports", {}).get("kube-apiserver")
        return f"https://127.0.0.1:{port}" if port else None

    def _rest(self, state: dict) -> Rest:
        return Rest(self.server(state), ensure_pki(self.state_dir / "pki"))

    def api_ready(self) -> bool:
        """Whether the API server answers /readyz now (whatever the other processes do)."""
        return self._rest(self._load()).ok("/readyz")

    def component_argv(self, name: str) -> list[str]:
        """The command line the running component ``name`` (``kube-apiserver`` ...) was started
        with; empty when it is not recorded."""
        return next((list(p.get("argv") or []) for p in self._load().get("processes", []) if p["name"] == name), [])

    def running(self, state: dict | None = None) -> bool:
        state = state if state is not None else self._load()
        procs = state.get("processes", [])
        if len(procs) != len(COMPONENTS) or not all(processes.alive(p["pid"], p.get("start_time")) for p in procs):
            return False
        return self._rest(state).ok("/readyz")

    # -- up ----------------------------------------------------------------------------------

    def up(self, nodes: int = 3, demo: bool = False, timeout: float = 120.0, demo_profile: str = "realistic",
           real_node: bool = True, with_prometheus: bool | None = None) -> dict:
        """Bring the cluster up (reusing a running one). `demo` adds the demo workload, its pods
        served by kwok stages of `demo_profile` (see stages.py) and its health endpoint;
        `real_node` the real node (realnode.py) where this machine can run it; `with_prometheus`
        (default: with the demo) Prometheus scraping them (prometheus.py)."""
        if demo_profile not in PROFILES:
            raise ClusterError(f"unknown demo profile {demo_profile!r} (known: {', '.join(PROFILES)})")
        progress = Progress(self.say)
        with self._lock():
            state = self._load()
            if self.running(state):
                progress.line(f"local cluster already running at {self.server(state)}")
                self._refresh_kwok(state)
            else:
                if state.get("processes") or state.get("health"):
                    progress.line("local cluster found stopped or partly dead: restarting it cleanly")
                    self._stop_prometheus(state)
                    self._stop_node(state)
                    processes.stop(([state["health"]] if state.get("health") else [])
                                   + list(reversed(state.get("processes", []))))
                if not self.binaries_present():
                    progress.line("building the local cluster's binaries (the first time takes 10-25 minutes)")
                self.build(self_image="missing")
                state = self._start_retrying(timeout, progress, real_node)
            rest = self._rest(state)
            self._ensure_nodes(rest, nodes, timeout)
            progress.line(f"{nodes} fake node(s) Ready (kwok)")
            state["nodes"] = max(nodes, state.get("nodes", 0))
            self._save(state)
            if real_node:
                self._ensure_real_node(state, rest, timeout, progress)
            if demo:
                node_ip = self._node_ip(state)
                self._ensure_demo(rest, timeout, demo_profile, real=node_ip is not None)
                where = f"demo server on {realnode.NODE_NAME}" if node_ip else "kwok pods: no real node"
                progress.line(f"demo workload ready in namespace {DEMO_NAMESPACE} "
                              f"({where}, pod profile {demo_profile})")
                self._ensure_health(state, node_ip)
                if node_ip:
                    self._await_app(progress)
            if demo if with_prometheus is None else with_prometheus:
                self._ensure_prometheus(state, timeout)
            progress.done("local cluster ready", f": context {CONTEXT_NAME}, kubeconfig {self.kubeconfig}")
            return state

    def _start_retrying(self, timeout: float, progress: Progress, real_node: bool, attempts: int = 3) -> dict:
        for attempt in range(attempts):
            try:
                return self._start(timeout, progress, real_node)
            except ClusterError as e:
                # Another program can take a port between our probe and the bind: pick new ones.
                if "address already in use" not in str(e) or attempt == attempts - 1:
                    raise
                progress.line("a port was taken meanwhile: starting again on other ports")
        raise AssertionError("unreachable")

    def _start(self, timeout: float, progress: Progress, real_node: bool) -> dict:
        """Start each component in order, saying when each is started and ready.

        Where the real node will run, its addresses are planned first: the API server advertises
        the node's address (the `kubernetes` Service's endpoint, where the node's proxy listens
        too), and its certificate names the Service's address, so pods reach it; it still listens
        on the machine's loopback only."""
        service_cidr = nodesandbox.service_cidr(self.state_dir)
        node_plan = None
        if real_node and realnode.missing(self.bin_dir, self.images_dir) is None:
            node_plan = nodesandbox.plan(self.state_dir, realnode.NodeFiles(self.state_dir).ns)
        pki = ensure_pki(self.state_dir / "pki", server_ips=(nodesandbox.kubernetes_service_ip(service_cidr),))
        logs = self.state_dir / "logs"
        ports: dict[str, int] = {}
        for name in ("etcd", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            while (port := processes.free_port()) in ports.values():
                pass
            ports[name] = port
        state = {"ports": ports, "processes": [], "started_at": time.time(), "service_cidr": service_cidr}
        if node_plan:
            state["node_plan"] = node_plan.to_dict()
        self._write_kubeconfig(pki, ports["kube-apiserver"])
        started = time.monotonic()
        try:
            def launch(name: str, argv: list[str]) -> None:
                rec = processes.launch(name, argv, logs / f"{name}.log")
                state["processes"].append(rec)
                self._save(state)  # recorded at once, so `down` finds it even if `up` dies here
                progress.line(f"started {name} (pid {rec['pid']})")

            data = self.state_dir / "etcd-data"
            data.mkdir(exist_ok=True, mode=0o700)
            launch("etcd", components.etcd(self.bin_dir, data, ports["etcd"], ports["etcd-peer"]))
            self._wait("etcd is healthy", lambda: _http_ok(f"http://127.0.0.1:{ports['etcd']}/health"),
                       timeout, state, "etcd")
            progress.line("etcd healthy")
            self._drop_leases(ports["etcd"], None, progress)  # no API server runs yet: every lease is stale
            launch("kube-apiserver", components.kube_apiserver(
                self.bin_dir, pki, ports["kube-apiserver"], ports["etcd"], state["service_cidr"],
                node_plan.node_ip if node_plan else "127.0.0.1"))
            rest = self._rest(state)
            self._wait("the API server is ready", lambda: rest.ok("/readyz"), timeout, state, "kube-apiserver")
            progress.line("kube-apiserver ready")
            launch("kube-controller-manager", components.kube_controller_manager(
                self.bin_dir, pki, self.kubeconfig, ports["kube-controller-manager"], state["service_cidr"]))
            launch("kube-scheduler", components.kube_scheduler(self.bin_dir, self.kubeconfig, ports["kube-scheduler"]))
            kwok_config = components.write_kwok_config(self.bin_dir, self.state_dir / "kwok.yaml")
            _release_fake_node_leases(rest)
            launch("kwok", components.kwok(self.bin_dir, self.kubeconfig, kwok_config))
            self._wait("the default ServiceAccount exists",
                       lambda: rest.ok("/api/v1/namespaces/default/serviceaccounts/default"), timeout, state)
            progress.line("controllers working (the default ServiceAccount exists)")
        except BaseException:
            processes.stop(list(reversed(state["processes"])))
            raise
        progress.line(f"control plane up in {time.monotonic() - started:.1f}s at {self.server(state)}")
        return state

    def _wait(self, what: str, check: Callable[[], bool], timeout: float, state: dict,
              component: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            for p in state["processes"]:
                if not processes.alive(p["pid"], p.get("start_time")):
                    raise ClusterError(f"{p['name']} exited while waiting until {what}: {_tail(p['log'])}")
            time.sleep(0.1)
        log = next((p["log"] for p in state["processes"] if p["name"] == component), None)
        raise ClusterError(f"timed out after {timeout:.0f}s waiting until {what}" + (f": {_tail(log)}" if log else ""))

    def _write_kubeconfig(self, pki: dict[str, Path], port: int) -> None:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT_NAME, "cluster": {
                "server": f"https://127.0.0.1:{port}", "certificate-authority": str(pki["ca.crt"])}}],
            "users": [{"name": f"{CONTEXT_NAME}-admin", "user": {
                "client-certificate": str(pki["admin.crt"]), "client-key": str(pki["admin.key"])}}],
            "contexts": [{"name": CONTEXT_NAME, "context": {"cluster": CONTEXT_NAME, "user": f"{CONTEXT_NAME}-admin"}}],
            "current-context": CONTEXT_NAME,
        }
        tmp = self.kubeconfig.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(cfg, f)
        os.replace(tmp, self.kubeconfig)

    def _ensure_nodes(self, rest: Rest, count: int, timeout: float) -> None:
        names = [f"kwok-node-{i}" for i in range(count)]
        for name in names:
            obj = node(name)
            rest.ensure("/api/v1/nodes", obj)
            # Nodes made before a label was added get it too.
            rest.call("PATCH", f"/api/v1/nodes/{name}", {"metadata": {"labels": obj["metadata"]["labels"]}},
                      content_type="application/merge-patch+json")

        def ready() -> bool:
            status, body = rest.call("GET", "/api/v1/nodes?labelSelector=type%3Dkwok")
            if status != 200:
                return False
            ok = {n["metadata"]["name"] for n in body["items"] if _condition(n, "Ready")}
            return set(names) <= ok

        self._wait(f"{count} fake nodes are Ready", ready, timeout, self._load())

    def _ensure_demo(self, rest: Rest, timeout: float, profile: str, real: bool) -> None:
        for collection, obj in demo_objects(profile, real):
            if obj["kind"] in ("Deployment", "Service"):
                self._converge(rest, collection, obj)
            else:
                rest.ensure(collection, obj)

        def ready() -> bool:
            status, body = rest.call("GET", f"/apis/apps/v1/namespaces/{DEMO_NAMESPACE}/deployments")
            if status != 200 or not body["items"]:
                return False
            # A profile change rolls the pods: wait until the rollout is over, not only Ready.
            return all(d["status"].get("readyReplicas", 0) == d["spec"]["replicas"]
                       == d["status"].get("updatedReplicas", 0) == d["status"].get("replicas", 0)
                       and d["status"].get("observedGeneration", 0) >= d["metadata"]["generation"]
                       for d in body["items"])

        self._wait(f"the demo workload in namespace {DEMO_NAMESPACE} is Ready", ready, timeout, self._load())

    def _converge(self, rest: Rest, collection: str, obj: dict) -> None:
        """An existing Deployment or Service made for another form or profile gets the wanted spec
        (a Deployment's template: a rollout; its replica count stays), so `up` is declarative."""
        want = _digest(obj["spec"])
        obj["metadata"]["annotations"] = {DEMO_SPEC_ANNOTATION: want}
        path = f"{collection}/{obj['metadata']['name']}"
        status, current = rest.call("GET", path)
        if status == 404:  # (a POST of an existing NodePort Service is refused for its port, not 409)
            rest.ensure(collection, obj)
            return
        if status != 200 or (current["metadata"].get("annotations") or {}).get(DEMO_SPEC_ANNOTATION) == want:
            return
        current["metadata"].setdefault("annotations", {})[DEMO_SPEC_ANNOTATION] = want
        if obj["kind"] == "Deployment":
            current["spec"]["template"] = obj["spec"]["template"]
        else:  # the Service keeps its cluster IP
            current["spec"]["type"] = obj["spec"].get("type", "ClusterIP")
            current["spec"]["ports"] = obj["spec"]["ports"]
        status, body = rest.call("PUT", path, current)
        if status != 200:
            raise ClusterError(f"updating the demo's {obj['kind']} {obj['metadata']['name']}: HTTP {status}: {body}")

    def _refresh_kwok(self, state: dict) -> None:
        """A running cluster started with older kwok stages gets the current ones (kwok restarts;
        pods and nodes stay). The controller-manager and scheduler are brought to their current
        flags first: kwok's node lease must never outlast the node grace period of a
        controller-manager started before it (nodes would turn NotReady and their pods unready)."""
        pki = ensure_pki(self.state_dir / "pki")
        ports = state.get("ports", {})
        for name, argv in (
                ("kube-controller-manager", components.kube_controller_manager(
                    self.bin_dir, pki, self.kubeconfig, ports.get("kube-controller-manager"), _service_cidr(state))),
                ("kube-scheduler", components.kube_scheduler(self.bin_dir, self.kubeconfig, ports.get("kube-scheduler")))):
            self._restart_if_changed(state, name, argv)
        path = self.state_dir / "kwok.yaml"
        wanted = components.kwok_config(self.bin_dir)
        try:
            if path.read_text() == wanted:
                return
        except OSError:
            pass
        path.write_text(wanted)
        kwok = next((p for p in state["processes"] if p["name"] == "kwok"), None)
        if kwok:
            self.say("kwok stages changed: restarting kwok")
            processes.stop([kwok])
            _release_fake_node_leases(self._rest(state))
            new = processes.launch("kwok", kwok["argv"], Path(kwok["log"]))
            state["processes"] = [new if p["name"] == "kwok" else p for p in state["processes"]]
            self._save(state)

    def _restart_if_changed(self, state: dict, name: str, argv: list[str]) -> None:
        old = next((p for p in state["processes"] if p["name"] == name), None)
        if old is None or old.get("argv") == argv:
            return
        self.say(f"{name}'s flags changed: restarting it")
        processes.stop([old])
        new = processes.launch(name, argv, Path(old["log"]))
        state["processes"] = [new if p["name"] == name else p for p in state["processes"]]
        self._save(state)

    # -- the demo's health endpoint ------------------------------------------------------------

    def health_url(self, state: dict | None = None) -> str | None:
        state = state if state is not None else self._load()
        rec = state.get("health")
        return f"http://127.0.0.1:{rec['port']}/health" if rec else None

    def _ensure_health(self, state: dict, node_ip: str | None) -> None:
        """The endpoint GETs the frontend's NodePort on the real node; without one it reads the
        API (kwok form) and says so."""
        source = (["--url", f"http://{node_ip}:{FRONTEND_NODE_PORT}/"] if node_ip
                  else ["--state-dir", str(self.state_dir), "--server", self.server(state)])
        rec = state.get("health")
        if rec and processes.alive(rec["pid"], rec.get("start_time")):
            if rec["argv"][-len(source):] == source:
                return
            processes.stop([rec])  # it watches an application or API server that is gone
        preferred = int(os.environ.get("KRKN_TUI_DEMO_HEALTH_PORT") or health.DEFAULT_PORT)
        port = preferred if processes.port_free(preferred) else processes.free_port()
        argv = [sys.executable, "-m", "krkn_tui.localcluster.health", "--port", str(port), *source]
        rec = processes.launch("demo-health", argv, self.state_dir / "logs" / "demo-health.log")
        state["health"] = {**rec, "port": port}
        self._save(state)
        url = self.health_url(state)
        self._wait("the demo health endpoint answers", lambda: _http_answers(url), 30, {"processes": [rec]})
        note = "" if port == preferred else f" (port {preferred} was taken; config.yaml's check expects {preferred})"
        self.say(f"demo health endpoint {url}{note}")

    def _await_app(self, progress: Progress, timeout: float = 30.0) -> None:
        """Until the endpoint's GET of the application answers 200 (kube-proxy has the new pods'
        addresses); past `timeout` one line says what it answers and `up` goes on."""
        url, deadline = self.health_url(), time.monotonic() + timeout
        while not _http_ok(url):
            if time.monotonic() > deadline:
                progress.line(f"the demo application does not answer yet: {_http_body(url)}")
                return
            time.sleep(0.2)
        progress.line("demo application answers through its Service (health 200)")

    # -- Prometheus ------------------------------------------------------------------------------

    def prometheus_url(self, state: dict | None = None) -> str | None:
        state = state if state is not None else self._load()
        rec = state.get("prometheus")
        if not rec or not processes.alive(rec["pid"], rec.get("start_time")):
            return None
        return rec["url"]

    def _ensure_prometheus(self, state: dict, timeout: float) -> None:
        """Start kube-state-metrics and Prometheus, or restart one whose command line or
        configuration changed (a new API server port, the real node started or gone); Prometheus's
        data folder is kept across restarts. Both run inside the node's network namespace when the
        real node runs (there they reach the pods), else on loopback."""
        if not (self.bin_dir / "prometheus").exists():
            self.say("Prometheus skipped: not built (`krkn-tui cluster build`)")
            return
        node = state.get("node")
        sb = nodesandbox.Sandbox(**node["sandbox"]) if node else None
        ksm = self._ensure_ksm(state, sb, timeout) if (self.bin_dir / "kube-state-metrics").exists() else None
        conf = prometheus.write_files(self.state_dir / "prometheus", ensure_pki(self.state_dir / "pki"),
                                      self.kubeconfig, state["ports"]["kube-apiserver"],
                                      sb.node_ip if sb else None, ksm)
        old = state.get("prometheus")
        listen = f"{sb.node_ip}:{prometheus.NODE_PORT}" if sb else (
            old["listen"] if old and old.get("netns") is None else f"127.0.0.1:{processes.free_port()}")
        argv = prometheus.argv(self.bin_dir, conf, self.state_dir / "prometheus-data", listen)
        url = f"http://{listen}"
        started = self._ensure_extra(state, "prometheus", sb.enter(argv) if sb else argv, sb,
                                     hashlib.sha256(conf.read_bytes()).hexdigest(), f"{url}/-/ready", timeout,
                                     {"listen": listen, "url": url})
        if started:
            scraped = "the API server, the real node and the demo" if sb else "the API server"
            self.say(f"Prometheus {url} (scraping {scraped}{', kube-state-metrics' if ksm else ''})")

    def _ensure_ksm(self, state: dict, sb: nodesandbox.Sandbox | None, timeout: float) -> str:
        """kube-state-metrics; returns the address Prometheus scrapes it at."""
        old = state.get("kube-state-metrics")
        if sb:
            host, port, telemetry = "127.0.0.1", prometheus.KSM_NODE_PORT, prometheus.KSM_TELEMETRY_PORT
        elif old and old.get("netns") is None:
            host, port, telemetry = "127.0.0.1", old["port"], old["telemetry_port"]
        else:
            host, port, telemetry = "127.0.0.1", processes.free_port(), processes.free_port()
        argv = prometheus.ksm_argv(self.bin_dir, self.kubeconfig, host, port, telemetry)
        # Its health endpoint is on its own port, inside the node's namespace with the real node:
        # readiness is then Prometheus's to see (its target up), not this process's to probe.
        ready = None if sb else f"http://{host}:{port}/healthz"
        self._ensure_extra(state, "kube-state-metrics", sb.enter(argv) if sb else argv, sb, "", ready, timeout,
                           {"port": port, "telemetry_port": telemetry})
        return f"{host}:{port}"

    def _ensure_extra(self, state: dict, name: str, argv: list[str], sb: nodesandbox.Sandbox | None, digest: str,
                      ready_url: str | None, timeout: float, extra: dict) -> bool:
        """One process the cluster's verdicts need (Prometheus, kube-state-metrics): kept when it
        runs as wanted; True when it was (re)started."""
        old = state.get(name)
        if old and processes.alive(old["pid"], old.get("start_time")):
            if old["argv"] == argv and old.get("config_sha256") == digest:
                return False
            processes.stop([old])
        rec = processes.launch(name, argv, self.state_dir / "logs" / f"{name}.log")
        state[name] = {**rec, **extra, "netns": sb.net if sb else None, "config_sha256": digest}
        self._save(state)
        if ready_url:
            self._wait(f"{name} is ready", lambda: _http_ok(ready_url), timeout, {"processes": [rec]}, name)
        return True

    def _stop_prometheus(self, state: dict) -> list[str]:
        recs = [r for r in (state.pop("prometheus", None), state.pop("kube-state-metrics", None)) if r]
        return processes.stop(recs)

    # -- the real node ---------------------------------------------------------------------------

    def _node_ip(self, state: dict) -> str | None:
        """The real node's address while all its components run; None without one."""
        node = state.get("node") or {}
        procs = node.get("processes", [])
        if len(procs) == len(realnode.COMPONENTS) and all(processes.alive(p["pid"], p.get("start_time"))
                                                          for p in procs):
            return node["sandbox"]["node_ip"]
        return None

    def _ensure_real_node(self, state: dict, rest: Rest, timeout: float, progress: Progress) -> None:
        """Start the real node unless it runs; where it cannot run, one line says why and the
        cluster goes on with kwok nodes only (so does a node that fails to start)."""
        why = realnode.missing(self.bin_dir, self.images_dir)
        apiserver = next((p for p in state["processes"] if p["name"] == "kube-apiserver"), {})
        if why is None and not any(a.startswith("--kubelet-client-certificate") for a in apiserver.get("argv", [])):
            why = "the running control plane predates it (`krkn-tui cluster down`, then `up`, adds it)"
        if why:
            progress.line(f"real node skipped: {why}; kwok nodes only")
            return
        if self._node_ip(state) and self._node_ready(rest):
            progress.line(f"real node {realnode.NODE_NAME} already running")
            try:
                self._import_new_images(state, progress.line)
            except (RuntimeError, OSError) as e:
                progress.line(f"new images not imported into the running node: {e}")
        else:
            self._stop_node(state)  # what a crashed or half-started node left
            try:
                self._start_node(state, rest, timeout, progress)
            except (ClusterError, RuntimeError, OSError) as e:
                self._stop_node(state)
                progress.line(f"real node failed to start, kwok nodes only: {e}")
                return
        self._check_endpoint(state, self._rest(state), state["node"]["sandbox"]["node_ip"], timeout, progress)

    def _import_new_images(self, state: dict, say: Callable[[str], None]) -> list[str]:
        """Into a running node, the images packed since it started (or packed anew), served by its
        registry too."""
        sb = nodesandbox.Sandbox(**state["node"]["sandbox"])
        files = realnode.NodeFiles(self.state_dir)
        realnode.write_mirrors(files, self.images_dir)
        new = realnode.import_images(sb, files, self.images_dir, say)
        realnode.push_mirror(sb, self.bin_dir, self.images_dir, only=new)
        return new

    def refresh_images(self, say: Callable[[str], None] | None = None) -> list[str]:
        """After a build: a running node gets what it packed anew (not from inside `up`, which
        holds the lock)."""
        with self._lock():
            state = self._load()
            return self._import_new_images(state, say or self.say) if self._node_ip(state) else []

    def _start_node(self, state: dict, rest: Rest, timeout: float, progress: Progress) -> None:
        started, since = time.monotonic(), time.time()
        pki = ensure_pki(self.state_dir / "pki")
        files = realnode.NodeFiles(self.state_dir)
        files.prepare()
        # The addresses planned with the control plane (its API server advertises this node's);
        # a control plane started without the node has none, and the node plans its own.
        sb = (nodesandbox.Sandbox(**state["node_plan"]) if state.get("node_plan")
              else nodesandbox.plan(self.state_dir, files.ns))
        state["node"] = {"sandbox": sb.to_dict(), "processes": []}
        self._save(state)  # recorded before anything is made, so `down` finds it all
        self._advertise(state, sb, timeout, progress)
        node = state["node"]
        nodesandbox.create(sb)
        node["block"] = blockvol.create(sb, files.root)
        self._save(state)
        configs = realnode.write_configs(files, sb, self.kubeconfig, pki["ca.crt"], realnode.cni_dir())
        argvs = realnode.argvs(self.bin_dir, files, sb, configs, self.kubeconfig,
                               state["ports"]["kube-apiserver"], _service_cidr(state))
        logs = self.state_dir / "logs"

        def launch(name: str) -> None:
            rec = processes.launch(name, argvs[name], logs / f"node-{name}.log")
            node["processes"].append(rec)
            self._save(state)

        def runtime_up() -> bool:
            return subprocess.run(realnode.ctr(sb, files, "version"), capture_output=True).returncode == 0

        realnode.write_mirrors(files, self.images_dir)
        launch("node-api-proxy")
        launch("node-registry")
        launch("containerd")
        self._wait("the node's containerd answers", runtime_up, timeout, node, "containerd")
        realnode.import_images(sb, files, self.images_dir, progress.line)
        realnode.push_mirror(sb, self.bin_dir, self.images_dir)
        launch("kubelet")
        self._wait(f"node {realnode.NODE_NAME} registers", lambda: rest.ok(f"/api/v1/nodes/{realnode.NODE_NAME}"),
                   timeout, node, "kubelet")
        launch("kube-proxy")
        launch("kube-router")
        self._wait(f"node {realnode.NODE_NAME} is Ready", lambda: self._node_ready(rest, since), timeout, node, "kubelet")
        progress.line(f"real node {realnode.NODE_NAME} Ready in {time.monotonic() - started:.1f}s "
                      f"(node {sb.node_ip}, pods {sb.pod_cidr}, services {_service_cidr(state)})")

    def _advertise(self, state: dict, sb: nodesandbox.Sandbox, timeout: float, progress: Progress) -> None:
        """An API server started without the node (`--no-real-node`) advertises 127.0.0.1, where
        no pod reaches it: restart it with the node's address (the controllers reconnect)."""
        old = next(p for p in state["processes"] if p["name"] == "kube-apiserver")
        was = apiendpoint.advertised(old.get("argv", []))
        if was == sb.node_ip:
            return
        progress.line(f"kube-apiserver advertises {was}, where pods cannot reach it: "
                      f"restarting it with the real node's address {sb.node_ip}")
        ports = state["ports"]
        argv = components.kube_apiserver(self.bin_dir, ensure_pki(self.state_dir / "pki"), ports["kube-apiserver"],
                                         ports["etcd"], _service_cidr(state), sb.node_ip)
        processes.stop([old])
        self._drop_leases(ports["etcd"], None, progress)  # its own, if it left it behind
        new = processes.launch("kube-apiserver", argv, Path(old["log"]))
        state["processes"] = [new if p["name"] == "kube-apiserver" else p for p in state["processes"]]
        state["node_plan"] = sb.to_dict()
        self._save(state)
        rest = self._rest(state)
        self._wait("the restarted API server is ready", lambda: rest.ok("/readyz"), timeout, state, "kube-apiserver")

    def _drop_leases(self, etcd_port: int, keep: str | None, progress: Progress) -> None:
        try:
            dropped = apiendpoint.drop_leases(etcd_port, keep)
        except (OSError, ValueError) as e:
            progress.line(f"the API server leases in etcd could not be read: {e}")
            return
        if dropped:
            progress.line(f"dropped the etcd lease(s) of an earlier API server at {', '.join(dropped)}")

    def _check_endpoint(self, state: dict, rest: Rest, node_ip: str, timeout: float, progress: Progress) -> None:
        """The `kubernetes` Service leads to the node's address and the API server's port, as
        pods need; otherwise the leases of any other address are dropped and the API server
        rewrites it (its reconciler runs every 10 s), or one line says what it is."""
        want = ([node_ip], [state["ports"]["kube-apiserver"]])

        def right() -> bool:
            return apiendpoint.current(rest) == want

        if right():
            return
        self._drop_leases(state["ports"]["etcd"], node_ip, progress)
        try:
            self._wait("the kubernetes Service's endpoint is the node's address", right, min(timeout, 30.0), state)
        except ClusterError:
            addresses, ports = apiendpoint.current(rest)
            progress.line(f"the kubernetes Service leads to {addresses} port {ports}, not {node_ip} port "
                          f"{want[1][0]}: pods cannot reach the API server (`cluster down`, then `up`)")

    def _node_ready(self, rest: Rest, since: float | None = None) -> bool:
        """Ready, and (with `since`) said so by a kubelet started after `since`: a restarted node's
        object keeps the Ready its previous kubelet reported until the new one reports."""
        status, body = rest.call("GET", f"/api/v1/nodes/{realnode.NODE_NAME}")
        if status != 200 or not _condition(body, "Ready"):
            return False
        if since is None:
            return True
        ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
        beat = datetime.fromisoformat(ready.get("lastHeartbeatTime", "1970-01-01T00:00:00Z").replace("Z", "+00:00"))
        return beat.timestamp() >= int(since)

    def _stop_node(self, state: dict) -> list[str]:
        node = state.get("node")
        if not node:
            return []
        # Prometheus inside the node's namespace would keep it alive after the node is gone.
        stopped = self._stop_prometheus(state) if (state.get("prometheus") or {}).get("netns") else []
        stopped += processes.stop(list(reversed(node.get("processes", []))), timeout=5.0)
        if node.get("sandbox"):
            nodesandbox.destroy(nodesandbox.Sandbox(**node["sandbox"]))
        # After the node's processes and namespaces: nothing holds its file system any more.
        # A device still held is said, and the node stays recorded so that `down` tries again.
        try:
            blockvol.release(realnode.NodeFiles(self.state_dir).root)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            raise ClusterError(f"the real node's block device: {e}") from None
        state.pop("node", None)
        self._save(state)
        return stopped

    def _node_status(self, state: dict) -> dict | None:
        node = state.get("node")
        if not node:
            return None
        return {
            "name": realnode.NODE_NAME,
            **{k: node["sandbox"][k] for k in ("node_ip", "pod_cidr", "host_if", "bridge", "cgroup_root")},
            "block": node.get("block"),
            "service_cidr": _service_cidr(state),
            "netns": f"{node['sandbox']['folder']}/net",
            "processes": [{"name": p["name"], "pid": p["pid"], "alive": processes.alive(p["pid"], p.get("start_time")),
                           "log": p["log"]} for p in node.get("processes", [])],
        }

    # -- one component -----------------------------------------------------------------------

    def stop_component(self, name: str) -> None:
        """Stop one component (fault tests: the API server goes away mid-run)."""
        with self._lock():
            state = self._load()
            processes.stop([p for p in state.get("processes", []) if p["name"] == name])

    def start_component(self, name: str, timeout: float = 60.0) -> None:
        """Start a stopped component again with its recorded command line and port."""
        with self._lock():
            state = self._load()
            old = next(p for p in state["processes"] if p["name"] == name)
            if processes.alive(old["pid"], old.get("start_time")):
                return
            new = processes.launch(name, old["argv"], Path(old["log"]))
            state["processes"] = [new if p["name"] == name else p for p in state["processes"]]
            self._save(state)
            if name == "kube-apiserver":
                rest = self._rest(state)
                self._wait("the API server is ready", lambda: rest.ok("/readyz"), timeout, state, name)

    # -- down and status ---------------------------------------------------------------------

    def down(self) -> list[str]:
        with self._lock():
            state = self._load()
            # Newest first: the health endpoint, the real node, controllers, the API server, etcd.
            extras = [state["health"]] if state.get("health") else []
            stopped = self._stop_prometheus(state) + processes.stop(extras)
            stopped += self._stop_node(state)
            stopped += processes.stop(list(reversed(state.get("processes", []))))
            if state:
                state["processes"] = []
                state.pop("health", None)
                self._save(state)
            return stopped

    def status(self) -> dict:
        state = self._load()
        procs = []
        for p in state.get("processes", []):
            port = state.get("ports", {}).get(p["name"])
            procs.append({
                "name": p["name"], "pid": p["pid"], "alive": processes.alive(p["pid"], p.get("start_time")),
                "address": f"127.0.0.1:{port}" if port else "-", "log": p["log"],
            })
        return {
            "running": self.running(state) if procs else False,
            "server": self.server(state),
            "context": CONTEXT_NAME,
            "kubeconfig": str(self.kubeconfig),
            "nodes": state.get("nodes", 0),
            "health": self.health_url(state) if state.get("health") and processes.alive(
                state["health"]["pid"], state["health"].get("start_time")) else None,
            "prometheus": self.prometheus_url(state),
            "binaries": str(self.bin_dir),
            "processes": procs,
            "real_node": self._node_status(state),
        }


def _service_cidr(state: dict) -> str:
    return state.get("service_cidr") or components.LEGACY_SERVICE_CIDR


def _digest(obj: dict) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _release_fake_node_leases(rest: Rest) -> None:
    """Before a kwok starts: the node leases an earlier kwok held. Each kwok takes a new identity
    and will not take a node whose lease another holder renewed within nodeLeaseDurationSeconds
    (200 s), so after `down` and `up` its nodes' pods would stay Pending that long. A kubelet holds
    its node's lease under the node's own name: those stay."""
    path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    status, body = rest.call("GET", path)
    if status != 200 or not isinstance(body, dict):
        return
    for lease in body.get("items", []):
        name, holder = lease["metadata"]["name"], (lease.get("spec") or {}).get("holderIdentity")
        if holder and holder != name:
            rest.call("DELETE", f"{path}/{name}")


def _condition(obj: dict, kind: str) -> bool:
    return any(c["type"] == kind and c["status"] == "True" for c in obj.get("status", {}).get("conditions", []))


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _http_body(url: str) -> str:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return f"{r.status} {r.read(300).decode(errors='replace')}"
    except urllib.error.HTTPError as e:
        return f"{e.code} {e.read(300).decode(errors='replace')}"
    except OSError as e:
        return str(e)


def _http_answers(url: str) -> bool:
    """True once the server answers at all (a 503 is an answer)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _tail(log: str | None, lines: int = 3) -> str:
    if not log:
        return ""
    try:
        text = Path(log).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])
