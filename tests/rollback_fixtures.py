"""Shared test data for rollback tests: module-level callables (version files embed their
source) and a kubeconfig that loads but reaches nothing."""

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: nobody
  user: {token: not-a-token}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: nobody}
current-context: nowhere
"""


def noop_rollback(content, api_client):
    return None
