"""The baseline folder watcher: a bare `watchfiles.watch` loop, in its own process.

`python -m bench.bare_watch ROOT DEBOUNCE_MS STEP_MS` prints `ready`, then one line per change:
`<time.time()> <added|modified|deleted> <path>`. Its own process, so its timing does not wait
on the console's GIL. Runs until stdin closes.
"""

import sys
import threading
import time

import watchfiles


def main() -> None:
    root, debounce, step = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    out = sys.stdout
    first = True
    for changes in watchfiles.watch(root, watch_filter=None, debounce=debounce, step=step, stop_event=stop,
                                    rust_timeout=200, yield_on_timeout=True, recursive=True):
        now = time.time()
        if first:
            out.write("ready\n")
            first = False
        for change, path in changes:
            out.write(f"{now:.6f} {change.name} {path}\n")
        out.flush()


if __name__ == "__main__":
    main()
