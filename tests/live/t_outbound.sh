#!/bin/bash
# Live: outbound NSG rules and the managed network's isolation modes, private
# endpoints, and return traffic of established connections.
. "$(dirname "$0")/lib.sh"
live_init t_outbound
topo_setup || { not_ok "outbound: topology"; live_finish; }

expect_allowed "no filter: host -> internet tcp 80 (v4)" host tcp $INET4 80
expect_allowed "no filter: host -> internet tcp 8443 (v6)" host tcp $INET6 8443
expect_allowed "no filter: host -> private endpoint tcp 80" host tcp $PE4 80

# ---- isolation_mode: disabled
check_apply "apply out-disabled.yaml" host "$DATA/out-disabled.yaml"
expect_allowed "disabled: host -> internet:80 allowed (v4)" host tcp $INET4 80
expect_allowed "disabled: host -> internet:80 allowed (v6)" host tcp $INET6 80
expect_allowed "disabled: host -> internet udp 5000 allowed (v4)" host udp $INET4 5000
expect_denied  "disabled: NSG DenyInternet8443: host -> internet:8443 denied (v4)" host tcp $INET4 8443
expect_denied  "disabled: NSG DenyInternet8443: host -> internet:8443 denied (v6)" host tcp $INET6 8443
expect_allowed "disabled: host -> vnet peer:8443 allowed (not Internet)" host tcp $VNET4 8443
expect_allowed "disabled: host -> Storage.EastUS:445 allowed" host tcp $STORAGE4 445
expect_allowed "disabled: host -> internet ping allowed (v4)" host icmp $INET4
expect_allowed "disabled: host -> internet ping allowed (v6)" host icmp $INET6
# established: the response of an allowed connection comes back, unsolicited
# inbound from the same peer does not.
expect_denied  "disabled: internet -> host:80 denied (unsolicited)" peers tcp $HOST4 80 $INET4
expect_denied  "disabled: internet -> host ping denied (unsolicited)" peers icmp $HOST4 - $INET4
checks_wait

# ---- isolation_mode: allow_internet_outbound
check_apply "apply out-internet.yaml" host "$DATA/out-internet.yaml"
expect_allowed "allow_internet_outbound: host -> internet:80 allowed (v4)" host tcp $INET4 80
expect_allowed "allow_internet_outbound: host -> internet:8443 allowed (v6)" host tcp $INET6 8443
expect_allowed "allow_internet_outbound: host -> internet udp 5000 allowed (v6)" host udp $INET6 5000
expect_allowed "allow_internet_outbound: host -> partner:80 allowed" host tcp $PARTNER4 80
expect_allowed "allow_internet_outbound: host -> vnet peer:22 allowed" host tcp $VNET4 22

# ---- isolation_mode: allow_only_approved_outbound
check_apply "apply out-approved.yaml" host "$DATA/out-approved.yaml"
expect_denied  "approved-only: host -> internet:80 denied (v4)" host tcp $INET4 80
expect_denied  "approved-only: host -> internet:80 denied (v6)" host tcp $INET6 80
expect_denied  "approved-only: host -> internet:443 denied (v4)" host tcp $INET4 443
expect_denied  "approved-only: host -> internet udp 5000 denied (v4)" host udp $INET4 5000
expect_denied  "approved-only: host -> internet ping denied (v4)" host icmp $INET4
expect_allowed "approved-only: host -> Storage.EastUS:443 allowed (required, v4)" host tcp $STORAGE4 443
expect_allowed "approved-only: host -> Storage.EastUS:443 allowed (required, v6)" host tcp $STORAGE6 443
expect_denied  "approved-only: host -> Storage.EastUS:80 denied (v4)" host tcp $STORAGE4 80
expect_denied  "approved-only: host -> Storage.EastUS:80 denied (v6)" host tcp $STORAGE6 80
expect_denied  "approved-only: NSG deny beats approval: host -> Storage.EastUS:445 denied (v4)" host tcp $STORAGE4 445
expect_allowed "approved-only: host -> Storage.EastUS:445 allowed where no NSG deny (v6)" host tcp $STORAGE6 445
expect_allowed "approved-only: host -> address_prefixes rule:443 allowed" host tcp $PARTNER4 443
expect_denied  "approved-only: host -> address_prefixes rule:80 denied" host tcp $PARTNER4 80
expect_denied  "approved-only: host -> internet outside address_prefixes:443 denied" host tcp $INET4 443
expect_allowed "approved-only: host -> AzureMachineLearning udp 5831 allowed (required, v4)" host udp $AML4 5831
expect_allowed "approved-only: host -> AzureMachineLearning udp 5831 allowed (required, v6)" host udp $AML6 5831
expect_denied  "approved-only: host -> AzureMachineLearning udp 5000 denied" host udp $AML4 5000
# the DHCP client's platform rule reaches Azure's DHCP service or broadcast only:
# from port 68 to port 67 elsewhere is not a way out (it was, before a review)
expect_denied  "approved-only: host udp 68 -> internet udp 67 denied (DHCP only to 168.63.129.16 or broadcast)" host udp $INET4 67 "$HOST4#68"
expect_denied  "approved-only: host udp 546 -> internet udp 547 denied (DHCPv6 only on the link)" host udp $INET6 547 "$HOST6#546"
expect_allowed "approved-only: host -> AzureMachineLearning:18881 allowed (required)" host tcp $AML4 18881
expect_allowed "approved-only: host -> BatchNodeManagement.EastUS:443 allowed (required)" host tcp $BATCH4 443
expect_denied  "approved-only: host -> BatchNodeManagement.EastUS:80 denied" host tcp $BATCH4 80
expect_allowed "approved-only: host -> vnet peer:8443 allowed (required VirtualNetwork, v4)" host tcp $VNET4 8443
expect_allowed "approved-only: host -> vnet peer:8443 allowed (required VirtualNetwork, v6)" host tcp $VNET6 8443
expect_allowed "approved-only: host -> vnet peer ping allowed (v4)" host icmp $VNET4
expect_allowed "approved-only: host -> private endpoint 10.0.2.5:443 allowed" host tcp $PE4 443
# 10.0.2.5 is inside the address space here, so required VirtualNetwork approves
# it on every port; out-pe.yaml below checks the endpoint's own port restriction.
expect_allowed "approved-only: host -> private endpoint 10.0.2.5:80 allowed (inside VirtualNetwork)" host tcp $PE4 80
checks_wait

# established return traffic: counted by platform:in:established
before=$(rule_counter host "platform:in:established")
expect_allowed "established: host -> Storage.EastUS:443 gets its response" host tcp $STORAGE4 443
expect_allowed "established: host -> AzureMachineLearning udp 5831 gets its response" host udp $AML4 5831
expect_denied  "established: unsolicited Storage.EastUS -> host:443 denied" peers tcp $HOST4 443 $STORAGE4
expect_denied  "established: unsolicited Storage.EastUS -> host:8080 denied" peers tcp $HOST4 8080 $STORAGE4
expect_denied  "established: unsolicited AzureMachineLearning -> host udp 5000 denied" peers udp $HOST4 5000 $AML4
checks_wait
after=$(rule_counter host "platform:in:established")
if [ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ]; then
	ok "established: responses accepted by ct state established ($before -> $after packets)"
else
	not_ok "established: responses accepted by ct state established" "counter before '$before' after '$after'"
fi
n=$(rule_counter host "managed:out:DenyUnapprovedOutbound")
if [ "${n:-0}" -gt 0 ]; then ok "DenyUnapprovedOutbound counter counts the drops ($n packets)"
else not_ok "DenyUnapprovedOutbound counter counts the drops" "counter: '$n'"; fi

# ---- private endpoint outside the address space, allowed by an NSG rule
check_apply "apply out-pe.yaml" host "$DATA/out-pe.yaml"
expect_allowed "private endpoint: host -> 10.0.2.5:443 allowed (approved-only)" host tcp $PE4 443
expect_denied  "private endpoint: host -> 10.0.2.5:80 denied (not its port)" host tcp $PE4 80
expect_denied  "private endpoint: host -> 10.0.2.5 udp 5000 denied" host udp $PE4 5000
expect_allowed "private endpoint: host -> vnet peer 10.0.1.10:80 allowed (VirtualNetwork)" host tcp $VNET4 80
expect_denied  "private endpoint: host -> internet:443 denied" host tcp $INET4 443


# ---- a deny of protocol "*" with ports covers every protocol with ports: a
# UDP-Lite datagram to port 445 passed it (compiled as tcp and udp only) and
# the next allow let it out, before a review
PP="$PY $LIVE_DIR/protoprobe.py"
PO=$(live_tmp)/protoprobe.out
: >"$PO"
bg peers $PP listen "$PO" 445,446 --icmpv6 >"$PO.ready" 2>&1
if check_apply "apply out-deny445.yaml (deny * port 445, internet outbound)" host "$DATA/out-deny445.yaml" &&
	wait_until 5 grep -q ready "$PO.ready"; then
	for a in $INET4 $INET6; do
		nsx host $PP udplite $a 445
		nsx host $PP udplite $a 446
	done
	wait_until 3 test "$(grep -c '^udplite 446 ' "$PO")" -ge 2
	if [ "$(grep -c '^udplite 446 ' "$PO")" = 2 ] && ! grep -q '^udplite 445 ' "$PO"; then
		ok "deny * port 445: UDP-Lite to internet:445 denied (v4, v6), to :446 let out"
	else
		not_ok "deny * port 445: UDP-Lite to internet:445 denied" "received: $(cat "$PO")"
	fi
	n=$(rule_counter host "user:out:DenyAnySmbOut")
	if [ "${n:-0}" -ge 2 ]; then ok "deny * port 445: its counter counts the UDP-Lite datagrams ($n)"
	else not_ok "deny * port 445: its counter counts the UDP-Lite datagrams" "counter: '$n'"; fi

else
	not_ok "deny * port 445: policy or listener" "$(cat "$PO.ready")"
fi

# Neighbour discovery is accepted before every policy rule: kept to the link
# (hop limit 255, link-local or link multicast destinations) and, to other
# addresses, to the size of a real solicitation or advertisement.  With
# approved-only outbound, a raw socket could send any amount of data to any
# Internet host as ND before a review.
if check_apply "apply out-approved.yaml (nd)" host "$DATA/out-approved.yaml"; then
	expect_allowed "nd: host -> vnet peer tcp 8443 (v6: neighbour discovery works)" host tcp $VNET6 8443
	expect_allowed "nd: host -> Storage.EastUS:443 (v6, on this test link)" host tcp $STORAGE6 443
	checks_wait
	: >"$PO"
	nsx host $PP icmpv6 $INET6 136 255 200	# a 200-byte advertisement
	nsx host $PP icmpv6 $INET6 135 255 200	# a 200-byte solicitation
	nsx host $PP icmpv6 $INET6 136 64 32	# hop limit 64: not ND
	nsx host $PP icmpv6 $INET6 135 255 32	# a real solicitation's size (NUD)
	wait_until 3 grep -q '^icmpv6 135 .* 32$' "$PO"
	if grep -q '^icmpv6 135 .* 32$' "$PO" && ! grep -qE '^icmpv6 13[56] .* 200$' "$PO" &&
		! grep -q '^icmpv6 136 .* 32$' "$PO"; then
		ok "nd: 200-byte ND messages and hop limit 64 to an internet host denied, a 32-byte solicitation let out"
	else
		not_ok "nd: ND to an internet host kept to its size and hop limit" "received: $(cat "$PO")"
	fi
fi

live_finish
