"""Cluster identity: read from the local cluster, compared by kube-system UID, checked when read back."""

from __future__ import annotations

import json
import subprocess

import pytest

from krkn_tui.kube.identity import ClusterIdentity, read_identity, same_cluster

A = ClusterIdentity("https://127.0.0.1:6443", "staging", "0f1e2d3c-0000-4000-8000-000000000001")


def test_uid_decides_when_both_known():
    other_url_same_cluster = ClusterIdentity("https://lb.example:443/", "admin@staging", A.kube_system_uid.upper())
    recreated_same_url = ClusterIdentity(A.server, A.context, "0f1e2d3c-0000-4000-8000-000000000002")
    assert same_cluster(A, other_url_same_cluster)
    assert not same_cluster(A, recreated_same_url)


def test_server_stands_in_when_a_uid_is_unknown():
    no_uid = ClusterIdentity("https://127.0.0.1:6443/", "x", "")
    assert same_cluster(A, no_uid)
    assert same_cluster(no_uid, A)
    assert not same_cluster(no_uid, ClusterIdentity("https://127.0.0.1:7443", "x", ""))
    # A record with neither cannot match anything.
    assert not same_cluster(ClusterIdentity("", "c", ""), ClusterIdentity("", "c", ""))


def test_round_trip_and_hostile_records():
    assert ClusterIdentity.from_dict(json.loads(json.dumps(A.to_dict()))) == A
    bad = [
        None,
        [],
        {"server": 1, "context": "", "kube_system_uid": ""},
        {"server": "https://x\n", "context": "", "kube_system_uid": ""},
        {"server": "https://x", "context": "a\x1b[2Jb", "kube_system_uid": ""},
        {"server": "https://x", "context": "", "kube_system_uid": "not a uid!"},
        {"server": "", "context": "c", "kube_system_uid": ""},
        {"server": "h" * 5000, "context": "", "kube_system_uid": ""},
    ]
    for raw in bad:
        with pytest.raises(ValueError):
            ClusterIdentity.from_dict(raw)
    assert "uid 0f1e2d3c" in A.describe() and "staging" in A.describe() and A.server in A.describe()


@pytest.mark.cluster
def test_read_from_the_local_cluster(api_client, kubectl, kubeconfig):
    ident = read_identity(api_client, "krkn-local")
    uid = subprocess.run(
        [kubectl, "--kubeconfig", kubeconfig, "get", "namespace", "kube-system", "-o", "jsonpath={.metadata.uid}"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    assert uid and ident.kube_system_uid == uid
    assert ident.server == api_client.configuration.host and ident.server.startswith("https://127.0.0.1:")
    assert ident.context == "krkn-local"
    assert same_cluster(ident, read_identity(api_client, "another-name-for-it"))
