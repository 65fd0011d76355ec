"""The one rule for where a Secret's values are in an object read from the cluster (``data``,
``stringData``, and kubectl's last-applied annotation, which holds the whole object): the
version files' redaction (rollback/redact.py) and the pod view's YAML (kube/poddetail.py) both
mask by it. Below both of them: it depends on nothing of the project."""

from __future__ import annotations

REDACTED = "<redacted>"
SECRET_FIELDS = ("data", "stringData")
# kubectl apply keeps the whole object, values included, in this annotation.
SECRET_ANNOTATIONS: tuple[str, ...] = ("kubectl.kubernetes.io/last-applied-configuration",)


def secret_values(root: object, replace: bool) -> tuple[int, int]:
    """``(values held, values already redacted)`` of every Secret object found; with
    ``replace``, the held values are replaced in place. Walked with a list, not recursion: a
    file's data may nest deeper than Python's stack."""
    held = redacted = 0
    todo = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if node.get("kind") == "Secret":
                places: list[tuple[object, tuple[str, ...] | None]] = [(node.get(f), None) for f in SECRET_FIELDS]
                meta = node.get("metadata")
                annotations = meta.get("annotations") if isinstance(meta, dict) else None
                places.append((annotations, SECRET_ANNOTATIONS))
                for values, only in places:
                    if not isinstance(values, dict):
                        continue
                    for key in [k for k in (only or values) if k in values]:
                        if values[key] == REDACTED:
                            redacted += 1
                        else:
                            held += 1
                            if replace:
                                values[key] = REDACTED
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return held, redacted


def mask_secret_values(obj: object) -> int:
    """Replace, in place, every Secret value found anywhere in ``obj`` (an object read from the
    cluster, a list of them): the same rule as a version file's content. Returns how many."""
    return secret_values(obj, replace=True)[0]
