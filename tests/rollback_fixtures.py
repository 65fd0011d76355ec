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


def delete_config_map(content, api_client):
    from kubernetes import client

    try:
        client.CoreV1Api(api_client).delete_namespaced_config_map(content.resource_identifier, content.namespace)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def always_fails(content, api_client):
    raise RuntimeError(f"cannot restore {content.resource_identifier}")
