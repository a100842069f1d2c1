#!/usr/bin/env bash
# podnet's main job on one machine: install, build, start podnetd with the embedded store, create
# two pods through the real CNI plugin exactly as a container runtime would, show their addresses
# and prove they reach each other and the node.
#
#   scripts/demo.sh        set everything up and leave it running to try by hand
#   scripts/demo.sh down   remove everything the demo made
#
# The node is a network namespace of its own (podnet-demo-node), so nothing the demo does can
# route traffic off this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

node=podnet-demo-node
pods=(demo-a demo-b)
state=/var/lib/podnet
socket=/run/podnet/podnetd.sock
pidfile=/run/podnet/demo-podnetd.pid
log=/var/log/podnet-demo.log
cni_dir=$root/build/bin
conf='{"cniVersion":"1.1.0","name":"podnet","type":"podnet-cni"}'

cni() {  # cni COMMAND POD — the plugin, invoked the way a runtime invokes it
  CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/var/run/netns/podnet-demo-$2 CNI_IFNAME=eth0 \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=$2" CNI_PATH=$cni_dir \
    "$cni_dir/podnet-cni" <<<"$conf"
}

down() {
  # Every pod the demo (or you, by hand) made in a podnet-demo-* namespace goes through CNI DEL.
  for ns in $(ip netns list | awk '{print $1}' | grep '^podnet-demo-' | grep -v "^$node\$" || true); do
    [ -S "$socket" ] && cni DEL "${ns#podnet-demo-}" || true
    ip netns del "$ns" 2>/dev/null || true
  done
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
  fi
  ip netns del "$node" 2>/dev/null || true
  rm -rf "$state" "$socket"
  rmdir "$(dirname "$socket")" 2>/dev/null || true
  echo "podnet demo removed."
}

if [ "${1:-}" = down ]; then down; exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "scripts/demo.sh must run as root" >&2; exit 1; fi

scripts/install-deps.sh
echo "== building"
scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DPODNET_TESTS=OFF -DPODNET_BENCH=OFF
down >/dev/null

echo "== starting podnetd (embedded store in $state, socket $socket) on node $node"
ip netns add "$node"
ip netns exec "$node" ip link set lo up
mkdir -p "$(dirname "$socket")"
setsid ip netns exec "$node" build/bin/podnetd >"$log" 2>&1 </dev/null &
echo $! >"$pidfile"
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done
[ -S "$socket" ] || { echo "podnetd did not start; see $log" >&2; cat "$log" >&2; exit 1; }

declare -A ip
for p in "${pods[@]}"; do
  ip netns add "podnet-demo-$p"
  ip netns exec "podnet-demo-$p" ip link set lo up
  echo "== CNI ADD $p"
  result=$(cni ADD "$p")
  echo "$result"
  ip[$p]=$(grep -o '"address":"[0-9.]*' <<<"$result" | cut -d'"' -f4)
done

echo "== podnetctl get pods -o wide"
build/bin/podnetctl get pods -o wide

a=${ip[demo-a]}; b=${ip[demo-b]}
check() {
  if "${@:2}" >/dev/null 2>&1; then echo "  ok    $1"; else echo "  FAIL  $1"; exit 1; fi
}
echo "== reachability"
check "demo-a ($a) -> demo-b ($b)" ip netns exec podnet-demo-demo-a ping -c1 -W2 "$b"
check "demo-b ($b) -> demo-a ($a)" ip netns exec podnet-demo-demo-b ping -c1 -W2 "$a"
check "demo-a -> node (gateway 10.244.0.1)" ip netns exec podnet-demo-demo-a ping -c1 -W2 10.244.0.1
check "node -> demo-b ($b)" ip netns exec "$node" ping -c1 -W2 "$b"

cat <<EOF2

podnet is running. Try it by hand:
  ip netns exec podnet-demo-demo-a ping $b
  ip netns exec podnet-demo-demo-a ip addr show eth0
  build/bin/podnetctl get pods -o wide
  # a third pod, the way a runtime adds one:
  ip netns add podnet-demo-demo-c
  echo '$conf' | CNI_COMMAND=ADD CNI_CONTAINERID=demo-c CNI_NETNS=/var/run/netns/podnet-demo-demo-c \\
    CNI_IFNAME=eth0 CNI_PATH=$cni_dir $cni_dir/podnet-cni
  # podnetd's log: $log
Remove everything:
  scripts/demo.sh down
EOF2
