#!/bin/bash
# Live: forwarded container traffic (forward.interfaces).  The container's
# address (10.99.0.2, fd00:99::2) is outside the address space, as container
# networks are, and is not VirtualNetwork: its traffic goes through the host's
# NSG chains and managed network, where the VNet default rules do not match it
# (so the VNet is closed to and from it unless a security rule names the
# container network) while AllowInternetOutBound, which checks no source, does.
# A first version took the container's side as VirtualNetwork in the default
# rules; a review showed deny rules naming VirtualNetwork then missed
# container traffic and a container could spoof a VNet source: reverted.
. "$(dirname "$0")/lib.sh"
live_init t_forward
topo_setup || { not_ok "forward: topology"; live_finish; }
CTR4=10.99.0.2 CTR6=fd00:99::2
CTRB4=10.98.0.2
# container NS IFACE NET4 [NET6]: namespace NS behind the host's interface
# IFACE, its address .2 of NET4 (a /24, written 10.99.0) and :2 of NET6 (a
# /64, written fd00:99:)
container() {
	local ns=$1 ifc=$2 n4=$3 n6=${4:-} h c
	ns_add "$ns" || return 1
	h=$(ns_name host) c=$(ns_name "$ns")
	ip link add "fdt$ifc" netns "$h" type veth peer name "fdp$ifc" netns "$c" || return 1
	ip -n "$h" link set "fdt$ifc" name "$ifc"
	ip -n "$c" link set "fdp$ifc" name eth0
	ip -n "$h" addr add "$n4.1/24" dev "$ifc"
	ip -n "$c" addr add "$n4.2/24" dev eth0
	ip -n "$h" link set "$ifc" up
	ip -n "$c" link set eth0 up
	ip -n "$c" route add default via "$n4.1"
	if [ -n "$n6" ]; then
		ip -n "$h" addr add "$n6:1/64" dev "$ifc" nodad
		ip -n "$c" addr add "$n6:2/64" dev eth0 nodad
		ip -n "$c" -6 route add default via "$n6:1"
	fi
}
setup_containers() {
	container ctr ctr0 10.99.0 fd00:99: || return 1
	# a second container behind its own interface (ctr1, 10.98.0.2)
	container ctr2 ctr1 10.98.0 || return 1
	ip -n "$(ns_name peers)" route add 10.99.0.0/24 via $HOST4
	ip -n "$(ns_name peers)" -6 route add fd00:99::/64 via $HOST6
	nsx host sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 >/dev/null
	serve ctr 80,8080 5000
	serve ctr2 80 5000
}
setup_containers || { not_ok "forward: container namespaces"; live_finish; }

expect_allowed "no filter: container -> internet tcp 443 (v4)" ctr tcp $INET4 443
expect_allowed "no filter: container -> vnet peer tcp 22 (v6)" ctr tcp $VNET6 22
expect_allowed "no filter: container -> second container tcp 80" ctr tcp $CTRB4 80
checks_wait

# a policy that declares no forward interfaces: forwarding is dropped (before
# a review there was no forward chain, and the container got past every rule)
check_apply "apply out-internet.yaml (no forward interfaces)" host "$DATA/out-internet.yaml"
expect_denied "undeclared forwarding: container -> internet tcp 443 denied (v4)" ctr tcp $INET4 443
expect_denied "undeclared forwarding: container -> internet tcp 443 denied (v6)" ctr tcp $INET6 443
expect_denied "undeclared forwarding: internet -> container tcp 80 denied" peers tcp $CTR4 80 $INET4
expect_allowed "undeclared forwarding: host -> internet tcp 443 allowed (its own traffic)" host tcp $INET4 443
checks_wait
n=$(rule_counter host "platform:fwd:not-declared")
if [ "${n:-0}" -gt 0 ]; then ok "undeclared forwarding: counted by platform:fwd:not-declared ($n packets)"
else not_ok "undeclared forwarding: counted by platform:fwd:not-declared" "counter: '$n'"; fi

check_apply "apply forward.yaml" host "$DATA/forward.yaml"

# outbound from the container: security rules, NSG defaults, managed network
expect_allowed "container -> vnet peer tcp 22 allowed (security rule AllowContainersToVnet)" ctr tcp $VNET4 22
expect_allowed "container -> private endpoint tcp 443 allowed (AllowContainersToVnet, then approved)" ctr tcp $PE4 443
expect_denied  "container -> private endpoint tcp 80 denied (no rule names it; not VirtualNetwork: DenyAllOutBound)" ctr tcp $PE4 80
expect_denied  "container -> vnet peer tcp 22 denied (v6: the rule names only 10.99.0.0/24)" ctr tcp $VNET6 22
expect_denied  "container -> vnet peer tcp 8443 denied (DenyVnet8443 first)" ctr tcp $VNET4 8443
expect_allowed "container -> Storage.EastUS tcp 443 allowed (AllowInternetOutBound, required)" ctr tcp $STORAGE4 443
expect_allowed "container -> partner tcp 443 allowed (outbound rule)" ctr tcp $PARTNER4 443
expect_denied  "container -> partner tcp 80 denied (not approved)" ctr tcp $PARTNER4 80
expect_denied  "container -> internet tcp 443 denied (not approved, v4)" ctr tcp $INET4 443
expect_denied  "container -> internet tcp 443 denied (not approved, v6)" ctr tcp $INET6 443
expect_denied  "container -> internet udp 5000 denied (not approved)" ctr udp $INET4 5000
# inbound to the container
expect_allowed "vnet peer -> container tcp 80 allowed (AllowVnetToContainers, v4)" peers tcp $CTR4 80 $VNET4
expect_allowed "vnet peer -> container tcp 80 allowed (v6)" peers tcp $CTR6 80 $VNET6
expect_denied  "vnet peer -> container tcp 8080 denied (not VirtualNetwork: DenyAllInBound)" peers tcp $CTR4 8080 $VNET4
expect_denied  "internet -> container tcp 80 denied (DenyAllInBound)" peers tcp $CTR4 80 $INET4
expect_allowed "internet -> container tcp 8080 allowed (security rule AllowInet8080)" peers tcp $CTR4 8080 $INET4
expect_denied  "internet -> container udp 5000 denied" peers udp $CTR4 5000 $INET4
# one container to another is outbound (the managed network judges it): the
# second container's inbound rule AllowCtrPeers does not let it past (it did
# when inbound was judged first, past every outbound rule)
expect_denied  "container -> second container tcp 80 denied (outbound: nothing allows it; AllowCtrPeers is inbound)" ctr tcp $CTRB4 80
# the host's own traffic is judged as before
expect_denied  "host -> internet tcp 443 denied (not approved)" host tcp $INET4 443
expect_allowed "host -> vnet peer tcp 80 allowed (AllowVnetOutBound)" host tcp $VNET4 80
checks_wait

# hbi in the forward hook: a connection made to the container before hbi was
# turned on stalls at its next packet unless the hbi policy allows it
if conn_server ctr 9000 &&
	check_apply "forward connections: apply forward-conn-nohbi.yaml" host "$DATA/forward-conn-nohbi.yaml"; then
	conn_client peers $INET4 $CTR4 9000 a 1
	conn_client peers $AML4 $CTR4 9000 b 1
	conn_wait 0 a b
	check_apply "forward connections: apply forward-conn-hbi.yaml" host "$DATA/forward-conn-hbi.yaml"
	conn_go 1 a b
	if [ "$(step a 0)$(step b 0)" = okok ] && [ "$(step a 1)" = timeout ] && [ "$(step b 1)" = ok ]; then
		ok "forward connections: with hbi, the internet's connection to the container stalls, AzureMachineLearning's goes on"
	else
		not_ok "forward connections: with hbi, the internet's connection to the container stalls" \
			"internet: $(step a 0) then $(step a 1); AzureMachineLearning: $(step b 0) then $(step b 1)"
	fi
else
	not_ok "forward connections: server or policy" "$(cat "$(live_tmp)/conn/server.out")"
fi

# filterd's drop capture: a forwarded drop is neither to nor from this host
# (PACKET_OTHERHOST): pcap-replay counts it as transit; the host's own drop
# is judged as the kernel did
D=$(live_tmp)/fd
mkdir -p "$D"
nsx host "$O/filterd" --policy "$DATA/forward.yaml" --tags "$TAGS" --state-dir "$D/state" \
	--socket "$D/sock" --set audit_log="$D/audit.log" --set ownership=off \
	--set drop_pcap="$D/drops.pcap" >"$D/log" 2>&1 &
_live_pids+=($!)
if ! wait_until 10 env FILTERD_SOCKET="$D/sock" "$FILTERCTL" status; then
	not_ok "filterd starts with the forward policy" "$(tail -5 "$D/log")"
else
	expect_denied "internet -> container tcp 80 denied (logged in the forward hook)" peers tcp $CTR4 80 $INET4
	expect_denied "internet -> host tcp 22 denied (logged in the input hook)" peers tcp $HOST4 22 $INET4
	checks_wait
	drops_in() { [ "$(grep -c 'event=drop ' "$D/log")" -ge 2 ]; }
	if wait_until 5 drops_in && out=$("$O/pcap-replay" --policy "$DATA/forward.yaml" --tags "$TAGS" \
		--format json "$D/drops.pcap" 2>"$D/replay.err") && "$PY" -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["totals"]["transit"] >= 1, j["totals"]
fl = j["flows"]
assert fl and all(f["dir"] == "in" and f["verdict"] == "drop" for f in fl), fl
assert all(f["dst"] == "10.0.1.4" for f in fl), fl
' "$out" 2>"$D/py" && ! grep -q "not judged: no host address" "$D/replay.err"; then
		ok "drop pcap: the forwarded drop is transit, the host's own drop judged as dropped"
	else
		not_ok "drop pcap: forwarded drop as transit" "$(cat "$D/py" "$D/replay.err")" "$(grep 'event=drop ' "$D/log")"
	fi
fi

live_finish
