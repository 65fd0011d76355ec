#!/usr/bin/env bash
# Builds the local control plane's binaries from Go modules into a cache folder outside the
# checkout, so that every clone reuses them. Idempotent: a binary is rebuilt only when it is
# missing or its recipe (go.mod, go.sum, flags) changed. The first build takes 10-25 minutes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KRKN_TUI_CACHE:-$HOME/.cache/krkn-tui}
bin="$cache/bin"
k8s_version=v1.36.3
etcd_version=v3.6.8
kwok_version=v0.8.0

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

# build NAME MODULE_DIR PACKAGE LDFLAGS
build() {
  local name=$1 dir=$2 pkg=$3 ldflags=$4
  local stamp="$bin/.$name.recipe"
  local recipe
  recipe=$(cat "$dir/go.mod" "$dir/go.sum" <(echo "$pkg $ldflags $(go env GOVERSION)") | sha256sum | cut -d' ' -f1)
  if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$recipe" ]]; then
    echo "localcluster: $name is up to date"
    return
  fi
  echo "localcluster: building $name from $pkg (minutes on a cold cache)..."
  # A private temporary name: two builds started at once (two clones, two test runs) must not
  # move each other's half-written binary.
  local start=$SECONDS log
  log=$(mktemp)
  if ! (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp.$$" "$pkg") >"$log" 2>&1; then
    echo "localcluster: building $name failed; the Go module proxy or toolchain said:" >&2
    grep -vE '^go: downloading' "$log" | tail -n 15 >&2
    rm -f "$log" "$bin/$name.tmp.$$"
    exit 4
  fi
  rm -f "$log"
  mv -f "$bin/$name.tmp.$$" "$bin/$name"
  echo "$recipe" >"$stamp"
  echo "localcluster: built $name in $((SECONDS - start))s"
}

k8s_flags=$(version_flags "$k8s_version")
build etcd "$here" go.etcd.io/etcd/server/v3 "-s -w"
build kube-apiserver "$here" k8s.io/kubernetes/cmd/kube-apiserver "$k8s_flags"
build kube-controller-manager "$here" k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_flags"
build kube-scheduler "$here" k8s.io/kubernetes/cmd/kube-scheduler "$k8s_flags"
build kubectl "$here" k8s.io/kubernetes/cmd/kubectl "$k8s_flags"
build kwok "$here/kwok" sigs.k8s.io/kwok/cmd/kwok "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$kwok_version"
# kwok ships no built-in stages: assemble the ones a kubelet-like node needs from its module.
stages="$bin/kwok-stages.yaml"
if [[ ! -s "$stages" || "$bin/kwok" -nt "$stages" ]]; then
  kwok_dir=$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  : >"$stages.tmp.$$"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    { echo "---"; cat "$kwok_dir/kustomize/stage/$f"; } >>"$stages.tmp.$$"
  done
  mv -f "$stages.tmp.$$" "$stages"
fi
echo "localcluster: binaries ready in $bin (Kubernetes $k8s_version, etcd $etcd_version, kwok $kwok_version)"
