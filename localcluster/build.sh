#!/usr/bin/env bash
# Builds the local control plane's binaries from Go modules into a cache folder outside the
# checkout, so that every clone reuses them. Idempotent: a binary is rebuilt only when it is
# missing or its recipe (go.mod, go.sum, flags) changed. Every program is built from the one module
# here (go.mod), so a package shared by two programs (client-go, gRPC...) is one version, compiled
# once. The first build takes about 17 minutes of CPU (docs/local-cluster.md has the figures).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KRKN_TUI_CACHE:-$HOME/.cache/krkn-tui}
bin="$cache/bin"
k8s_version=v1.36.3
etcd_version=v3.6.8
kwok_version=v0.8.0
ksm_version=v2.20.0
prometheus_version=3.16.0  # module github.com/prometheus/prometheus v0.316.0

if ! command -v go >/dev/null 2>&1; then
  echo "localcluster: Go is not installed (need Go >= 1.26 on PATH to build the control plane)" >&2
  exit 3
fi
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=${GOFLAGS:--buildvcs=false}

version_flags() { # $1: git version the components print
  local v=$1 major minor
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  local f="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "$f"
}

# cpu_mark: sets cpu_spent to the user + system CPU seconds of this shell's finished children so
# far, from `times` (called directly, not in $(...): a subshell's children are its own). A
# build's CPU is its cost whatever else the machine runs; its wall time depends on the neighbours.
cpu_file=$(mktemp)
trap 'rm -f "$cpu_file"' EXIT
cpu_spent=0
cpu_mark() {
  times >"$cpu_file"
  cpu_spent=$(awk 'END { split($1, u, "m"); split($2, s, "m"); printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$cpu_file")
}

# build NAME MODULE_DIR PACKAGE LDFLAGS [TAGS]
build() {
  local name=$1 dir=$2 pkg=$3 ldflags=$4 tags=${5:-}
  local stamp="$bin/.$name.recipe"
  local recipe
  local sources=()  # a program of this checkout (./cmd/...): its own files are in the recipe too
  if [[ $pkg == ./* ]]; then mapfile -t sources < <(find "$dir/$pkg" -type f | sort); fi
  recipe=$(cat "$dir/go.mod" "$dir/go.sum" "${sources[@]}" <(echo "$pkg $ldflags -dwarf=false $(go env GOVERSION)${tags:+ tags=$tags}") |
    sha256sum | cut -d' ' -f1)
  if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$recipe" ]]; then
    echo "localcluster: $name is up to date"
    return
  fi
  echo "localcluster: building $name from $pkg (minutes on a cold cache)..."
  # A private temporary name: two builds started at once (two clones, two test runs) must not
  # move each other's half-written binary.
  local start=$SECONDS cpu log
  cpu_mark
  cpu=$cpu_spent
  log=$(mktemp)
  # -dwarf=false: no debug information compiled that the linker's -w would drop (about a tenth of
  # the compiler's CPU); the binaries are the same programs.
  if ! (cd "$dir" && go build -trimpath -gcflags=all=-dwarf=false -tags "$tags" -ldflags "$ldflags" \
          -o "$bin/$name.tmp.$$" "$pkg") >"$log" 2>&1; then
    echo "localcluster: building $name failed; the Go module proxy or toolchain said:" >&2
    grep -vE '^go: downloading' "$log" | tail -n 15 >&2
    rm -f "$log" "$bin/$name.tmp.$$"
    exit 4
  fi
  rm -f "$log"
  mv -f "$bin/$name.tmp.$$" "$bin/$name"
  echo "$recipe" >"$stamp"
  cpu_mark
  echo "localcluster: built $name in $((SECONDS - start))s ($((cpu_spent - cpu))s of CPU)"
}

# Debian packages of the real node: installed when missing and we are root with apt; otherwise
# `cluster up` says what is missing and runs kwok nodes only.
node_packages() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  [[ -x /usr/sbin/nft ]] || missing+=(nftables)  # the network-chaos image packs it; the tests read the rule sets
  command -v ipset >/dev/null || missing+=(ipset)
  [[ -x /bin/busybox ]] || missing+=(busybox-static)
  [[ -x /usr/bin/stress-ng ]] || missing+=(stress-ng)  # the hog image (krkn-lib's krkn-hog) packs it
  command -v nsenter >/dev/null || missing+=(util-linux)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v losetup >/dev/null || missing+=(util-linux)  # the node's block device
  command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
  apt_install "the real node" "the real node will be skipped" "${missing[@]}"
}

# apt_install FOR WITHOUT PACKAGE...: the missing Debian packages, as root with apt (unless
# KRKN_TUI_NO_APT=1), saying so in one line; otherwise one line saying what is missing.
apt_install() {
  local for=$1 without=$2
  shift 2
  (( $# )) || return 0
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null || [[ ${KRKN_TUI_NO_APT:-} == 1 ]]; then
    echo "localcluster: $for needs $* (Debian packages); not installing them here"
    return 0
  fi
  echo "localcluster: installing the Debian packages of $for: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } ||
    echo "localcluster: apt-get could not install $*: $without" >&2
}

# The test suite's browser (KRKN_TUI_TEST_TOOLS=1, `cluster build --test-tools`, `make test`):
# Debian's chromium for the `serve` and HTML report tests, which skip without it.
test_packages() {
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
    apt_install "the browser tests" "those tests will skip" chromium
}

# pack_image NAME REF ROOTFS ENTRYPOINT: a one-layer image of ROOTFS saved as a tarball for
# `ctr images import`. crane sets the config through a registry, so a throwaway one serves on
# loopback for the build only.
images="$cache/images"
pack_image() {
  local name=$1 ref=$2 rootfs=$3 entry=$4
  local tarflags=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner)
  local recipe
  recipe=$({ echo "$ref $entry"; tar -C "$rootfs" -cf - "${tarflags[@]}" .; } | sha256sum | cut -d' ' -f1)
  if [[ -s "$images/$name.tar" && "$(cat "$images/.$name.recipe" 2>/dev/null)" == "$recipe" ]]; then
    echo "localcluster: image $name is up to date"
    return
  fi
  local work
  work=$(mktemp -d)
  tar -C "$rootfs" -cf "$work/layer.tar" "${tarflags[@]}" .
  "$bin/crane" registry serve --address 127.0.0.1:0 2>"$work/registry.log" &
  local registry=$! port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$work/registry.log")
    [[ -n $port ]] && break
    sleep 0.1
  done
  if [[ -z $port ]] ||
     ! "$bin/crane" append --oci-empty-base -f "$work/layer.tar" -t "127.0.0.1:$port/$name:build" >/dev/null 2>"$work/err" ||
     ! "$bin/crane" mutate "127.0.0.1:$port/$name:build" --entrypoint "$entry" --set-platform "linux/$(go env GOARCH)" -t "$ref" -o "$work/image.tar" >/dev/null 2>>"$work/err"; then
    kill "$registry" 2>/dev/null; wait "$registry" 2>/dev/null || true
    echo "localcluster: packing image $name failed: $(tail -n 3 "$work/err" "$work/registry.log" 2>/dev/null)" >&2
    rm -rf "$work"
    exit 4
  fi
  kill "$registry" 2>/dev/null; wait "$registry" 2>/dev/null || true
  mkdir -p "$images"
  mv -f "$work/image.tar" "$images/$name.tar"
  echo "$recipe" >"$images/.$name.recipe"
  rm -rf "$work"
  echo "localcluster: packed image $name ($ref)"
}

# `build.sh pack NAME REF ROOTFS ENTRYPOINT`: pack one tree assembled elsewhere (krkn-tui's own
# image, krkn_tui/localcluster/selfimage.py) and stop.
if [[ ${1:-} == pack && $# == 5 ]]; then
  pack_image "$2" "$3" "$4" "$5"
  exit 0
fi

# add_busybox ROOTFS: Debian's busybox-static and a link per tool in ROOTFS/bin.
add_busybox() {
  mkdir -p "$1/bin"
  cp /bin/busybox "$1/bin/busybox"
  for tool in $(/bin/busybox --list); do
    [[ $tool == busybox ]] || ln -sf busybox "$1/bin/$tool"
  done
}

# add_libs ROOTFS PROGRAM...: the shared libraries the programs link, at their paths in ROOTFS.
add_libs() {
  local root=$1 lib
  shift
  for lib in $(for tool in "$@"; do ldd "$tool" | grep -o '/[^ ]*'; done | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

build_images() {
  local root
  root=$(mktemp -d)
  mkdir -p "$root/pause"
  cp "$bin/pause" "$root/pause/pause"
  pack_image pause registry.k8s.io/pause:3.10 "$root/pause" /pause
  if [[ -x /bin/busybox ]]; then
    # Debian's busybox-static: a shell and the usual tools (nc, httpd, kill, df, date) for pods.
    mkdir -p "$root/busybox/tmp"
    chmod 1777 "$root/busybox/tmp"
    add_busybox "$root/busybox"
    pack_image busybox krkn-tui.io/busybox:1.35 "$root/busybox" /bin/sh
  fi
  if [[ -x /usr/bin/stress-ng && -x /bin/busybox ]]; then
    # krkn-lib's hog image, under its name: Debian's stress-ng with the libraries it links, a
    # shell, and an entrypoint that reads krkn-lib's variables.
    mkdir -p "$root/hog/usr/bin" "$root/hog/tmp"
    chmod 1777 "$root/hog/tmp"
    add_busybox "$root/hog"
    cp /usr/bin/stress-ng "$root/hog/usr/bin/stress-ng"
    add_libs "$root/hog" /usr/bin/stress-ng
    cp "$here/images/hog-entrypoint.sh" "$root/hog/entrypoint.sh"
    pack_image krkn-hog quay.io/krkn-chaos/krkn-hog:latest "$root/hog" /entrypoint.sh
  fi
  # The demo's frontend and backend: the static demo-server, with busybox's tools beside it where
  # Debian's busybox-static is installed (exec scenarios run `kill`, `date`, `dd` in the container).
  mkdir -p "$root/demo/tmp"
  chmod 1777 "$root/demo/tmp"
  cp "$bin/demo-server" "$root/demo/demo-server"
  if [[ -x /bin/busybox ]]; then add_busybox "$root/demo"; fi
  pack_image demo-server krkn-tui.local/demo-server:latest "$root/demo" /demo-server
  if [[ -x /bin/busybox && -x /usr/sbin/xtables-nft-multi && -x /usr/sbin/nft && -x /usr/sbin/tc ]]; then
    # krkn's network-chaos image, under its name: Debian's iptables (nft backend, its match
    # modules), nft, tc, ip and nsenter with the libraries they link, a shell, and a process that
    # waits (krkn's pod spec has no command; it execs the rules into the pod).
    local nc="$root/network-chaos" tool
    mkdir -p "$nc/bin" "$nc/usr/sbin" "$nc/usr/bin" "$nc/tmp" "$nc/run"
    chmod 1777 "$nc/tmp"
    add_busybox "$nc"
    cp /usr/sbin/xtables-nft-multi /usr/sbin/nft /usr/sbin/tc /usr/sbin/ip "$nc/usr/sbin/"
    cp "$bin/netem-queue" "$nc/usr/bin/"  # netem's delay and loss through NFQUEUE where the kernel lacks netem
    cp /usr/bin/nsenter "$nc/usr/bin/"
    for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save; do
      ln -sf xtables-nft-multi "$nc/usr/sbin/$tool"
    done
    add_libs "$nc" /usr/sbin/xtables-nft-multi /usr/sbin/nft /usr/sbin/tc /usr/sbin/ip /usr/bin/nsenter
    local xt  # the match and target modules iptables loads at run time (ldd does not list them)
    xt=$(dirname "$(readlink -f "$(ldd /usr/sbin/xtables-nft-multi | grep -o '/[^ ]*libxtables[^ ]*')")")/xtables
    mkdir -p "$nc$(dirname "$xt")"
    cp -r "$xt" "$nc$xt"
    printf '#!/bin/sh\nexec sleep infinity\n' >"$nc/entrypoint.sh"
    chmod 755 "$nc/entrypoint.sh"
    pack_image krkn-network-chaos quay.io/krkn-chaos/krkn-network-chaos:latest "$nc" /entrypoint.sh
    # krkn's tools image (network_chaos_scenarios' and ingress_node_scenarios' default, and
    # storage_throttle's privileged pod), under its name: the same tree, busybox's tools included.
    pack_image krkn-tools quay.io/krkn-chaos/krkn:tools "$nc" /entrypoint.sh
  fi
  # krkn's scenario images, under krkn's names: static Go programs of images/cmd/.
  # (krkn-lib mounts the plan at /service-hijacking: the program lives elsewhere)
  mkdir -p "$root/service-hijacking/usr/bin"
  cp "$bin/service-hijacking" "$root/service-hijacking/usr/bin/krkn-service-hijacking"
  pack_image krkn-service-hijacking quay.io/krkn-chaos/krkn-service-hijacking:v0.1.3 "$root/service-hijacking" \
    /usr/bin/krkn-service-hijacking
  mkdir -p "$root/syn-flood/usr/bin"
  cp "$bin/syn-flood" "$root/syn-flood/usr/bin/syn-flood"
  pack_image krkn-syn-flood quay.io/krkn-chaos/krkn-syn-flood:v1.0.0 "$root/syn-flood" /usr/bin/syn-flood
  if [[ -x /bin/busybox ]]; then
    # krkn's http_load image: Vegeta (from go.mod here) and a shell running its contract.
    mkdir -p "$root/http-load/usr/local/bin" "$root/http-load/http-load" "$root/http-load/tmp"
    chmod 1777 "$root/http-load/tmp"
    add_busybox "$root/http-load"
    cp "$bin/vegeta" "$root/http-load/usr/local/bin/vegeta"
    cp "$here/images/http-load/run.sh" "$root/http-load/http-load/run.sh"
    pack_image krkn-http-load quay.io/krkn-chaos/krkn-http-load:latest "$root/http-load" /http-load/run.sh
  fi
  rm -rf "$root"
}

k8s_flags=$(version_flags "$k8s_version")
build kube-apiserver "$here" k8s.io/kubernetes/cmd/kube-apiserver "$k8s_flags"
build kube-controller-manager "$here" k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_flags"
build kube-scheduler "$here" k8s.io/kubernetes/cmd/kube-scheduler "$k8s_flags"
build kubectl "$here" k8s.io/kubernetes/cmd/kubectl "$k8s_flags"
build etcd "$here" go.etcd.io/etcd/server/v3 "-s -w"
build kwok "$here" sigs.k8s.io/kwok/cmd/kwok "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$kwok_version"
# kwok ships no built-in stages: assemble the ones a kubelet-like node needs from its module.
stages="$bin/kwok-stages.yaml"
if [[ ! -s "$stages" || "$bin/kwok" -nt "$stages" ]]; then
  kwok_dir=$(cd "$here" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  : >"$stages.tmp.$$"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    { echo "---"; cat "$kwok_dir/kustomize/stage/$f"; } >>"$stages.tmp.$$"
  done
  mv -f "$stages.tmp.$$" "$stages"
fi
# Prometheus without its UI assets (the HTTP API is what the checks read) and with only the
# Kubernetes service discovery (the demo's pods come and go; every other target is static).
build prometheus "$here" github.com/prometheus/prometheus/cmd/prometheus \
  "-s -w -X github.com/prometheus/common/version.Version=$prometheus_version" remove_all_sd,enable_kubernetes_sd
build kube-state-metrics "$here/kube-state-metrics" k8s.io/kube-state-metrics/v2 \
  "-s -w -X github.com/prometheus/common/version.Version=$ksm_version"

# The real node (Linux only): kubelet and kube-proxy, kube-router's policy firewall (its
# controller alone, kube-router/cmd/firewall) and crane, the pause program, and the images packed
# with crane.
if [[ $(uname -s) == Linux && $(id -u) != 0 ]]; then
  echo "localcluster: not root: the real node's components are not built (the cluster runs kwok nodes only)"
elif [[ $(uname -s) == Linux && ${KRKN_TUI_REAL_NODE:-1} != 0 ]]; then
  node_packages
  build kubelet "$here" k8s.io/kubernetes/cmd/kubelet "$k8s_flags"
  build kube-proxy "$here" k8s.io/kubernetes/cmd/kube-proxy "$k8s_flags"
  build kube-router "$here" ./kube-router/cmd/firewall "-s -w"
  build crane "$here" github.com/google/go-containerregistry/cmd/crane "-s -w"
  build pause "$here/images" ./cmd/pause "-s -w"
  build demo-server "$here/images" ./cmd/demo-server "-s -w"
  build service-hijacking "$here/images" ./cmd/service-hijacking "-s -w"
  build syn-flood "$here/images" ./cmd/syn-flood "-s -w"
  build netem-queue "$here/images" ./cmd/netem-queue "-s -w"
  build vegeta "$here" github.com/tsenart/vegeta/v12 "-s -w -X main.Version=v12.13.0"
  build_images
fi
[[ ${KRKN_TUI_TEST_TOOLS:-} == 1 ]] && test_packages
echo "localcluster: binaries ready in $bin (Kubernetes $k8s_version, etcd $etcd_version, kwok $kwok_version)"
