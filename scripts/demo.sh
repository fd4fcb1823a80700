#!/bin/bash
# make demo: applies examples/policy.yaml to a scratch "pool host" in a network
# namespace, sends real connections from other namespaces (Azure ML service,
# Batch, vnet peer, internet hosts — all documentation addresses), and prints which
# were allowed or denied and by which rule (read from the rule counters).
# Everything it creates is removed on exit.  Needs root; O= names the build dir.
set -u
if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root (network namespaces, nftables): sudo make demo" >&2
	exit 1
fi
for t in ip nft ping python3; do
	command -v $t >/dev/null 2>&1 || { echo "demo: $t not found (make deps)" >&2; exit 1; }
done
LIVE_PREFIX=fdemo$$
. "$(dirname "$0")/../tests/live/lib.sh"
if [ ! -x "$FILTERCTL" ]; then
	echo "demo: $FILTERCTL not built (make O=${O#$ROOT/} all)" >&2
	exit 1
fi
live_init demo >/dev/null
POLICY=examples/policy.yaml
cd "$ROOT" || exit 1

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }

bold "== 1. scratch network: namespace 'host' (the pool host) + 'peers' (everyone else)"
topo_setup || { echo "demo: could not build the namespaces" >&2; exit 1; }
cat <<EOF
   host   $HOST4 $HOST6   (vnet 10.0.0.0/16, fd00:10::/48)
   peers  vnet peer $VNET4 / $VNET6, private endpoint $PE4,
          AzureMachineLearning $AML4 / $AML6, BatchNodeManagement $BATCH4,
          Storage.EastUS $STORAGE4, internet $INET4 / $INET6, partner-api $PARTNER4
   (documentation addresses of examples/servicetags.json; nothing leaves the namespaces)

EOF

bold "== 2. filterctl apply $POLICY --tags examples/servicetags.json   (in 'host')"
if ! nsx host "$FILTERCTL" apply "$POLICY" --tags "$TAGS"; then
	echo "demo: filterctl apply failed" >&2
	exit 1
fi
echo

bold "== 3. nft list table inet filterd   (in 'host')"
nft_table host
echo

# counters HANDLE -> "packets comment" of every counted rule, one per line
counters() {
	nft_table host -a | sed -n 's/.*counter packets \([0-9]*\) bytes [0-9]*.*comment "\([^"]*\)".*# handle \([0-9]*\)$/\3 \1 \2/p'
}
# deciding rules: those whose counter moved, minus the plumbing (gotos between
# chains, return traffic of established connections, and the neighbour
# discovery and MLD reports the hosts send in the background, which moved
# beside IPv4 flows)
moved() {
	awk 'NR == FNR { before[$1] = $2; next }
	     $2 != before[$1] { print $3 }' "$1" "$2" |
		grep -Ev '^internal:|:established$|^platform:(in|out):icmpv6-(nd|nd-unicast|mld)$' | awk '!seen[$0]++' | paste -sd' ' - | sed 's/ / -> /g'
}

T=$(live_tmp)
rows=()
n_ok=0 n_all=0
flow() { # DESCRIPTION EXPECT FROMNS PROTO ADDR PORT [SRC]
	local desc=$1 want=$2 got rules mark to=$LIVE_TIMEOUT
	shift 2
	[ "$want" = allowed ] && to=$LIVE_TIMEOUT_ALLOWED
	counters >"$T/c0"
	got=$(result_of "$1" "$2" "$3" "$4" "${5:-}" "$to")
	sleep 0.05
	counters >"$T/c1"
	rules=$(moved "$T/c0" "$T/c1")
	n_all=$((n_all + 1))
	if [ "$got" = "$want" ]; then mark="as expected"; n_ok=$((n_ok + 1)); else mark="UNEXPECTED (wanted $want)"; fi
	got=$(echo "$got" | tr a-z A-Z)
	printf '  %-52s %-8s %s\n' "$desc" "$got" "${rules:--}"
	[ "$mark" = "as expected" ] || printf '  %-52s %s\n' "" "$mark"
}

bold "== 4. real connections (tcp connect / udp request-response / ping, 1 s timeout)"
printf '  %-52s %-8s %s\n' "flow" "verdict" "rule(s) that decided (counters)"
printf '  %-52s %-8s %s\n' "----" "-------" "-------------------------------"
flow "AzureMachineLearning $AML4 -> host tcp 44224" allowed peers tcp $HOST4 44224 $AML4
flow "AzureMachineLearning $AML6 -> host tcp 44224" allowed peers tcp $HOST6 44224 $AML6
flow "BatchNodeManagement $BATCH4 -> host tcp 29876" allowed peers tcp $HOST4 29876 $BATCH4
flow "internet $INET4 -> host tcp 44224" denied peers tcp $HOST4 44224 $INET4
flow "internet $INET4 -> host tcp 22" denied peers tcp $HOST4 22 $INET4
flow "vnet peer $VNET4 -> host tcp 8080" allowed peers tcp $HOST4 8080 $VNET4
flow "vnet peer $VNET4 -> host ping" allowed peers icmp $HOST4 - $VNET4
flow "internet $INET6 -> host ping" denied peers icmp $HOST6 - $INET6
flow "host -> Storage.EastUS $STORAGE4 tcp 443" allowed host tcp $STORAGE4 443
flow "host -> Storage.EastUS $STORAGE4 tcp 80" denied host tcp $STORAGE4 80
flow "host -> internet $INET4 tcp 80" denied host tcp $INET4 80
flow "host -> partner-api $PARTNER4 tcp 443" allowed host tcp $PARTNER4 443
flow "host -> partner-api $PARTNER4 tcp 445 (SMB)" denied host tcp $PARTNER4 445
flow "host -> private endpoint $PE4 tcp 443" allowed host tcp $PE4 443
flow "host -> AzureMachineLearning $AML4 udp 5831" allowed host udp $AML4 5831
echo
bold "== $n_ok of $n_all flows as the policy says; cleaning up (namespaces $LIVE_PREFIX-*)"
live_cleanup
[ "$n_ok" -eq "$n_all" ]
