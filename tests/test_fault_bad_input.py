"""Bad input across the command line: every case of tests/data/faults/cases.yaml, and a sample of
the config/scenario corpus in tests/data/bad/ driven through `krkn-tui run`.

Each must end in one clear line (on stderr, or execute-rollback's refusal line for the step on
stdout), a non-zero exit and no traceback, with the cluster untouched (no step ran, the target
namespace and krkn-demo as they were) and no file lost or changed (the case folder's listing and
digests before == after; only the audit log may grow, by refusals)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from krkn_tui.rollback import RollbackContent, RunRollback
from krkn_tui.rollback import signing
from krkn_tui.rollback.naming import MANIFEST_NAME
from runhelpers import (
    app_outage,
    create_namespace,
    delete_namespace,
    fill_namespace,
    namespace_snapshot,
    tree_digest,
    wait_equal,
    write_config,
)

pytestmark = pytest.mark.cluster

HERE = Path(__file__).parent
CASES = yaml.safe_load((HERE / "data" / "faults" / "cases.yaml").read_text())
CORPUS_DIR = HERE / "data" / "bad"
CORPUS = yaml.safe_load((CORPUS_DIR / "cases.yaml").read_text())
CORPUS_SAMPLE = sorted(random.Random(20240601).sample(CORPUS, 30), key=lambda r: r["file"])
BIG = 17 * 1024 * 1024  # above the version-file (16 MiB) and config (1 MiB) limits


def create_marker(content, api_client):
    from kubernetes import client

    client.CoreV1Api(api_client).create_namespaced_config_map(
        content.namespace, {"metadata": {"name": content.resource_identifier}})


KRKN_FORMAT_FILE = '''\
from dataclasses import dataclass

from kubernetes import client, config


@dataclass
class RollbackContent:
    resource_identifier: str
    namespace: str | None = None


def create_marker(rollback_content, lib_telemetry):
    config.load_kube_config()
    client.CoreV1Api().create_namespaced_config_map(
        rollback_content.namespace, {{"metadata": {{"name": rollback_content.resource_identifier}}}})


rollback_content = RollbackContent(namespace="{namespace}", resource_identifier="marker-foreign")

if __name__ == "__main__":
    create_marker(rollback_content, None)
'''


# ---- the cluster side ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def target(api_client):
    """The namespace every case's scenario or rollback step would change, were it run."""
    ns = create_namespace(api_client, "f-bad")
    fill_namespace(api_client, ns, {"web": 1})
    yield ns
    delete_namespace(api_client, ns)


def spec_snapshot(api_client, namespace: str) -> dict:
    """What a scenario would change, without what other tests' pod kills move (pods, readiness)."""
    snap = namespace_snapshot(api_client, namespace)
    for d in snap.get("Deployment", {}).values():
        d.pop("ready")
    return snap


def markers(api_client, namespace: str) -> list[str]:
    return sorted(c.metadata.name for c in client.CoreV1Api(api_client).list_namespaced_config_map(namespace).items
                  if c.metadata.name.startswith("marker-"))


# ---- setups -------------------------------------------------------------------------------------


class Case:
    def __init__(self, tmp: Path, namespace: str, kubeconfig: str):
        self.tmp = tmp
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.values: dict[str, str] = {"tmp": str(tmp), "tmp_name": tmp.name, "kubeconfig": kubeconfig,
                                       "versions": str(tmp / "versions")}

    def register(self, versions: Path, run_uuid: str | None = None) -> RunRollback:
        reg = RunRollback(versions, run_uuid=run_uuid)
        reg.set_rollback_callable(create_marker, RollbackContent(f"marker-{uuid.uuid4().hex[:8]}", self.namespace),
                                  scenario_type="fault_markers", verb="create", kind="ConfigMap")
        return reg

    def versions(self) -> None:
        reg = self.register(self.tmp / "versions")
        self.values.update(run=reg.run_id, file=str(reg.registered[0]), run_dir=str(reg.run_dir))

    def config(self) -> None:
        cfg = write_config(self.tmp, [("application_outages_scenarios", app_outage(self.namespace, "web", 1))],
                           versions=self.tmp / "versions")
        self.values["cfg"] = str(cfg)
        body = yaml.safe_load(cfg.read_text())
        body["kraken"]["kubeconfig_path"] = str(self.tmp / "absent-kubeconfig")
        (self.tmp / "with-kubeconfig-path.yaml").write_text(yaml.safe_dump(body))

    def files(self) -> None:
        os.mkfifo(self.tmp / "fifo.yaml")
        (self.tmp / "binary.bin").write_bytes(b"\x7fELF\x00\x01" + bytes(range(256)) * 4)
        with open(self.tmp / "big.yaml", "wb") as f:
            f.truncate(BIG)  # sparse: large to stat, cheap to make
        (self.tmp / "adir").mkdir()
        self.values.update(fifo=str(self.tmp / "fifo.yaml"), binary=str(self.tmp / "binary.bin"),
                           big=str(self.tmp / "big.yaml"), dir=str(self.tmp / "adir"))

    def two_runs(self) -> None:
        for n in ("1", "2"):
            self.register(self.tmp / "versions", run_uuid=f"cafe{n}{uuid.uuid4().hex[:8]}")
        self.values["prefix"] = "cafe"

    def other(self) -> None:
        reg = self.register(self.tmp / "other")
        self.values.update(other_file=str(reg.registered[0]),
                           other_rel=str(reg.registered[0].relative_to(self.tmp / "other")))

    def tampered(self) -> None:
        with open(self.values["file"], "a") as f:
            f.write("# edited after it was written\n")

    def no_manifest(self) -> None:
        os.unlink(Path(self.values["run_dir"]) / MANIFEST_NAME)

    def foreign(self) -> None:
        run_dir = self.tmp / "versions" / f"1700000000000000000-{uuid.uuid4()}"
        run_dir.mkdir(parents=True, mode=0o700)
        os.chmod(self.tmp / "versions", 0o700)
        file = run_dir / "pod_disruption_scenarios_1700000000000000001_krknkrkn.py"
        file.write_text(KRKN_FORMAT_FILE.format(namespace=self.namespace))
        self.values.update(run=run_dir.name, file=str(file), run_dir=str(run_dir))

    def loose_versions(self) -> None:
        os.chmod(self.tmp / "versions", 0o777)

    def loose_run(self) -> None:
        os.chmod(self.values["run_dir"], 0o777)

    def loose_file(self) -> None:
        os.chmod(self.values["file"], 0o666)

    def symlinked_file(self) -> None:
        file = Path(self.values["file"])
        file.rename(self.tmp / "moved.py")
        file.symlink_to(self.tmp / "moved.py")

    def symlinked_run(self) -> None:
        run_dir = Path(self.values["run_dir"])
        run_dir.rename(self.tmp / "moved-run")
        run_dir.symlink_to(self.tmp / "moved-run")

    def symlinked_versions(self) -> None:
        versions = self.tmp / "versions"
        versions.rename(self.tmp / "moved-versions")
        versions.symlink_to(self.tmp / "moved-versions")

    def other_owner(self) -> None:
        os.chown(self.values["file"], 4242, 4242)

    def fifo_version(self) -> None:
        os.mkfifo(Path(self.values["run_dir"]) / "fault_markers_1_fifofifo.py", 0o600)

    def huge_version(self) -> None:
        path = Path(self.values["run_dir"]) / "fault_markers_2_hugehuge.py"
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.truncate(BIG)

    def kubeconfigs(self) -> None:
        real = yaml.safe_load(Path(self.kubeconfig).read_text())

        def variant(name: str, body) -> None:
            path = self.tmp / f"kubeconfig-{name}"
            path.write_bytes(body if isinstance(body, bytes) else yaml.safe_dump(body).encode())
            self.values[f"kc_{name}"] = str(path)

        def edited(change) -> dict:
            copy = json.loads(json.dumps(real))
            change(copy)
            return copy

        variant("garbage", b"\xff\xfe\x00garbage\x00" * 20)
        variant("list", b"- apiVersion: v1\n- kind: Config\n")
        variant("empty", b"")
        variant("no_current", edited(lambda c: c.pop("current-context")))
        variant("no_server", edited(lambda c: c["clusters"][0]["cluster"].pop("server")))
        variant("missing_cert", edited(lambda c: c["users"][0]["user"].update(
            {"client-certificate": str(self.tmp / "absent.crt")})))
        variant("no_ca", edited(lambda c: c["clusters"][0]["cluster"].pop("certificate-authority")))
        variant("unreachable", edited(lambda c: c["clusters"][0]["cluster"].update(server="https://127.0.0.1:1")))


def prepare(case: dict, tmp: Path, namespace: str, kubeconfig: str) -> tuple[list[str], dict]:
    made = Case(tmp, namespace, kubeconfig)
    for step in case.get("setup") or []:
        getattr(made, step.replace("-", "_"))()
    argv = [part.format(**made.values) for part in case["argv"]]
    # the key that signed the case's steps (this process's): what this test wrote is ours
    env = {"KUBECONFIG": kubeconfig, "HOME": str(tmp / "home"), "KRKN_TUI_CONFIG_DIR": str(signing.config_dir())}
    for key, value in (case.get("env") or {}).items():
        env[key] = None if value is None else value.format(**made.values)
    return argv, env


def run_cli(argv: list[str], env: dict):
    full = {**os.environ, **{k: v for k, v in env.items() if v is not None}}
    for key in (k for k, v in env.items() if v is None):
        full.pop(key, None)
    return subprocess.run([sys.executable, "-m", "krkn_tui", *argv], capture_output=True, text=True, env=full,
                          timeout=120, stdin=subprocess.DEVNULL)


def files_of(tmp: Path) -> dict[str, str]:
    """The case folder's files and digests, but the audit log (refusals are recorded there)."""
    return {k: v for k, v in tree_digest(tmp).items() if not k.endswith("-audit.jsonl")}


def assert_nothing_ran(tmp: Path) -> None:
    for audit in tmp.rglob("*-audit.jsonl"):
        for line in audit.read_text().splitlines():
            assert json.loads(line)["event"] not in ("rollback_executed", "rollback_failed", "cluster_change"), line


def assert_one_clear_line(out, case: dict) -> None:
    text = out.stdout + out.stderr
    assert "Traceback" not in text, text
    assert out.returncode == case["exit"] != 0, f"exit {out.returncode}: {text}"
    if case.get("stream", "stderr") == "stderr":
        lines, other = out.stderr.strip().splitlines(), out.stdout
    else:
        lines, other = out.stdout.strip().splitlines(), out.stderr
        assert lines and lines[0].startswith("refused "), out.stdout
    assert len(lines) == 1, text
    assert case["expect"] in lines[0], lines[0]
    assert other == "", other


def _cleanup(tmp: Path) -> None:
    """Undo what would stop pytest from removing the folder (modes, foreign owners)."""
    for path in [tmp, *tmp.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            os.chmod(path, 0o700)
        if path.stat().st_uid != os.geteuid():
            os.chown(path, os.geteuid(), os.getegid())


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_is_one_clear_line_and_changes_nothing(case, tmp_path, api_client, kubeconfig, target):
    argv, env = prepare(case, tmp_path, target, kubeconfig)
    files_before = files_of(tmp_path)
    demo_before, target_before = spec_snapshot(api_client, "krkn-demo"), spec_snapshot(api_client, target)
    try:
        out = run_cli(argv, env)
        assert_one_clear_line(out, case)
        assert files_of(tmp_path) == files_before  # no version file lost, moved or changed; nothing added
        assert_nothing_ran(tmp_path)
        assert markers(api_client, target) == []
        assert spec_snapshot(api_client, target) == target_before
        wait_equal(lambda: spec_snapshot(api_client, "krkn-demo"), demo_before, timeout=30, what="krkn-demo")
    finally:
        _cleanup(tmp_path)


@pytest.mark.parametrize("row", CORPUS_SAMPLE, ids=[r["file"] for r in CORPUS_SAMPLE])
def test_corpus_of_bad_files_through_run(row, tmp_path, api_client, kubeconfig):
    corpus = tmp_path / "bad"
    shutil.copytree(CORPUS_DIR, corpus, symlinks=True)
    if row["kind"] == "config":
        cfg = corpus / row["file"]
    else:
        cfg = corpus / "run-it.yaml"
        cfg.write_text(yaml.safe_dump({"kraken": {"rollback_versions_directory": str(tmp_path / "versions"),
                                                  "chaos_scenarios": [{row["kind"]: [row["file"]]}]}}))
    files_before = files_of(tmp_path)
    demo_before = spec_snapshot(api_client, "krkn-demo")
    out = run_cli(["run", "-c", str(cfg)], {"KUBECONFIG": kubeconfig, "HOME": str(tmp_path / "home")})
    assert_one_clear_line(out, {"exit": 2, "expect": row["message"]})
    assert row["file"] in out.stderr or row["kind"] == "config", out.stderr
    if row["field"]:
        assert row["field"] in out.stderr, out.stderr
    assert files_of(tmp_path) == files_before  # no report, audit line or version file: nothing started
    wait_equal(lambda: spec_snapshot(api_client, "krkn-demo"), demo_before, timeout=30, what="krkn-demo")


def test_the_table_is_large_and_every_setup_exists():
    assert len(CASES) >= 60
    assert len({c["id"] for c in CASES}) == len(CASES)
    for c in CASES:
        for step in c.get("setup") or []:
            assert hasattr(Case, step.replace("-", "_")), step


def test_property_based_tests_of_the_config_loader_and_version_reader_exist():
    for name, marker in (("test_config.py", "load_config"), ("test_rollback_store.py", "read_version")):
        text = (HERE / name).read_text()
        assert "@given(" in text and marker in text, name
