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

live_finish
