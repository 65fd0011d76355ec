"""Module-level rollback callables for tests (version files embed their source)."""


def noop_rollback(content, api_client):
    return None
