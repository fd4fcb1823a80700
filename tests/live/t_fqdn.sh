#!/bin/bash
# Live: FQDN outbound rules (issue 7) under the real kernel, a real DNS server
# (dnsmasq in the "peers" namespace) and real traffic.
#   - exact names: resolved by filterd (c-ares), allowed; other addresses denied
#   - a record change is followed within its TTL; the old address expires
#   - wildcard names: open only after the host itself resolved one
#   - an answer from a resolver that is not configured opens nothing
#   - a name with hundreds of addresses is capped, with a log line
#   - the capture of the DNS exchange + connections replays to the same verdicts
. "$(dirname "$0")/lib.sh"
live_init t_fqdn
for t in dnsmasq tcpdump dig; do
	command -v $t >/dev/null 2>&1 || { echo "skip - t_fqdn: $t not found"; exit 0; }
done
FILTERD=$O/filterd
REPLAY=$O/pcap-replay
T=$(live_tmp)
DNS1=10.0.1.53      # the configured resolver
DNS2=10.0.1.54      # another DNS server: never trusted
APP1=203.0.113.51 APP2=203.0.113.52 BLOB=203.0.113.60 EVIL=203.0.113.66 OTHER=203.0.113.70

wait_until() {
	local n i
	n=$(awk "BEGIN { print int($1 * 20) }")
	shift
	for ((i = 0; i <= n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
ctl() { FILTERD_SOCKET="$T/sock" "$FILTERCTL" "$@"; }
in_set() { nsx host nft list set inet filterd "$1" 2>/dev/null | grep -qF "$2"; }
_etc_ns=
cleanup_fqdn() { [ -n "$_etc_ns" ] && rm -rf "$_etc_ns"; live_cleanup; }
trap cleanup_fqdn EXIT
trap 'cleanup_fqdn; exit 130' INT
trap 'cleanup_fqdn; exit 143' TERM

topo_setup || { not_ok "t_fqdn: topology"; live_finish; }
for a in $DNS1 $DNS2 10.0.1.55; do ip -n "$(ns_name peers)" addr add $a/32 dev eth0; done
for a in $APP1 $APP2 $BLOB $EVIL $OTHER; do ip -n "$(ns_name peers)" addr add $a/32 dev eth0; done

# dnsmasq: only the records of these files, TTL 2 s
cat >"$T/hosts1" <<H
$APP1 app.test.example
$BLOB acct1.blob.test.example
H
{
	for i in $(seq 1 254); do echo "198.51.100.$i many.test.example"; done
	for i in $(seq 1 254); do echo "192.0.2.$i many.test.example"; done
} >"$T/hosts-many"
cat >"$T/hosts2" <<H
$EVIL app.test.example
$EVIL acct2.blob.test.example
H
dnsmasq_start() { # ADDR HOSTSFILE... : runs dnsmasq on ADDR:53 in peers
	local addr=$1 f args=()
	shift
	for f in "$@"; do args+=(--addn-hosts="$f"); done
	bg peers dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
		"${args[@]}" --local-ttl=2 --port=53 --listen-address="$addr" --bind-interfaces \
		--pid-file="$T/dnsmasq.$addr.pid" --user=root --log-facility="$T/dnsmasq.$addr.log"
	wait_until 5 nsx host dig +short +time=1 +tries=1 @"$addr" app.test.example
}
if dnsmasq_start $DNS1 "$T/hosts1" "$T/hosts-many" && dnsmasq_start $DNS2 "$T/hosts2"; then
	ok "dns: dnsmasq answers on $DNS1 and $DNS2"
else
	not_ok "dns: dnsmasq answers on $DNS1 and $DNS2" "$(cat "$T"/dnsmasq.*.log 2>/dev/null | tail -5)"
	live_finish
fi
# resolv.conf of the host namespace (ip netns exec bind-mounts it)
_etc_ns=/etc/netns/$(ns_name host)
mkdir -p "$_etc_ns"
echo "nameserver $DNS1" >"$_etc_ns/resolv.conf"

cat >"$T/policy.yaml" <<Y
version: 1
workspace: live-fqdn
virtual_network:
  address_space: [10.0.0.0/16, "fd00:10::/48"]
managed_network:
  isolation_mode: allow_only_approved_outbound
  outbound_rules:
    - name: app
      type: fqdn
      destination: app.test.example
    - name: blob
      type: fqdn
      destination: "*.blob.test.example"
    - name: many
      type: fqdn
      destination: many.test.example
Y

# capture everything the host sees during the test, for the offline replay
nsx host tcpdump -i eth0 -U -n -s 0 -w "$T/fqdn.pcap" 'port 53 or port 443' >"$T/tcpdump.log" 2>&1 &
_live_pids+=($!)
wait_until 5 grep -q listening "$T/tcpdump.log"

nsx host "$FILTERD" --policy "$T/policy.yaml" --tags "$TAGS" --state-dir "$T/state" \
	--socket "$T/sock" --set audit_log="$T/audit.log" --set dns_servers=$DNS1 \
	--set fqdn_ttl_min=2 --set fqdn_max_addresses=50 >"$T/log" 2>&1 &
_live_pids+=($!)
if wait_until 10 ctl status && nft_table host >/dev/null; then ok "start: filterd with FQDN rules"
else not_ok "start: filterd with FQDN rules" "$(tail -20 "$T/log")"; live_finish; fi

if nsx host nft list chain inet filterd input 2>&1 | tr '\n' ' ' | grep -Eq "dns_resolvers_v4.*(queue|NFQUEUE)"; then ok "ruleset: DNS answers from the resolver are queued"
else not_ok "ruleset: DNS answers from the resolver are queued" "$(nsx host nft list chain inet filterd input 2>&1 | head -8)"; fi

# 1. exact name, resolved by filterd
if wait_until 5 in_set fqdn_app_v4 $APP1; then ok "exact: $APP1 learned for app.test.example"
else not_ok "exact: $APP1 learned for app.test.example" "$(tail -20 "$T/log")"; fi
expect_allowed "exact: tcp 443 to app.test.example ($APP1) allowed" host tcp $APP1 443
expect_denied "exact: tcp 443 to an address no answer gave ($OTHER) denied" host tcp $OTHER 443
checks_wait

# 2. record change: followed within the TTL, the old address expires
sed -i "s/^$APP1 app/$APP2 app/" "$T/hosts1"
kill -HUP "$(cat "$T/dnsmasq.$DNS1.pid")"
if wait_until 6 in_set fqdn_app_v4 $APP2; then ok "change: new address $APP2 learned"
else not_ok "change: new address $APP2 learned" "$(grep fqdn "$T/log" | tail -5)"; fi
if wait_until 8 sh -c "! ip netns exec $(ns_name host) nft list set inet filterd fqdn_app_v4 | grep -qF $APP1"; then
	ok "change: old address $APP1 expired"
else not_ok "change: old address $APP1 expired" "$(nsx host nft list set inet filterd fqdn_app_v4)"; fi
expect_allowed "change: tcp 443 to $APP2 allowed" host tcp $APP2 443
expect_denied "change: tcp 443 to $APP1 denied after expiry" host tcp $APP1 443
checks_wait

# 3. wildcard: closed until the host resolves a name below it
expect_denied "wildcard: $BLOB denied before the host resolved it" host tcp $BLOB 443
checks_wait
got=$(nsx host getent hosts acct1.blob.test.example | awk '{print $1}')
if [ "$got" = "$BLOB" ] && in_set fqdn_blob_v4 $BLOB; then
	ok "wildcard: host resolved acct1.blob.test.example; $BLOB in the set before the answer reached the application"
else not_ok "wildcard: host resolved acct1.blob.test.example" "getent: $got" "$(grep fqdn "$T/log" | tail -5)"; fi
expect_allowed "wildcard: tcp 443 to $BLOB allowed after resolution" host tcp $BLOB 443
checks_wait

# 4. forged / foreign answers open nothing
nsx host dig +short +time=1 +tries=1 @$DNS2 acct2.blob.test.example >/dev/null
nsx host dig +short +time=1 +tries=1 @$DNS2 app.test.example >/dev/null
sleep 0.3
if in_set fqdn_blob_v4 $EVIL || in_set fqdn_app_v4 $EVIL; then
	not_ok "foreign: answers from $DNS2 not learned" "$(nsx host nft list set inet filterd fqdn_blob_v4)"
else ok "foreign: answers from $DNS2 (not configured) not learned"; fi
# a crafted answer from another address (10.0.1.55, port 53) to the host's ports
nsx peers "$PY" - "$HOST4" <<'PYEOF'
import socket, struct, sys
q = b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
name = b"".join(bytes([len(l)]) + l.encode() for l in "evil.blob.test.example".split(".")) + b"\x00"
msg = q + name + b"\x00\x01\x00\x01" + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04" + socket.inet_aton("203.0.113.66")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.1.55", 53))
for port in (5000, 5001, 33333):
    s.sendto(msg, (sys.argv[1], port))
PYEOF
sleep 0.3
if in_set fqdn_blob_v4 $EVIL; then not_ok "forged: crafted answer from 10.0.1.55 opens nothing"
else ok "forged: crafted answer from 10.0.1.55 opens nothing"; fi
expect_denied "forged: tcp 443 to $EVIL denied" host tcp $EVIL 443
checks_wait

# 5. a name with hundreds of addresses: capped at fqdn_max_addresses, logged
if wait_until 8 grep -q "event=fqdn-capped set=fqdn_many_v4" "$T/log"; then
	ok "cap: many.test.example capped with a log line"
else not_ok "cap: many.test.example capped with a log line" "$(grep -i "many\|fqdn" "$T/log" | tail -5)"; fi
# the batches sent for the set never hold more than the cap
n=$(grep -o "event=fqdn-learned set=fqdn_many_v4 .* count=[0-9]*" "$T/log" | sed 's/.*count=//' | sort -n | tail -1)
if [ "${n:-0}" -gt 0 ] && [ "$n" -le 50 ]; then ok "cap: fqdn_many_v4 was given $n <= 50 addresses"
else not_ok "cap: fqdn_many_v4 was given at most 50 addresses" "got ${n:-?}" "$(grep many "$T/log" | tail -3)"; fi

# 6. status shows names and addresses
if ctl status --json >"$T/status.json" && grep -q "acct1\|$BLOB" "$T/status.json" && grep -q '"expires_in"' "$T/status.json"; then
	ok "status: FQDN sets with addresses and expiry"
else not_ok "status: FQDN sets with addresses and expiry" "$(head -c 2000 "$T/status.json")"; fi

# 7. offline: the capture replays to the same verdicts
sleep 0.5
kill "$(pgrep -f "tcpdump -i eth0 -U -n -s 0 -w $T/fqdn.pcap" | head -1)" 2>/dev/null
sleep 0.5
cat >"$T/expect.txt" <<E
allow out tcp to $APP2 port 443
allow out tcp to $BLOB port 443
deny  out tcp to $OTHER port 443
deny  out tcp to $EVIL port 443
E
if [ -x "$REPLAY" ] && "$REPLAY" --help 2>&1 | grep -q -- --resolver; then
	if out=$("$REPLAY" --policy "$T/policy.yaml" --tags "$TAGS" --resolver $DNS1 \
		--expect "$T/expect.txt" "$T/fqdn.pcap" 2>&1); then
		ok "replay: the capture replays offline to the same verdicts"
	else not_ok "replay: the capture replays offline to the same verdicts" "$out"; fi
else
	skip "replay: the capture replays offline to the same verdicts" "pcap-replay has no --resolver"
fi
live_finish
