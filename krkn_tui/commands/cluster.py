"""`krkn-tui cluster up | down | status | kubeconfig | build`."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("cluster", help="the local Kubernetes control plane (etcd, API server, controllers, kwok nodes)")
    csub = p.add_subparsers(dest="cluster_cmd", required=True)
    up = csub.add_parser("up", help="build if needed, start on loopback and wait until ready")
    up.add_argument("--nodes", type=int, default=3, help="fake worker nodes (default 3)")
    up.add_argument("--demo", action="store_true", help="also apply the demo workload (namespace krkn-demo)")
    up.add_argument("--demo-profile", choices=("fast", "realistic", "flaky"), default="realistic",
                    help="how the demo's pods start: realistic (Ready after 1-5 s, the default), flaky (one "
                         "replacement in three crash-loops for 10-30 s first), fast (Ready at once)")
    up.add_argument("--no-real-node", action="store_true",
                    help="kwok nodes only: do not start the real node (kubelet, containerd) even where it can run")
    up.add_argument("--prometheus", action=argparse.BooleanOptionalAction, default=None,
                    help="Prometheus scraping the API server, the real node and the demo (default: with --demo)")
    csub.add_parser("down", help="stop every process the cluster started")
    st = csub.add_parser("status", help="what runs where")
    st.add_argument("--json", action="store_true")
    csub.add_parser("kubeconfig", help="print the local cluster's kubeconfig path")
    build = csub.add_parser("build", help="build the binaries only (idempotent)")
    build.add_argument("--test-tools", action="store_true",
                       help="also install, as root with apt, Debian's chromium for the browser tests")
    p.set_defaults(func=cmd_cluster)


def cmd_cluster(args) -> int:
    from ..localcluster import LocalCluster
    from ..localcluster.cluster import ClusterError

    cluster = LocalCluster()
    try:
        if args.cluster_cmd == "up":
            if args.nodes < 1:
                raise UserError("must be at least 1", field="--nodes")
            cluster.up(nodes=args.nodes, demo=args.demo, demo_profile=args.demo_profile,
                       real_node=not args.no_real_node, with_prometheus=args.prometheus)
        elif args.cluster_cmd == "build":
            if args.test_tools:  # build.sh installs them as it installs the real node's packages
                os.environ["KRKN_TUI_TEST_TOOLS"] = "1"
            cluster.build(show_up_to_date=True, refresh_node=True)
        elif args.cluster_cmd == "down":
            stopped = cluster.down()
            print(f"stopped: {', '.join(stopped)}" if stopped else "local cluster: nothing was running")
        elif args.cluster_cmd == "kubeconfig":
            print(cluster.kubeconfig)
        elif args.cluster_cmd == "status":
            st = cluster.status()
            if args.json:
                print(json.dumps(st, indent=2))
            else:
                _print_status(st)
            return 0 if st["running"] else 1
    except ClusterError as e:
        print(f"krkn-tui: local cluster: {e}", file=sys.stderr)
        return 1
    return 0


def _print_status(st: dict) -> None:
    print(f"local cluster: {'running' if st['running'] else 'not running'}")
    print(f"  server      {st['server'] or '-'}")
    print(f"  context     {st['context']}  (kubeconfig {st['kubeconfig']})")
    print(f"  fake nodes  {st['nodes']}")
    if st.get("health"):
        print(f"  demo health {st['health']}")
    if st.get("prometheus"):
        print(f"  prometheus  {st['prometheus']}")
    for p in st["processes"]:
        state = "up" if p["alive"] else "DEAD"
        print(f"  {p['name']:<24} pid {p['pid']:<8} {state:<5} {p['address']:<16} log {p['log']}")
    node = st.get("real_node")
    if node:
        print(f"  real node   {node['name']}  ip {node['node_ip']}  pods {node['pod_cidr']}  "
              f"services {node['service_cidr']}  veth {node['host_if']}")
        if node.get("block"):
            b = node["block"]
            print(f"    block device {b['device']} ({b['maj_min']}, ext4 over {b['image']}) at {b['mount']} "
                  "in the node's mount namespace")
        for p in node["processes"]:
            state = "up" if p["alive"] else "DEAD"
            print(f"    {p['name']:<22} pid {p['pid']:<8} {state:<5} {'node netns':<16} log {p['log']}")
    else:
        print("  real node   - (kwok nodes only)")
