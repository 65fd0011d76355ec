"""Timestamp a watch stream as lines arrive: `kubectl get -w -o json | python -m bench.stamp`.

A separate process, so the baseline's arrival times do not wait on the console's GIL.
Each output line: `<time.time()> <type> <name> <resourceVersion>`.
"""

import json
import sys
import time


def main() -> None:
    out = sys.stdout
    for line in sys.stdin.buffer:
        now = time.time()
        try:
            event = json.loads(line)
            meta = (event.get("object") or {}).get("metadata") or {}
            out.write(f"{now:.6f} {event.get('type')} {meta.get('name')} {meta.get('resourceVersion')}\n")
        except ValueError:
            continue
        out.flush()


if __name__ == "__main__":
    main()
