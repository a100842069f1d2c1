#!/usr/bin/env bash
# Builds the upstream programs that podnet's Kubernetes tests and lab run beside podnet
# (kube-apiserver, kube-controller-manager, kubectl, etcd) from the Go module in tools/, into a
# cache folder outside the source tree keyed by their versions, and prints that folder.
# Does nothing but print when the cache is already complete. Modules come from GOPROXY only.
#
#   scripts/k8s-tools.sh          build when needed, print the folder
#   scripts/k8s-tools.sh --dir    print the folder only (it may not exist yet)
#
# PODNET_K8S_TOOLS_CACHE overrides the cache root (default /var/cache/podnet/k8s-tools).
set -euo pipefail
cd "$(dirname "$0")/../tools"

# The versions are those tools/go.mod pins: one place to change them.
module_version() { awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' go.mod; }
k8s_version=$(module_version k8s.io/kubernetes)
etcd_version=$(module_version go.etcd.io/etcd/server/v3)
if [ -z "$k8s_version" ] || [ -z "$etcd_version" ]; then
  echo "k8s-tools: tools/go.mod names no k8s.io/kubernetes or go.etcd.io/etcd/server/v3 version" >&2
  exit 1
fi
dir=${PODNET_K8S_TOOLS_CACHE:-/var/cache/podnet/k8s-tools}/kubernetes-$k8s_version-etcd-$etcd_version
binaries=(kube-apiserver kube-controller-manager kubectl etcd)

if [ "${1:-}" = --dir ]; then
  echo "$dir"
  exit 0
fi
complete=1
for b in "${binaries[@]}"; do [ -x "$dir/$b" ] || complete=0; done
if [ $complete = 1 ]; then
  echo "$dir"
  exit 0
fi

if ! command -v go >/dev/null; then
  echo "k8s-tools: no 'go' on PATH; Go 1.24 or later builds the Kubernetes tools" >&2
  exit 1
fi

# The version strings kube-apiserver's /version and `kubectl version` report; without them they
# say v0.0.0. The build date is the release's own time, so a rebuild makes the same binary.
minor=${k8s_version#v*.}
minor=${minor%%.*}
major=${k8s_version#v}
major=${major%%.*}
build_date=$(go mod download -json "k8s.io/kubernetes@$k8s_version" |
  sed -n 's/.*"Info": "\(.*\)".*/\1/p' | xargs sed -n 's/.*"Time":"\([^"]*\)".*/\1/p')
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=$build_date"
done

# Built into a scratch folder beside the cache and moved in one rename, so an interrupted build
# never leaves a cache that looks complete.
mkdir -p "$(dirname "$dir")"
scratch=$(mktemp -d "$dir.partial.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
build() {
  local name=$1 pkg=$2 start=$SECONDS
  shift 2
  echo "k8s-tools: building $name ($pkg)" >&2
  # nice: the machines that build this are shared; the build is long but never urgent.
  CGO_ENABLED=0 nice -n 19 go build -trimpath -tags selinux,notest,grpcnotrace "$@" \
    -o "$scratch/$name" "$pkg"
  echo "k8s-tools: $name built in $((SECONDS - start)) s, $(du -h "$scratch/$name" | cut -f1)" >&2
}
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver -ldflags "$ldflags"
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager -ldflags "$ldflags"
build kubectl k8s.io/kubernetes/cmd/kubectl -ldflags "$ldflags"
build etcd go.etcd.io/etcd/server/v3 -ldflags "-s -w"

rm -rf "$dir"
mv "$scratch" "$dir"
chmod 755 "$dir"
trap - EXIT
echo "$dir"
