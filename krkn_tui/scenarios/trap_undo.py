"""The chaos pod's dead man's switch: what a privileged pod of a network or storage scenario
changes on its node, the pod also undoes itself when it is told to stop.

Its main process is HOLD_SCRIPT: it traps TERM and INT (and the end of its sleep) and then runs
the pod's own undo list (UNDO_DIR: one shell script per change, named by a four-digit number),
newest first, and writes each one's outcome (`<id> ok`, `<id> failed: <why>`) to the container's
termination message; its exit code says whether all went well. Before each change is applied
(after its version file is written), the scenario adds the exact undo of that change to the list
(`add_argv`), built from the data the version file records (`network_script`,
`throttle_script`): the undo checks the change by its content before removing it, so one
removed already is done and another tool's rule stays. The version file's undo, once it has
run, removes its script from the list (`forget_argv`): a pod deleted after the run's own undo
finds nothing left to do.

Why: the guard is granted no pods/exec (exec into any pod is code execution anywhere), but it
may delete pods. For a step whose data names its place in the list (`hold`), it deletes the
chaos pod with a grace period and watches it go (`stop_chaos_pod`: pods delete, get, watch);
the TERM trap removes the changes, and the container's final status, read from the watch,
says what each undo did. A step recorded before the pods had the trap has no `hold` and stays
the operator's (undo_ops.guard_undo)."""

from __future__ import annotations

import re
import shlex
from typing import Any

UNDO_DIR = "/tmp/krkn-tui-undo"
HOLD_GRACE = 60  # seconds the trap gets, by the pod's spec and by the guard's delete
POD = "pod"  # the `hold` of the chaos pod's own step (its deletion)
HOLD_RE = re.compile(r"[0-9]{4}\Z")

# POSIX sh (busybox's or bash): the list newest first, each script's outcome on a line.
HOLD_SCRIPT = f"""D={UNDO_DIR}
undo() {{
  trap '' TERM INT
  kill $hold 2>/dev/null
  bad=0
  : >/tmp/krkn-tui-trap.out
  for f in $(ls -r "$D"); do
    case "$f" in *[!0-9]*) continue ;; esac
    if why=$(sh "$D/$f" 2>&1); then
      echo "$f ok" >>/tmp/krkn-tui-trap.out
      rm -f "$D/$f"
    else
      bad=1
      echo "$f failed: $(echo "$why" | tr '\\n' ' ' | cut -c1-300)" >>/tmp/krkn-tui-trap.out
    fi
  done
  cat /tmp/krkn-tui-trap.out
  cat /tmp/krkn-tui-trap.out >/dev/termination-log 2>/dev/null
  exit $bad
}}
trap undo TERM INT
mkdir -p "$D"  # after the trap: a TERM from here on is answered
sleep infinity >/dev/null 2>&1 &
hold=$!
wait
undo
"""

# ip and tc by their paths: a busybox shell may run its own applets of those names first.
_TOOLS = ('p() { for d in /usr/sbin /sbin /usr/bin /bin; do [ -x "$d/$1" ] && echo "$d/$1" && return; done; '
          'echo "$1"; }\nIP=$(p ip); TC=$(p tc)\n')


def hold_command() -> list[str]:
    """The chaos pod's container command."""
    return ["/bin/sh", "-c", HOLD_SCRIPT]


def has_trap(pod: Any) -> bool:
    """Whether a pod (the API's object) runs HOLD_SCRIPT."""
    return any(UNDO_DIR in " ".join(c.command or []) for c in pod.spec.containers or [])


def add_argv(hold: str, script: str) -> list[str]:
    """The exec adding `script` to the pod's undo list as `hold` (written aside, then renamed)."""
    return ["sh", "-c", 'mkdir -p "$1" && printf "%s\\n" "$3" >"$1/.$2" && mv "$1/.$2" "$1/$2"', "sh",
            UNDO_DIR, hold, script]


def forget_argv(hold: str) -> list[str]:
    return ["rm", "-f", f"{UNDO_DIR}/{hold}"]


def _q(argv: list[str]) -> str:
    return " ".join(shlex.quote(str(a)) for a in argv)


def _in_netns(data: dict) -> str:
    """The script's preamble: $N enters the target pod's network namespace (found again by its
    UID, as the version file's undo does); no process of that pod left: its namespace, and the
    change, are gone."""
    uid = str(data.get("pod_uid") or "")
    if not uid:
        return _TOOLS + 'N=""\n'
    if not re.fullmatch(r"[0-9a-f-]{36}", uid):
        raise ValueError(f"not a pod UID: {uid!r}")
    return (_TOOLS + f"pid=$(grep -l -e pod{uid} -e pod{uid.replace('-', '_')} /proc/[0-9]*/cgroup 2>/dev/null "
            "| head -n 1 | cut -d/ -f3)\n"
            '[ -n "$pid" ] || exit 0\nN="nsenter --target $pid --net --"\n')


def network_script(data: dict) -> str:
    """The undo of one network change (netchaos.delete_network_rule's data) as the trap runs it."""
    tool = data.get("tool")
    out = _in_netns(data)
    if tool == "tc":
        dev = shlex.quote(str(data["dev"]))
        return out + (f"$N $TC qdisc show dev {dev} root | grep -q 'qdisc htb 100: root' || exit 0\n"
                      f"$N $TC qdisc del dev {dev} root handle 100:\n")
    if tool == "tc-ingress":
        dev, ifb = shlex.quote(str(data["dev"])), shlex.quote(str(data["ifb"]))
        return out + (f"if $N $TC qdisc show dev {dev} ingress | grep -q 'qdisc ingress ffff:'; then "
                      f"$N $TC qdisc del dev {dev} ingress || exit 1; fi\n"
                      f"if $N $IP link show dev {ifb} >/dev/null 2>&1; then $N $IP link del {ifb} || exit 1; fi\n")
    if tool == "link":
        lines = []
        for item in data["interfaces"]:
            dev = shlex.quote(str(item["dev"]))
            lines.append(f"$IP link set {dev} up || exit 1")
            adds = [["addr", "add", *str(a).split(), "dev", item["dev"]] for a in item["addrs"]] + \
                [[fam, "route", "add", *str(r).split(), "dev", item["dev"]] for fam, r in item["routes"]]
            for argv in adds:  # one already there is done
                lines.append(f'o=$($IP {_q(argv)} 2>&1) || case "$o" in *"File exists"*|*"already assigned"*) ;; '
                             f'*) echo "$o"; exit 1 ;; esac')
            lines.append(f"$IP -o link show dev {dev} | grep -q '[<,]UP[,>]' || {{ echo {dev} is not up; exit 1; }}")
        return _TOOLS + "\n".join(lines) + "\n"
    table = ["-t", "mangle"] if data.get("table") == "mangle" else []
    rule = [data["chain"], *map(str, data["rule"])]
    out += (f"$N iptables {_q(table + ['-C', *rule])} 2>/dev/null; c=$?\n"
            f"if [ $c = 0 ]; then $N iptables {_q(table + ['-D', *rule])} || exit 1; elif [ $c != 1 ]; then exit $c; fi\n")
    made = data.get("creates") or [] if table else []
    if "chain" in made:  # nft refuses to delete a chain that still holds a rule
        out += f"$N nft delete chain ip mangle {shlex.quote(str(data['chain']))} 2>/dev/null || :\n"
    if "table" in made:
        out += ("[ -n \"$($N nft list table ip mangle 2>/dev/null | sed '1d;$d' | tr -d ' \\t\\n')\" ] || "
                "$N nft delete table ip mangle 2>/dev/null || :\n")
    return out


def throttle_script(data: dict, files: dict[str, str]) -> str:
    """The undo of storage_throttle's limits (restore_io_limits' data) as the trap runs it: each
    file written back as found (`files`: file -> what to write), and checked."""
    mm, version, path = str(data["maj_min"]), data["cgroup_version"], str(data["cgroup_path"])
    base = shlex.quote(f"/host/sys/fs/cgroup{'/blkio' if version == 'v1' else ''}{path}")
    out = f"[ -d {base} ] || exit 0\n"  # the container's cgroup is gone, and its limits with it
    for name, line in sorted(data["found"].items()):
        f = f"{base}/{shlex.quote(name)}"
        out += (f"printf '%s\\n' {shlex.quote(files[name])} >{f} || exit 1\n"
                f"now=$(grep {shlex.quote('^' + mm + ' ')} {f})\n"
                f"[ \"$now\" = {shlex.quote(line)} ] || {{ echo \"{name} reads '$now' for device {mm}\"; exit 1; }}\n")
    return out


# ---- the guard's side: stop the pod, read what its trap did ----------------------------------

# What each chaos pod stopped in this process left: (exit code, termination message), or None
# when it was gone before (a guard's pass handles a run's steps newest first: the first step of
# a pod stops it, the next ones read its outcome here).
_stopped: dict[tuple[str, str], tuple[int | None, str] | None] = {}


def stop_chaos_pod(content, api_client):
    """The guard's undo of a step recorded with its place in a chaos pod's undo list (`hold`):
    delete the pod with HOLD_GRACE seconds for its TERM trap, wait for it to be gone, and say
    what the trap did for this step (its line in the pod's termination message). The pod's own
    step (`hold` "pod") is done once the pod is gone. A pod gone before the guard came, or one
    without the trap, leaves the outcome unknown: said, as a failure."""
    data = content.data or {}
    ns = str(content.namespace)
    pod = str(data.get("pod") or content.resource_identifier)
    hold = str(data.get("hold"))
    what = f"chaos pod {ns}/{pod}" + (f" on node {data['node']}" if data.get("node") else "")
    if (ns, pod) not in _stopped:
        _stopped[(ns, pod)] = _stop(api_client, ns, pod, HOLD_GRACE + 60 + min(float(data.get("wait") or 0), 3600))
    final = _stopped[(ns, pod)]
    if hold == POD:
        return
    if final is None:
        raise RuntimeError(f"{what} was gone before the guard stopped it: whether its TERM trap undid step {hold} "
                           "cannot be known here")
    code, message = final
    line = next((x for x in message.splitlines() if x.split(" ", 1)[0] == hold), None)
    if line == f"{hold} ok" or (line is None and code == 0):  # none: not in its list (undone before)
        return
    if line is None:
        said = " ".join(message.split())[:300] or "no termination message"
        raise RuntimeError(f"the TERM trap of {what} ended with exit code {code}, not naming step {hold} ({said})")
    raise RuntimeError(f"the TERM trap of {what}, step {hold}: {line.split(' ', 1)[1]}")


def _final(pod, seen: tuple[int | None, str]) -> tuple[int | None, str]:
    for status in pod.status.container_statuses or [] if pod.status else []:
        done = status.state.terminated if status.state else None
        if done is not None:
            return done.exit_code, done.message or ""
    return seen


def _stop(api_client, ns: str, pod: str, timeout: float) -> tuple[int | None, str] | None:
    """Delete the pod with HOLD_GRACE and watch it until it is gone; its container's final
    (exit code, termination message), or None when it was gone already."""
    from kubernetes import client, watch

    core = client.CoreV1Api(api_client)
    try:
        now = core.read_namespaced_pod(pod, ns)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    meta = now.metadata or client.V1ObjectMeta()
    if not has_trap(now):
        raise RuntimeError(f"chaos pod {ns}/{pod} has no undo trap: left to the operator's execute-rollback")
    try:
        core.delete_namespaced_pod(pod, ns, grace_period_seconds=HOLD_GRACE,
                                   body=client.V1DeleteOptions(preconditions=client.V1Preconditions(
                                       uid=meta.uid)))
    except client.ApiException as exc:
        if exc.status != 404:
            raise
    seen = _final(now, (None, ""))
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_pod, ns, field_selector=f"metadata.name={pod}",
                          resource_version=meta.resource_version, timeout_seconds=int(timeout)):
        seen = _final(event["object"], seen)
        if event["type"] == "DELETED":
            w.stop()
            if seen[0] is None:
                raise RuntimeError(f"chaos pod {ns}/{pod} went without its container's final status: what its "
                                   "TERM trap did cannot be known here")
            return seen
    raise RuntimeError(f"chaos pod {ns}/{pod} still there {timeout:g}s after its deletion")
