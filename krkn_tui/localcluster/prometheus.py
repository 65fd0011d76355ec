"""Prometheus on the local cluster: its configuration, rules and command line.

With the real node it runs inside the node's network namespace (as the node's components do),
where the demo's pod IPs are routed and the API server's loopback port is carried by the node's
API proxy; it listens on the node IP, which the machine reaches over the veth. Without the real
node it runs on the machine's loopback and scrapes the API server only."""

from __future__ import annotations

from pathlib import Path

import yaml

from .demo import DEMO_NAMESPACE
from .realnode import NODE_NAME

NODE_PORT = 9090  # inside the node's namespace nothing else listens on them
KSM_NODE_PORT = 8080
KSM_TELEMETRY_PORT = 8081
# kube-state-metrics watches these only: a fake cluster of 30,000 pods would cost it memory for
# objects no verdict reads (pods are read: their phase and readiness are the demo's SLOs).
KSM_RESOURCES = "deployments,statefulsets,daemonsets,replicasets,pods,nodes,namespaces"
SCRAPE_SECONDS = 5
JOBS = ("apiserver", "kubelet", "cadvisor", "pods")

# Alerting rules Prometheus evaluates itself, so `ALERTS{severity="critical"}` (krkn's
# check_critical_alerts) has something real to find when the demo is down.
DEMO_RULES = {
    "groups": [{
        "name": "krkn-demo",
        "interval": f"{SCRAPE_SECONDS}s",
        "rules": [
            {"alert": "KrknDemoFrontendDown",
             "expr": f'absent(up{{job="pods",namespace="{DEMO_NAMESPACE}",app="frontend"}} == 1)',
             "labels": {"severity": "critical", "namespace": DEMO_NAMESPACE},
             "annotations": {"summary": "no instance of the demo's frontend answers its scrape"}},
            {"alert": "KrknDemoBackendDown",
             "expr": f'absent(up{{job="pods",namespace="{DEMO_NAMESPACE}",app="backend"}} == 1)',
             "labels": {"severity": "critical", "namespace": DEMO_NAMESPACE},
             "annotations": {"summary": "no instance of the demo's backend answers its scrape"}},
            {"alert": "KrknPodMetricsDown",
             "expr": 'up{job="pods",port="metrics"} == 0',
             "labels": {"severity": "critical"},
             "annotations": {"summary": "a pod's port named metrics does not answer its scrape"}},
        ],
    }],
}


def config(pki: dict[str, Path], kubeconfig: Path, api_port: int, node_ip: str | None, rules: Path,
           ksm: str | None = None) -> dict:
    """Scrape jobs: the API server always; with the real node its kubelet, cAdvisor and the
    demo's pods on it (found through the API server, since replaced pods get new addresses)."""
    client = {"cert_file": str(pki["admin.crt"]), "key_file": str(pki["admin.key"])}
    jobs = [{"job_name": "apiserver", "scheme": "https",
             "tls_config": {"ca_file": str(pki["ca.crt"]), **client},
             "static_configs": [{"targets": [f"127.0.0.1:{api_port}"]}]}]
    if ksm:
        # Its labels (namespace, pod, deployment) are the objects', not the scrape's.
        jobs.append({"job_name": "kube-state-metrics", "honor_labels": True,
                     "static_configs": [{"targets": [ksm]}]})
    if node_ip:
        # The kubelet's serving certificate is self-signed (no serving-certificate bootstrap);
        # its client-certificate authentication is real (the cluster's CA).
        kubelet_tls = {"insecure_skip_verify": True, **client}
        for job, path in (("kubelet", "/metrics"), ("cadvisor", "/metrics/cadvisor")):
            jobs.append({"job_name": job, "scheme": "https", "metrics_path": path, "tls_config": kubelet_tls,
                         "static_configs": [{"targets": [f"{node_ip}:10250"], "labels": {"node": NODE_NAME}}]})
        jobs.append({
            "job_name": "pods",
            # A plain file server (busybox httpd in the tests) sends no Content-Type.
            "fallback_scrape_protocol": "PrometheusText0.0.4",
            # Pods of the real node only (the others are kwok's, with addresses nothing answers):
            # the demo's every declared port, and any pod's port named `metrics`.
            "kubernetes_sd_configs": [{"role": "pod", "kubeconfig_file": str(kubeconfig),
                                       "selectors": [{"role": "pod", "field": f"spec.nodeName={NODE_NAME}"}]}],
            "relabel_configs": [
                {"source_labels": ["__meta_kubernetes_namespace", "__meta_kubernetes_pod_container_port_name"],
                 "regex": f"{DEMO_NAMESPACE};.*|.*;metrics", "action": "keep"},
                {"source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": ".+",
                 "action": "keep"},
                {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Running", "action": "keep"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                {"source_labels": ["__meta_kubernetes_pod_label_app"], "target_label": "app"},
                {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "target_label": "port"},
            ],
        })
    return {"global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": f"{SCRAPE_SECONDS}s",
                       "scrape_timeout": "4s"},
            "rule_files": [str(rules)],
            "scrape_configs": jobs}


def write_files(folder: Path, pki: dict[str, Path], kubeconfig: Path, api_port: int,
                node_ip: str | None, ksm: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    rules = folder / "rules.yaml"
    rules.write_text(yaml.safe_dump(DEMO_RULES, sort_keys=False))
    path = folder / "prometheus.yaml"
    path.write_text(yaml.safe_dump(config(pki, kubeconfig, api_port, node_ip, rules, ksm), sort_keys=False))
    return path


def argv(bin_dir: Path, config_file: Path, data: Path, listen: str) -> list[str]:
    return [
        str(bin_dir / "prometheus"),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.retention.time=2d",  # a test cluster: last week's runs are in the history db
        f"--web.listen-address={listen}",
        "--log.level=warn",
    ]


def ksm_argv(bin_dir: Path, kubeconfig: Path, host: str, port: int, telemetry_port: int) -> list[str]:
    return [str(bin_dir / "kube-state-metrics"), f"--kubeconfig={kubeconfig}", f"--host={host}", f"--port={port}",
            f"--telemetry-host={host}", f"--telemetry-port={telemetry_port}", f"--resources={KSM_RESOURCES}"]
