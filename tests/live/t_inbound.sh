#!/bin/bash
# Live: inbound NSG semantics in a real kernel (service tags and ports, NSG
# default rules, priority order, UDP, ICMP).  Topology: tests/live/lib.sh topo_setup.
. "$(dirname "$0")/lib.sh"
live_init t_inbound
topo_setup || { not_ok "inbound: topology"; live_finish; }

# Without any filter, everything reaches the host (the topology itself works, so a
# "denied" below is the filter's doing).
expect_allowed "no filter: internet -> host tcp 8080 (v4)" peers tcp $HOST4 8080 $INET4
expect_allowed "no filter: internet -> host tcp 8080 (v6)" peers tcp $HOST6 8080 $INET6
expect_allowed "no filter: internet -> host udp 5001 (v4)" peers udp $HOST4 5001 $INET4
expect_allowed "no filter: internet -> host ping (v4)" peers icmp $HOST4 - $INET4
expect_allowed "no filter: internet -> host ping (v6)" peers icmp $HOST6 - $INET6

check_apply "apply inbound.yaml" host "$DATA/inbound.yaml"

# service tag and port
expect_allowed "AzureMachineLearning -> host:44224 allowed (v4)" peers tcp $HOST4 44224 $AML4
expect_allowed "AzureMachineLearning -> host:44224 allowed (v6)" peers tcp $HOST6 44224 $AML6
expect_denied  "AzureMachineLearning -> host:8080 denied (v4)" peers tcp $HOST4 8080 $AML4
expect_denied  "AzureMachineLearning -> host:8080 denied (v6)" peers tcp $HOST6 8080 $AML6
expect_denied  "AzureMachineLearning -> host:29876 denied (v4)" peers tcp $HOST4 29876 $AML4
expect_denied  "internet -> host:44224 denied (v4)" peers tcp $HOST4 44224 $INET4
expect_denied  "internet -> host:44224 denied (v6)" peers tcp $HOST6 44224 $INET6
expect_allowed "BatchNodeManagement -> host:29876 allowed (v4)" peers tcp $HOST4 29876 $BATCH4
expect_allowed "BatchNodeManagement -> host:29876 allowed (v6)" peers tcp $HOST6 29876 $BATCH6
expect_denied  "BatchNodeManagement -> host:44224 denied (v4)" peers tcp $HOST4 44224 $BATCH4
expect_denied  "BatchNodeManagement -> host:44224 denied (v6)" peers tcp $HOST6 44224 $BATCH6
expect_denied  "Storage.EastUS -> host:44224 denied (v4)" peers tcp $HOST4 44224 $STORAGE4

# NSG defaults: AllowVnetInBound, DenyAllInBound
expect_allowed "vnet peer -> host:8080 allowed (AllowVnetInBound, v4)" peers tcp $HOST4 8080 $VNET4
expect_allowed "vnet peer -> host:22 allowed (AllowVnetInBound, v4)" peers tcp $HOST4 22 $VNET4
expect_allowed "vnet peer -> host:8080 allowed (AllowVnetInBound, v6)" peers tcp $HOST6 8080 $VNET6
expect_allowed "vnet peer -> host udp 5001 allowed (AllowVnetInBound, v4)" peers udp $HOST4 5001 $VNET4
expect_denied  "internet -> host:8080 denied (DenyAllInBound, v4)" peers tcp $HOST4 8080 $INET4
expect_denied  "internet -> host:22 denied (DenyAllInBound, v6)" peers tcp $HOST6 22 $INET6
expect_allowed "vnet peer -> host ping allowed (v4)" peers icmp $HOST4 - $VNET4
expect_allowed "vnet peer -> host ping allowed (v6)" peers icmp $HOST6 - $VNET6
expect_denied  "internet -> host ping denied (v4)" peers icmp $HOST4 - $INET4
expect_denied  "internet -> host ping denied (v6)" peers icmp $HOST6 - $INET6
expect_denied  "AzureMachineLearning -> host ping denied (tcp-only rule, v4)" peers icmp $HOST4 - $AML4

# UDP: request/response through an inbound allow; the rule's port and protocol only
expect_allowed "internet -> host udp 5000 allowed (AllowPartnerUdp, v4)" peers udp $HOST4 5000 $INET4
expect_allowed "internet -> host udp 5000 allowed (AllowPartnerUdp, v6)" peers udp $HOST6 5000 $INET6
expect_denied  "internet -> host udp 5001 denied (v4)" peers udp $HOST4 5001 $INET4
expect_denied  "internet -> host udp 5001 denied (v6)" peers udp $HOST6 5001 $INET6
expect_denied  "internet -> host tcp 5000 denied (udp rule, v4)" peers tcp $HOST4 5000 $INET4
# the DHCP client's rules admit Azure's DHCP service (168.63.129.16, not a test
# address: offline in t_replay) and DHCPv6 from the link, not anyone with the
# server's source port
PEER_LL=$(ip -n "$(ns_name peers)" -6 -o addr show dev eth0 scope link | awk '{ sub("/.*", "", $4); print $4; exit }')
expect_denied  "internet udp 67 -> host udp 68 denied (DHCP only from 168.63.129.16, v4)" peers udp $HOST4 68 "$INET4#67"
expect_denied  "internet udp 547 -> host udp 546 denied (DHCPv6 only from link-local, v6)" peers udp $HOST6 546 "$INET6#547"
expect_allowed "link-local udp 547 -> host udp 546 allowed (platform:in:dhcpv6)" peers udp $HOST6 546 "$PEER_LL%eth0#547"
checks_wait

# drops are counted on the rule responsible
n=$(rule_counter host "default:in:DenyAllInBound")
if [ "${n:-0}" -gt 0 ]; then ok "DenyAllInBound counter counts the drops ($n packets)"
else not_ok "DenyAllInBound counter counts the drops" "counter: '${n}'"; fi

# priority: first match decides
check_apply "apply prio-deny-first.yaml" host "$DATA/prio-deny-first.yaml"
expect_denied  "deny 100 before allow 200: AzureMachineLearning -> host:44224 denied (v4)" peers tcp $HOST4 44224 $AML4
expect_denied  "deny 100 before allow 200: AzureMachineLearning -> host:44224 denied (v6)" peers tcp $HOST6 44224 $AML6
expect_denied  "deny VirtualNetwork:22 beats AllowVnetInBound: vnet peer -> host:22 denied" peers tcp $HOST4 22 $VNET4
expect_allowed "deny VirtualNetwork:22 leaves vnet peer -> host:8080 allowed" peers tcp $HOST4 8080 $VNET4
expect_denied  "without a UDP rule: internet -> host udp 5000 denied (v4)" peers udp $HOST4 5000 $INET4
expect_denied  "without a UDP rule: internet -> host udp 5000 denied (v6)" peers udp $HOST6 5000 $INET6

check_apply "apply prio-allow-first.yaml" host "$DATA/prio-allow-first.yaml"
expect_allowed "allow 100 before deny 200: AzureMachineLearning -> host:44224 allowed (v4)" peers tcp $HOST4 44224 $AML4
expect_allowed "allow 100 before deny 200: AzureMachineLearning -> host:44224 allowed (v6)" peers tcp $HOST6 44224 $AML6
expect_allowed "without DenyVnetSsh: vnet peer -> host:22 allowed" peers tcp $HOST4 22 $VNET4

# protocol * with ports 0-65535 (as Azure writes DenyAllInBound) is every
# protocol: ICMP is denied too, and the allow after it still passes the VNet
check_apply "apply deny-any-fullrange.yaml" host "$DATA/deny-any-fullrange.yaml"
expect_denied  "Any 0-65535 deny: internet -> host ping denied (v4)" peers icmp $HOST4 - $INET4
expect_denied  "Any 0-65535 deny: internet -> host ping denied (v6)" peers icmp $HOST6 - $INET6
expect_denied  "Any 0-65535 deny: internet -> host tcp 8080 denied (v4)" peers tcp $HOST4 8080 $INET4
expect_allowed "Any 0-65535 deny: vnet peer -> host ping allowed (v4)" peers icmp $HOST4 - $VNET4
checks_wait
n=$(rule_counter host "user:in:DenyInternetAll")
if [ "${n:-0}" -gt 0 ]; then ok "Any 0-65535 deny: its counter counts the pings ($n packets)"
else not_ok "Any 0-65535 deny: its counter counts the pings" "counter: '${n}'"; fi

# Connections under way across policy changes.  An NSG keeps the connections
# it allowed when an allow is removed; with hbi_workspace every packet a remote
# end sends on a connection it opened is judged again, so a connection the
# hbi policy does not allow stalls at its next packet, and one it allows goes on.
if conn_server host 9000 &&
	check_apply "connections: apply conn-before.yaml (9000 from the Internet and AzureMachineLearning)" host "$DATA/conn-before.yaml"; then
	conn_client peers $INET4 $HOST4 9000 a 2
	conn_client peers $AML4 $HOST4 9000 b 2
	conn_client peers $INET6 $HOST6 9000 c 2
	conn_wait 0 a b c
	if [ "$(step a 0)$(step b 0)$(step c 0)" = okokok ]; then ok "connections: three open (internet v4, AzureMachineLearning, internet v6)"
	else not_ok "connections: three open" "a: $(step a 0) b: $(step b 0) c: $(step c 0)"; fi
	check_apply "connections: apply conn-nohbi.yaml (the Internet allow removed)" host "$DATA/conn-nohbi.yaml"
	conn_go 1 a b c
	if [ "$(step a 1)$(step b 1)$(step c 1)" = okokok ]; then ok "connections: without hbi, connections made before go on (NSG: rules judge new connections)"
	else not_ok "connections: without hbi, connections made before go on" "a: $(step a 1) b: $(step b 1) c: $(step c 1)"; fi
	check_apply "connections: apply conn-hbi.yaml (the same with hbi_workspace)" host "$DATA/conn-hbi.yaml"
	conn_go 2 a b c
	if [ "$(step a 2)" = timeout ] && [ "$(step c 2)" = timeout ]; then ok "connections: with hbi, the Internet's connections end at their next packet (v4, v6)"
	else not_ok "connections: with hbi, the Internet's connections end at their next packet" "a: $(step a 2) c: $(step c 2)"; fi
	if [ "$(step b 2)" = ok ]; then ok "connections: with hbi, AzureMachineLearning's connection goes on"
	else not_ok "connections: with hbi, AzureMachineLearning's connection goes on" "b: $(step b 2)"; fi
	conn_client peers $INET4 $HOST4 9000 d 0
	conn_client peers $AML4 $HOST4 9000 e 0
	conn_wait 0 d e
	if [ "$(step d 0)" != ok ] && [ "$(step e 0)" = ok ]; then ok "connections: with hbi, new ones: from the internet refused, from AzureMachineLearning answered"
	else not_ok "connections: with hbi, new ones: from the internet refused, from AzureMachineLearning answered" "d: $(step d 0) e: $(step e 0)"; fi
	n=$(rule_counter host "default:in:DenyAllInBound")
	if [ "${n:-0}" -gt 0 ]; then ok "connections: the ended connections' packets counted on DenyAllInBound ($n)"
	else not_ok "connections: the ended connections' packets counted on DenyAllInBound" "counter: '$n'"; fi
else
	not_ok "connections: server or policy" "$(cat "$(live_tmp)/conn/server.out")"
fi


# Neighbour discovery from the Internet: accepted before the security rules
# only with hop limit 255 (on the link: no router forwards it); a raw
# listener on the host got any advertisement from anywhere before a review.
PP="$PY $LIVE_DIR/protoprobe.py"
PO=$(live_tmp)/protoprobe.out
: >"$PO"
bg host $PP listen "$PO" 447 --icmpv6 >"$PO.ready" 2>&1
if check_apply "nd: apply conn-hbi.yaml" host "$DATA/conn-hbi.yaml" && wait_until 5 grep -q ready "$PO.ready"; then
	nsx peers $PP icmpv6 $HOST6 136 64 32 $INET6
	nsx peers $PP icmpv6 $HOST6 134 64 32 $INET6
	nsx peers $PP icmpv6 $HOST6 136 255 32 $INET6
	wait_until 3 grep -q '^icmpv6 136 ' "$PO"
	if [ "$(grep -c '^icmpv6 136 ' "$PO")" = 1 ] && ! grep -q '^icmpv6 134 ' "$PO"; then
		ok "nd: from the internet with hop limit 64 denied (advertisements), with 255 accepted"
	else
		not_ok "nd: ND from the internet needs hop limit 255" "received: $(cat "$PO")"
	fi
else
	not_ok "nd: policy or listener" "$(cat "$PO.ready")"
fi

live_finish
