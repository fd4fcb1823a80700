#!/bin/bash
# Live: FQDN outbound rules (issue 7) under the real kernel, a real DNS server
# (dnsmasq in the "peers" namespace) and real traffic.
#   - exact names: resolved by filterd (c-ares), allowed; other addresses denied
#   - a record change is followed within its TTL; the old address expires
#   - wildcard names: open only after the host itself resolved one
#   - an answer from a resolver that is not configured opens nothing
#   - a name with hundreds of addresses is capped, with a log line
#   - an answer over TCP split across segments (the host advertises a small
#     MSS to the resolver) is reassembled and learned from
#   - the capture of the DNS exchange + connections (SYNs the output chain
#     dropped merged in from NFLOG) replays offline to the kernel's verdicts:
#     --policy --resolver, --fqdn-map, --ruleset (filterctl dump) and --from-kernel
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
TCPA=203.0.113.100 TCPZ=203.0.113.139   # first and last of x.tcp.test.example's 40 records

ctl() { FILTERD_SOCKET="$T/sock" "$FILTERCTL" "$@"; }
in_set() { nsx host nft list set inet filterd "$1" 2>/dev/null | grep -qF "$2"; }
_etc_ns=
cleanup_fqdn() { [ -n "$_etc_ns" ] && rm -rf "$_etc_ns"; live_cleanup; }
trap cleanup_fqdn EXIT
trap 'cleanup_fqdn; exit 130' INT
trap 'cleanup_fqdn; exit 143' TERM

topo_setup || { not_ok "t_fqdn: topology"; live_finish; }
for a in $DNS1 $DNS2 10.0.1.55; do ip -n "$(ns_name peers)" addr add $a/32 dev eth0; done
for a in $APP1 $APP2 $BLOB $EVIL $OTHER $TCPA; do ip -n "$(ns_name peers)" addr add $a/32 dev eth0; done

# dnsmasq: only the records of these files, TTL 2 s
cat >"$T/hosts1" <<H
$APP1 app.test.example
$BLOB acct1.blob.test.example
H
{
	for i in $(seq 1 254); do echo "198.51.100.$i many.test.example"; done
	for i in $(seq 1 254); do echo "192.0.2.$i many.test.example"; done
} >"$T/hosts-many"
for i in $(seq 100 139); do echo "203.0.113.$i x.tcp.test.example"; done >"$T/hosts-tcp"
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
if dnsmasq_start $DNS1 "$T/hosts1" "$T/hosts-many" "$T/hosts-tcp" && dnsmasq_start $DNS2 "$T/hosts2"; then
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
    - name: tcpdns
      type: fqdn
      destination: "*.tcp.test.example"
Y

# capture everything the host sees during the test, for the offline replay
# (--immediate-mode: a packet reaches the file at once; libpcap's default
# buffering kept the last second's packets in a ring block that the kill
# below lost -- the TCP-learned connection went missing from a CI run).
# A SYN the output chain drops never reaches eth0: the host's outgoing SYNs
# are also logged before any filter (output priority -300, NFLOG group 7) and
# the ones eth0 never saw are merged into the capture (merge_syns below).
nsx host tcpdump --immediate-mode -i eth0 -U -n -s 0 -w "$T/fqdn.pcap" 'port 53 or port 443' >"$T/tcpdump.log" 2>&1 &
_live_pids+=($!)
nsx host nft -f - <<N
table inet fqcap {
	chain out {
		type filter hook output priority -300; policy accept;
		tcp dport 443 tcp flags & (syn | ack) == syn log group 7
	}
}
N
nsx host tcpdump --immediate-mode -i nflog:7 -U -n -s 0 -w "$T/syn.pcap" >"$T/tcpdump-nflog.log" 2>&1 &
_live_pids+=($!)
wait_until 5 grep -q listening "$T/tcpdump.log"
wait_until 5 grep -q listening "$T/tcpdump-nflog.log"

nsx host "$FILTERD" --policy "$T/policy.yaml" --tags "$TAGS" --state-dir "$T/state" \
	--socket "$T/sock" --set audit_log="$T/audit.log" --set dns_servers=$DNS1 \
	--set fqdn_ttl_min=2 --set fqdn_max_addresses=50 >"$T/log" 2>&1 &
_live_pids+=($!)
if wait_until 10 ctl status && nft_table host >/dev/null; then ok "start: filterd with FQDN rules"
else not_ok "start: filterd with FQDN rules" "$(tail -20 "$T/log")"; live_finish; fi

# How answers are queued was asked of the kernel (a probe batch): the xt
# NFQUEUE target exactly when this kernel lacks the nf_tables queue
# expression, and the probe's scratch table is gone.
want_xt=unknown
if [ -r /proc/config.gz ]; then
	if gzip -dc /proc/config.gz | grep -q "^# CONFIG_NFT_QUEUE is not set"; then want_xt=yes; else want_xt=no; fi
fi
got_xt=$(grep -q "event=fqdn-queue-mode mode=xt" "$T/log" && echo yes || echo no)
if nsx host nft list tables 2>/dev/null | grep -q filterd-probe; then
	not_ok "queue mode: probed" "a filterd-probe table was left: $(nsx host nft list tables 2>&1)"
elif [ "$want_xt" = unknown ]; then
	skip "queue mode: probed" "no /proc/config.gz to compare the probe with (xt: $got_xt)"
elif [ "$want_xt" = "$got_xt" ]; then
	ok "queue mode: the probe chose the xt target: $got_xt, as CONFIG_NFT_QUEUE says; no probe table left"
else
	not_ok "queue mode: probed" "xt: $got_xt, /proc/config.gz says $want_xt" "$(grep -i queue "$T/log" | head -5)"
fi

if nsx host nft list chain inet filterd input 2>&1 | tr '\n' ' ' | grep -Eq "dns_resolvers_v4.*(queue|NFQUEUE)"; then ok "ruleset: DNS answers from the resolver are queued"
else not_ok "ruleset: DNS answers from the resolver are queued" "$(nsx host nft list chain inet filterd input 2>&1 | head -8)"; fi
# verify compiles the policy in force afresh: with the same DNS queue rule
if out=$(ctl verify 2>&1); then ok "verify: the table in force is the policy's, FQDN queue rule included"
else not_ok "verify: the table in force is the policy's, FQDN queue rule included" "$out"; fi

# 1. exact name, resolved by filterd
if wait_until 5 in_set fqdn_app_v4 $APP1; then ok "exact: $APP1 learned for app.test.example"
else not_ok "exact: $APP1 learned for app.test.example" "$(tail -20 "$T/log")"; fi
expect_allowed "exact: tcp 443 to app.test.example ($APP1) allowed" host tcp $APP1 443
expect_denied "exact: tcp 443 to an address no answer gave ($OTHER) denied" host tcp $OTHER 443
checks_wait
# an unchanged reload keeps the learned addresses and does not log the
# compiler's "the sets start empty" note again (it did on every reload)
nnotes=$(grep -c "start empty" "$T/log")
nunch=$(grep -c "event=unchanged" "$T/log")
ctl reload >/dev/null 2>&1
if wait_until 5 sh -c "[ \$(grep -c event=unchanged '$T/log') -gt $nunch ]" &&
	[ "$(grep -c "start empty" "$T/log")" = "$nnotes" ] && in_set fqdn_app_v4 $APP1; then
	ok "reload: unchanged, learned $APP1 kept, no 'sets start empty' note again"
else
	not_ok "reload: unchanged, learned $APP1 kept, no 'sets start empty' note again" "$(tail -5 "$T/log")"
fi

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
# The denied SYN reaches the capture through NFLOG, whose frames tcpdump stamps
# when it reads them (locally generated packets carry no kernel timestamp): on a
# loaded machine that can be after the DNS answer that follows.  Keep the two
# apart so the merged capture has them in the order they happened.
sleep 1.5
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
# Answers from the configured resolver's own address and port, to the port
# of a query the host really sent (so conntrack takes them as its reply,
# established), but answering another query: a wrong DNS ID, and the right ID
# with another question (a name below the listed *.blob.test.example).  Both
# were learned from before filterd matched answers to the host's queries (its
# chain dns_queries queues them): someone who can send from the resolver's
# address and guess the port opened a listed name to any address.  The
# resolver (dnsmasq, bound to $DNS1:53) answers the real query as well; the
# forgeries are written with a raw socket in the resolver's namespace.
qport=$(nsx host "$PY" - "$DNS1" "$HOST4" <<'PYEOF'
import socket, struct, sys
res, host = sys.argv[1], sys.argv[2]
name = b"".join(bytes([len(l)]) + l.encode() for l in "app.test.example".split(".")) + b"\x00"
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((host, 0))
u.sendto(struct.pack("!6H", 0x5151, 0x0100, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01", (res, 53))
print(u.getsockname()[1])
PYEOF
)
nsx peers "$PY" - "$DNS1" "$HOST4" "$qport" "$EVIL" <<'PYEOF'
import socket, struct, sys
res, host, port, evil = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\x00"
def answer(qid, qname):
    return struct.pack("!6H", qid, 0x8180, 1, 1, 0, 0) + name(qname) + b"\x00\x01\x00\x01" + \
        b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(evil)
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for qid, qname in ((0x5152, "app.test.example"), (0x5151, "evil.blob.test.example")):
    ans = answer(qid, qname)
    udp = struct.pack("!4H", 53, port, 8 + len(ans), 0) + ans
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     socket.inet_aton(res), socket.inet_aton(host))
    r.sendto(ip + udp, (host, 0))
PYEOF
sleep 0.3
if in_set fqdn_blob_v4 $EVIL; then not_ok "forged: crafted answer from 10.0.1.55 opens nothing"
else ok "forged: crafted answer from 10.0.1.55 opens nothing"; fi
if [ -n "$qport" ] && ! in_set fqdn_app_v4 $EVIL && ! in_set fqdn_blob_v4 $EVIL &&
   grep -q "event=fqdn-unasked-answer from=$DNS1 " "$T/log"; then
	ok "forged: answers from $DNS1:53 to the host's query port that answer no query it sent (DNS ID, question) open nothing, logged"
else
	not_ok "forged: answers from $DNS1:53 that answer no query the host sent open nothing" \
		"query port: $qport" "$(nsx host nft list set inet filterd fqdn_app_v4 2>&1 | tail -4)" \
		"$(grep "fqdn-learned.*$EVIL\|fqdn-unasked" "$T/log" | tail -4)"
fi
# The same over TCP: the host opens a connection to the resolver's port 53
# (dnsmasq accepts it) and asks nothing yet; from the resolver's namespace an
# answer for app.test.example -> $EVIL is written into that stream with a raw
# socket, at the sequence number the resolver's SYN/ACK began (read off eth0),
# so conntrack and the host's TCP take it as the resolver's first bytes.  It
# was learned from before filterd read the host's own stream for its queries.
sleep 1	# event=fqdn-unasked-answer is logged at most once a second
rm -f "$T/tcpforge.ready" "$T/tcpforge.out"
nsx peers "$PY" - "$DNS1" "$HOST4" "$EVIL" "$T/tcpforge.ready" "$ROOT/tests/live/agree" \
	>"$T/tcpforge.out" 2>&1 <<'PYEOF' &
import socket, struct, sys, time
res, host, evil, ready = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
sys.path.insert(0, sys.argv[5])
from gen import csum
# ETH_P_ALL: a socket bound to one protocol does not see outgoing frames
sn = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
sn.bind(("eth0", 3))
sn.settimeout(1)
open(ready, "w").close()
end = time.time() + 8
while True:
    if time.time() > end:
        sys.exit("no SYN/ACK from %s:53 to %s seen" % (res, host))
    try:
        f = sn.recv(2048)
    except socket.timeout:
        continue
    ip = f[14:]
    if f[12:14] != b"\x08\x00" or len(ip) < 40 or ip[0] >> 4 != 4 or ip[9] != 6 or ip[12:16] != socket.inet_aton(res) or \
       ip[16:20] != socket.inet_aton(host):
        continue
    th = ip[(ip[0] & 15) * 4:]
    sport, dport, seq, ack = struct.unpack("!HHII", th[:12])
    if sport == 53 and (th[13] & 0x12) == 0x12:
        break
name = b"".join(bytes([len(l)]) + l.encode() for l in "app.test.example".split(".")) + b"\0"
ans = struct.pack("!6H", 0x6363, 0x8180, 1, 1, 0, 0) + name + b"\x00\x01\x00\x01" + \
    b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(evil)
data = struct.pack("!H", len(ans)) + ans
tcp = struct.pack("!HHIIBBHHH", 53, dport, seq + 1, ack, 0x50, 0x18, 65535, 0, 0) + data
ph = socket.inet_aton(res) + socket.inet_aton(host) + struct.pack("!BBH", 0, 6, len(tcp))
tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                 socket.inet_aton(res), socket.inet_aton(host))
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
r.sendto(ip + tcp, (host, 0))
print("forged port", dport)
PYEOF
forger=$!
wait_until 5 test -e "$T/tcpforge.ready"
nsx host "$PY" - "$DNS1" "$HOST4" <<'PYEOF' >"$T/tcpforge.client" 2>&1
import socket, sys, time
c = socket.create_connection((sys.argv[1], 53), timeout=3, source_address=(sys.argv[2], 0))
c.settimeout(2)
try:
    print("client read", len(c.recv(512)), "bytes")
except Exception as e:
    print("client read nothing:", e)
time.sleep(0.3)
c.close()
PYEOF
wait "$forger"
sleep 0.3
if grep -q "forged port" "$T/tcpforge.out" && ! in_set fqdn_app_v4 $EVIL &&
   grep -q "event=fqdn-unasked-answer from=$DNS1 proto=tcp .*qname=\"app.test.example\"" "$T/log"; then
	ok "forged: an answer written into the host's TCP stream to $DNS1:53 before it asked anything opens nothing, logged"
else
	not_ok "forged: an answer in the host's TCP stream that answers no query it sent opens nothing" \
		"$(cat "$T/tcpforge.out" "$T/tcpforge.client")" \
		"$(nsx host nft list set inet filterd fqdn_app_v4 2>&1 | tail -4)" \
		"$(grep "fqdn-learned.*$EVIL\|fqdn-unasked\|fqdn-tcp" "$T/log" | tail -4)"
fi
expect_denied "forged: tcp 443 to $EVIL denied" host tcp $EVIL 443
checks_wait
# a process on the host with a raw socket (CAP_NET_RAW: root, or a container
# sharing the host's network) asks the configured resolver itself, then
# forges its answer (source $DNS1:53, over lo): the answer matched the
# conntrack entry of its own query and was learned, before a review
nsx host "$PY" - "$DNS1" "$HOST4" <<'PYEOF'
import socket, struct, sys
res, host = sys.argv[1], sys.argv[2]
name = b"".join(bytes([len(l)]) + l.encode() for l in "app.test.example".split(".")) + b"\x00"
q = struct.pack("!6H", 0x4242, 0x0100, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01"
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((host, 0))
u.sendto(q, (res, 53))
sport = u.getsockname()[1]
ans = struct.pack("!6H", 0x4242, 0x8180, 1, 1, 0, 0) + name + b"\x00\x01\x00\x01" + \
    b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton("203.0.113.66")
udp = struct.pack("!4H", 53, sport, 8 + len(ans), 0) + ans
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 socket.inet_aton(res), socket.inet_aton(host))
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
r.sendto(ip + udp, (host, 0))
PYEOF
sleep 0.5
if in_set fqdn_app_v4 $EVIL; then
	not_ok "forged: an answer forged on the host (raw socket, over lo) opens nothing" \
		"$(grep "fqdn-learned.*$EVIL" "$T/log" | tail -2)"
else ok "forged: an answer forged on the host (raw socket, over lo) opens nothing"; fi
if nsx host nft list chain inet filterd input 2>/dev/null | grep -q 'iifname != "lo" .*@dns_resolvers_v4'; then
	ok "ruleset: the DNS queue rule takes no answer from lo (the resolver is not on this host)"
else not_ok "ruleset: the DNS queue rule takes no answer from lo" "$(nsx host nft list chain inet filterd input 2>&1 | head -12)"; fi

# 5. a name with hundreds of addresses: capped at fqdn_max_addresses, logged
if wait_until 8 grep -q "event=fqdn-capped set=fqdn_many_v4" "$T/log"; then
	ok "cap: many.test.example capped with a log line"
else not_ok "cap: many.test.example capped with a log line" "$(grep -i "many\|fqdn" "$T/log" | tail -5)"; fi
# the batches sent for the set never hold more than the cap
n=$(grep -o "event=fqdn-learned set=fqdn_many_v4 .* count=[0-9]*" "$T/log" | sed 's/.*count=//' | sort -n | tail -1)
if [ "${n:-0}" -gt 0 ] && [ "$n" -le 50 ]; then ok "cap: fqdn_many_v4 was given $n <= 50 addresses"
else not_ok "cap: fqdn_many_v4 was given at most 50 addresses" "got ${n:-?}" "$(grep many "$T/log" | tail -3)"; fi

# 5b. an answer over TCP larger than a segment: the host advertises an MSS of
# 200 to the resolver, so dnsmasq's 40-record answer (about 700 bytes) comes
# in several segments; filterd reassembles the stream and learns every address,
# the last record's included, before the segment that completes it goes on
ip -n "$(ns_name host)" route add $DNS1/32 dev eth0 advmss 200
got=$(nsx host dig +tcp +short +time=2 +tries=1 @$DNS1 x.tcp.test.example | sort -V | tr '\n' ' ')
if [ "$(wc -w <<<"$got")" -eq 40 ] && in_set fqdn_tcpdns_v4 $TCPA && in_set fqdn_tcpdns_v4 $TCPZ &&
   ! grep -q "event=fqdn-tcp-gap" "$T/log"; then
	ok "tcp: a 40-record answer over TCP in several segments: first and last address learned"
else not_ok "tcp: a 40-record answer over TCP learned" "dig: $got" \
	"$(nsx host nft list set inet filterd fqdn_tcpdns_v4 2>&1 | tail -5)" "$(grep fqdn "$T/log" | tail -5)"; fi
expect_allowed "tcp: tcp 443 to $TCPA (learned from a TCP answer) allowed" host tcp $TCPA 443
checks_wait
ip -n "$(ns_name host)" route del $DNS1/32 dev eth0 2>/dev/null
if ctl status --json >"$T/status-tcp.json" &&
   "$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["fqdn"]["counters"]; sys.exit(0 if c["tcp_answers"] >= 1 and c["tcp_streams_lost"] == 0 else 1)' "$T/status-tcp.json"; then
	ok "tcp: status counts the answers reassembled from TCP (none lost)"
else not_ok "tcp: status counts TCP answers" "$(grep -o '"counters":{[^}]*}' "$T/status-tcp.json")"; fi

# 6. status shows names and addresses (learned a moment ago: with TTLs of 2 s,
# what an earlier step learned may have expired on a loaded machine)
nsx host getent hosts app.test.example >/dev/null
nsx host getent hosts acct1.blob.test.example >/dev/null
if ctl status --json >"$T/status.json" && grep -q "acct1\|$BLOB" "$T/status.json" && grep -q '"expires_in"' "$T/status.json"; then
	ok "status: FQDN sets with addresses and expiry"
else not_ok "status: FQDN sets with addresses and expiry" "$(head -c 2000 "$T/status.json")"; fi
# the host's queries were recorded (dig's, getent's, filterd's own through
# c-ares), and the three forged answers of step 4 counted as unasked
if "$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["fqdn"]["counters"]; sys.exit(0 if c["queries_recorded"] >= 5 and c["answers_unasked"] >= 3 else 1)' "$T/status.json"; then
	ok "status: queries recorded and answers to no query counted"
else not_ok "status: queries recorded and answers to no query counted" "$(grep -o '"counters": {[^}]*}' "$T/status.json")"; fi
# the text form: a line a set (its addresses, next expiry), a line a resolved name
if ctl status >"$T/status.txt" &&
	grep -Eq "^fqdn +queue [0-9]+, resolvers $DNS1\$" "$T/status.txt" &&
	grep -Eq "^  set fqdn_blob_v4 +\*\.blob\.test\.example +[0-9]+ address(es)?: .*$BLOB.* \(next expiry in [0-9]+ s\)" "$T/status.txt" &&
	grep -Eq "^  name app\.test\.example +asked [0-9]+ times?, next in -?[0-9]+ s" "$T/status.txt" &&
	! grep -q '\[{' "$T/status.txt"; then
	ok "status: the FQDN block as text (sets, names), not raw JSON"
else not_ok "status: the FQDN block as text" "$(grep -A8 '^fqdn' "$T/status.txt")"; fi
# show: the same names and addresses beside the rules
if ctl show >"$T/show.txt" && grep -Eq '^  \*\.blob\.test\.example +fqdn_blob_v4 .*'"$BLOB"' \([0-9]+s\)' "$T/show.txt"; then
	ok "show: FQDN sets with learned addresses and expiry"
else not_ok "show: FQDN sets with learned addresses" "$(tail -12 "$T/show.txt")"; fi
# metrics: per-set address counts and expiry, answers, errors; strict text format
if ctl metrics >"$T/metrics.txt" &&
   grep -Eq '^filterd_fqdn_addresses\{set="fqdn_blob_v4",fqdn="\*\.blob\.test\.example"\} [0-9]+$' "$T/metrics.txt" &&
   grep -Eq '^filterd_fqdn_dns_answers_total [1-9][0-9]*$' "$T/metrics.txt" &&
   grep -Eq '^filterd_fqdn_dns_queries_total [1-9][0-9]*$' "$T/metrics.txt" &&
   grep -Eq '^filterd_fqdn_dns_answers_unasked_total [2-9][0-9]*$|^filterd_fqdn_dns_answers_unasked_total [1-9][0-9]+$' "$T/metrics.txt" &&
   grep -Eq '^filterd_fqdn_addresses_capped_total [1-9][0-9]*$' "$T/metrics.txt" &&
   python3 "$ROOT/tests/tools/promcheck.py" "$T/metrics.txt" >"$T/promcheck.log" 2>&1; then
	ok "metrics: FQDN sets, answers and caps in valid Prometheus text"
else not_ok "metrics: FQDN series" "$(grep -i fqdn "$T/metrics.txt" | head -20)" "$(cat "$T/promcheck.log" 2>/dev/null)"; fi

# 7. offline: the capture replays to the same verdicts.  The host ran with
# fqdn_ttl_min=2 and fqdn_max_addresses=50: the replay is told the same.
# Taken while filterd still runs: a dump of its table (on kernels without
# CONFIG_NFT_QUEUE the queue rule is the xtables NFQUEUE target) whose FQDN
# sets hold timed elements filterd learned.
# fresh timed elements in the FQDN sets for the dump (see step 6)
nsx host getent hosts app.test.example >/dev/null
"$FILTERCTL" dump --netns "$(ns_name host)" --out "$T/live.frs" >"$T/dump.log" 2>&1 || true
sleep 0.5
kill "$(pgrep -f "tcpdump --immediate-mode -i eth0 -U -n -s 0 -w $T/fqdn.pcap" | head -1)" 2>/dev/null
kill "$(pgrep -f "tcpdump --immediate-mode -i nflog:7 -U -n -s 0 -w $T/syn.pcap" | head -1)" 2>/dev/null
sleep 0.5
# merge_syns ETH.pcap NFLOG.pcap OUT.pcap: the SYNs of the NFLOG capture whose
# connection eth0 never saw (dropped by the output chain), in Ethernet frames,
# merged into the eth0 capture by time
merge_syns() {
	"$PY" - "$@" <<'PYEOF'
import struct, sys
def read(path):
    d = open(path, 'rb').read()
    magic, = struct.unpack('<I', d[:4])
    e = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
    link, = struct.unpack(e + 'I', d[20:24])
    o, out = 24, []
    while o + 16 <= len(d):
        s, us, cl, wl = struct.unpack(e + 'IIII', d[o:o + 16])
        out.append((s + us / (1e9 if nano else 1e6), s, us // 1000 if nano else us, d[o + 16:o + 16 + cl]))
        o += 16 + cl
    return link, out
def key(ip):
    if len(ip) < 24 or ip[0] >> 4 != 4 or ip[9] != 6:
        return None
    h = (ip[0] & 15) * 4
    return (ip[12:16], ip[16:20], ip[h:h + 4])
link, eth = read(sys.argv[1])
nlink, nfl = read(sys.argv[2])
assert link == 1 and nlink == 239, (link, nlink)
seen, mac = set(), None
for _, _, _, f in eth:
    if f[12:14] == b'\x08\x00':
        k = key(f[14:])
        if k:
            seen.add(k)
            if mac is None and f[14 + 12:14 + 16] == k[0]:
                mac = f[:12]
add = []
for t, s, us, f in nfl:
    o = 4
    while o + 4 <= len(f):
        ln, ty = struct.unpack('<HH', f[o:o + 4])
        if ln < 4:
            break
        if ty == 9:
            ip = f[o + 4:o + ln]
            k = key(ip)
            if k and k not in seen:
                add.append((t, s, us, (mac or b'\x02' * 12) + b'\x08\x00' + ip))
        o += (ln + 3) & ~3
allp = sorted(eth + add, key=lambda x: x[0])
with open(sys.argv[3], 'wb') as w:
    w.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
    for _, s, us, f in allp:
        w.write(struct.pack('<IIII', s, us, len(f), len(f)) + f)
print(len(add))
PYEOF
}
if nsyn=$(merge_syns "$T/fqdn.pcap" "$T/syn.pcap" "$T/fqdn-all.pcap") && [ "$nsyn" -gt 0 ]; then
	ok "capture: $nsyn SYNs the output chain dropped, from NFLOG, merged into the eth0 capture"
else
	not_ok "capture: SYNs the output chain dropped merged into the capture" "${nsyn:-merge failed}" "$(cat "$T/tcpdump-nflog.log")"
	cp "$T/fqdn.pcap" "$T/fqdn-all.pcap"
fi
# the TCP answer really came in pieces: data segments from $DNS1:53 over TCP
nseg=$(tcpdump -nn -r "$T/fqdn.pcap" "src host $DNS1 and tcp src port 53 and (ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) > 0" 2>/dev/null | wc -l)
if [ "$nseg" -ge 3 ]; then ok "capture: the TCP answer came in $nseg data segments"
else not_ok "capture: the TCP answer came in several data segments" "got $nseg"; fi
# verdicts that do not depend on when: the rest is checked in capture order
cat >"$T/expect.txt" <<E
allow out tcp to $APP2 port 443
deny  out tcp to $OTHER port 443
deny  out tcp to $EVIL port 443
E
FQ_OPTS=(--fqdn-ttl-min 2 --fqdn-max-addresses 50 --local $HOST4,$HOST6)
# the kernel's verdicts for the connections of this test, in order
KSEQ="$APP1:accept $OTHER:drop $APP2:accept $APP1:drop $BLOB:drop $BLOB:accept $EVIL:drop $TCPA:accept"
# replay_check NAME SEQ PYCHECK ARGS...: exit 0 (expectations hold), the
# outgoing tcp/443 flows' verdicts in capture order are SEQ, and the Python
# expression PYCHECK holds on the JSON report (d)
replay_check() {
	local name=$1 want=$2 check=$3 rc seq
	shift 3
	"$REPLAY" "$@" "${FQ_OPTS[@]}" --format json "$T/fqdn-all.pcap" >"$T/replay.json" 2>"$T/replay.err"
	rc=$?
	seq=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join("%s:%s" % (f["dst"], f["verdict"]) for f in d["flows"] if f["dir"] == "out" and f["proto"] == "tcp" and f["dport"] == 443))' "$T/replay.json" 2>&1)
	if [ $rc -eq 0 ] && [ "$seq" = "$want" ] &&
	   "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$T/replay.json" "$check"; then
		ok "$name"
	else
		not_ok "$name" "exit $rc" "replay: $seq" "wanted: $want" "check: $check" "$(cat "$T/replay.err")" \
			"SYNs to port 443 in the capture:" \
			"$(tcpdump -nn -r "$T/fqdn-all.pcap" 'tcp dst port 443 and tcp[13] & 2 != 0' 2>&1 | tail -12)" \
			"$(head -c 1500 "$T/replay.json")"
	fi
}
learned_py="any(l['name'] == 'app.test.example' and '$APP2' in l['addresses'] and l['frame'] > 0 for l in d['fqdn']['learned']) and any(l['name'] == 'acct1.blob.test.example' and '$BLOB' in l['addresses'] for l in d['fqdn']['learned']) and any(l['name'] == 'x.tcp.test.example' and '$TCPZ' in l['addresses'] for l in d['fqdn']['learned']) and d['fqdn']['answers']['tcp_answers'] >= 1 and d['fqdn']['answers']['tcp_streams_lost'] == 0 and d['fqdn']['answers']['queries_matched'] and d['fqdn']['answers']['queries_recorded'] >= 5 and d['fqdn']['answers']['unasked'] >= 3 and not any('$EVIL' in l['addresses'] for l in d['fqdn']['learned'])"
if [ -x "$REPLAY" ] && "$REPLAY" --help 2>&1 | grep -q -- --resolver; then
	replay_check "replay: the capture replays offline to the kernel's verdicts, answers learned from $DNS1" \
		"$KSEQ" "$learned_py" --policy "$T/policy.yaml" --tags "$TAGS" --resolver $DNS1 \
		--require-match --expect "$T/expect.txt"
	if out=$("$REPLAY" --policy "$T/policy.yaml" --tags "$TAGS" --resolver $DNS1 "${FQ_OPTS[@]}" \
		"$T/fqdn-all.pcap" 2>&1) && grep -q "acct1.blob.test.example -> $BLOB .*frame [0-9]" <<<"$out"; then
		ok "replay: the text report lists the names learned (name -> addresses, frame)"
	else not_ok "replay: the text report lists the names learned" "$out"; fi
	# without the resolver nothing is learned from: FQDN destinations denied
	replay_check "replay: without --resolver no answer is learned from: FQDN destinations denied" \
		"$APP1:drop $OTHER:drop $APP2:drop $APP1:drop $BLOB:drop $BLOB:drop $EVIL:drop $TCPA:drop" \
		"not d['fqdn']['learned']" --policy "$T/policy.yaml" --tags "$TAGS"
	# a static map instead of the answers (known from the first packet on)
	cat >"$T/fqdn.map" <<M
# name                 address   [ttl]
app.test.example       $APP2
*.blob.test.example    $BLOB     3600
M
	replay_check "replay: --fqdn-map: the map's addresses allowed, the others denied" \
		"$APP1:drop $OTHER:drop $APP2:accept $APP1:drop $BLOB:accept $BLOB:accept $EVIL:drop $TCPA:drop" \
		"any(l.get('line') == 2 for l in d['fqdn']['learned'])" \
		--policy "$T/policy.yaml" --tags "$TAGS" --fqdn-map "$T/fqdn.map" \
		--require-match --expect "$T/expect.txt"
	# the resolver's UDP answers cut to 70 bytes (a short snap length): counted
	# as cut and warned about -- not "not DNS" -- and what they held is not
	# learned from (the flow to $APP2, opened by a UDP answer, is denied here)
	ncut=$("$PY" - "$T/fqdn-all.pcap" "$T/fqdn-cut.pcap" "$DNS1" <<'PYEOF'
import socket, struct, sys
src = socket.inet_aton(sys.argv[3])
d = open(sys.argv[1], 'rb').read()
out, o, n = [d[:24]], 24, 0
while o + 16 <= len(d):
    s, us, incl, orig = struct.unpack('<IIII', d[o:o + 16])
    f = d[o + 16:o + 16 + incl]
    o += 16 + incl
    if (len(f) > 70 and f[12:14] == b'\x08\x00' and f[14] == 0x45 and f[23] == 17 and
            f[26:30] == src and f[34:36] == b'\x00\x35'):
        f, n = f[:70], n + 1
    out.append(struct.pack('<IIII', s, us, len(f), orig) + f)
open(sys.argv[2], 'wb').write(b''.join(out))
print(n)
PYEOF
)
	"$REPLAY" --policy "$T/policy.yaml" --tags "$TAGS" --resolver $DNS1 "${FQ_OPTS[@]}" --format json \
		"$T/fqdn-cut.pcap" >"$T/cut.json" 2>"$T/cut.err"
	if [ "${ncut:-0}" -gt 0 ] &&
		grep -q "warning: $ncut DNS answers\? from the resolvers cut by the capture's snap length" "$T/cut.err" &&
		"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); a=d["fqdn"]["answers"]; sys.exit(0 if a["cut"] == int(sys.argv[2]) and a["not_dns"] == 0 and not any(f["dst"] == sys.argv[3] and f["verdict"] == "accept" for f in d["flows"]) else 1)' \
			"$T/cut.json" "$ncut" "$APP2"; then
		ok "replay: $ncut DNS answers cut by the snap length are counted as cut and warned about"
	else
		not_ok "replay: DNS answers cut by the snap length are counted as cut and warned about" \
			"cut: ${ncut:-?}" "$(cat "$T/cut.err")" "$(head -c 1500 "$T/cut.json")"
	fi
	printf 'app.test.example\n' >"$T/bad.map"
	out=$("$REPLAY" --policy "$T/policy.yaml" --tags "$TAGS" --fqdn-map "$T/bad.map" "$T/fqdn-all.pcap" 2>&1)
	if [ $? -eq 2 ] && grep -q "bad.map:1:17: error" <<<"$out"; then
		ok "replay: a bad --fqdn-map line is an error with file:line:col (exit 2)"
	else not_ok "replay: a bad --fqdn-map line is an error with file:line:col" "$out"; fi
	# queries are queued only once the output chain let them out: a query
	# to a resolver the policy keeps in (198.51.100.53, on the Internet
	# under approved-only outbound) is dropped there and never reaches the
	# chain dns_queries -- its queue verdict would accept it -- so it is not
	# recorded, and the answer (no conntrack entry: new) teaches nothing
	"$PY" - "$ROOT/tests/live/agree" "$T/qorder.pcap" <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[1])
from cases import Cap, udp, tcp, abytes, _dns, H4
c, net, vn = Cap(), "198.51.100.53", "10.0.1.53"
c.out(c.ip(H4, net, 17, udp(50700, 53, _dns(9, "app.test.example"))))
c.inb(c.ip(net, H4, 17, udp(53, 50700, _dns(9, "app.test.example", [(1, abytes("203.0.113.67"))]))))
c.out(c.ip(H4, "203.0.113.67", 6, tcp(50701, 443, 100, 0, 0x02)))
c.out(c.ip(H4, vn, 17, udp(50702, 53, _dns(10, "app.test.example"))))
c.inb(c.ip(vn, H4, 17, udp(53, 50702, _dns(10, "app.test.example", [(1, abytes("203.0.113.68"))]))))
c.out(c.ip(H4, "203.0.113.68", 6, tcp(50703, 443, 100, 0, 0x02)))
c.write(sys.argv[2])
PYEOF
	printf 'deny out udp to 198.51.100.53 port 53\ndeny in udp from 198.51.100.53 port 53\ndeny out tcp to 203.0.113.67 port 443\nallow out udp to 10.0.1.53 port 53\nallow out tcp to 203.0.113.68 port 443\n' >"$T/qorder.expect"
	"$REPLAY" --policy "$T/policy.yaml" --tags "$TAGS" --resolver $DNS1,198.51.100.53 \
		--local $HOST4 --expect "$T/qorder.expect" --require-all --format json \
		"$T/qorder.pcap" >"$T/qorder.json" 2>"$T/qorder.err"
	rc=$?
	if [ $rc -eq 0 ] && "$PY" -c 'import json,sys; a=json.load(open(sys.argv[1]))["fqdn"]["answers"]; sys.exit(0 if a["queries_recorded"] == 1 and a["unasked"] == 0 and a["queued"] == 1 else 1)' "$T/qorder.json"; then
		ok "replay: a query the output chain drops is not queued (not recorded); the allowed one is, and its answer opens its address"
	else not_ok "replay: a query the output chain drops is not queued" "exit $rc" "$(cat "$T/qorder.err")" \
		"$(grep -o '"answers": {[^}]*}' "$T/qorder.json")"; fi
	# the live table, dumped: the queue rule (xt NFQUEUE target on kernels
	# without CONFIG_NFT_QUEUE) and FQDN sets with the timed elements filterd
	# learned, which the replay ignores (learned from the capture instead)
	if [ ! -s "$T/live.frs" ]; then
		not_ok "replay: filterctl dump of the live table" "$(cat "$T/dump.log")"
	else
		replay_check "replay: --ruleset from filterctl dump of the live table gives the kernel's verdicts" \
			"$KSEQ" "$learned_py and sum(s['dump_elements_ignored'] for s in d['fqdn']['sets']) > 0" \
			--ruleset "$T/live.frs" --require-match --expect "$T/expect.txt"
		if out=$("$REPLAY" --ruleset "$T/live.frs" "${FQ_OPTS[@]}" "$T/fqdn-all.pcap" 2>&1) &&
		   grep -q "fqdn set fqdn_app_v4: [0-9]* elements\? of the dump ignored; learned from the capture instead" <<<"$out"; then
			ok "replay: the report says the dump's FQDN elements were ignored"
		else not_ok "replay: the report says the dump's FQDN elements were ignored" "$out"; fi
	fi
	replay_check "replay: --from-kernel (the live filterd table) gives the kernel's verdicts" \
		"$KSEQ" "$learned_py" --from-kernel --netns "$(ns_name host)" \
		--require-match --expect "$T/expect.txt"
else
	skip "replay: the capture replays offline to the same verdicts" "pcap-replay has no --resolver"
fi
# ---- the default configuration: no dns_servers, the resolvers of
# /etc/resolv.conf (ip netns exec bind-mounts $_etc_ns/resolv.conf, which
# names $DNS1).  A first version probed the kernel's queue support only for
# dns_servers: with the default configuration, on a kernel without the
# nf_tables queue expression, the policy was refused and nothing filtered.
# (the background job is nsx's subshell: the daemon is found by its options)
fq_pid=$(pgrep -f -- "--state-dir $T/state --socket $T/sock ")
[ -n "$fq_pid" ] && kill $fq_pid
wait_until 10 sh -c "! kill -0 ${fq_pid:-0} 2>/dev/null"
sed -i "s/^$APP2 app/$APP1 app/" "$T/hosts1"
kill -HUP "$(cat "$T/dnsmasq.$DNS1.pid")"
nsx host "$FILTERD" --policy "$T/policy.yaml" --tags "$TAGS" --state-dir "$T/state2" \
	--socket "$T/sock2" --set audit_log="$T/audit2.log" --set fqdn_ttl_min=2 >"$T/log2" 2>&1 &
_live_pids+=($!)
if wait_until 10 env FILTERD_SOCKET="$T/sock2" "$FILTERCTL" status &&
   nsx host nft list chain inet filterd input 2>&1 | tr '\n' ' ' | grep -Eq "dns_resolvers_v4.*(queue|NFQUEUE)" &&
   ! grep -q "event=no-policy-in-force\|event=kernel-refused" "$T/log2"; then
	ok "resolv.conf: filterd without dns_servers applies the FQDN policy (answers from $DNS1 queued)"
else
	not_ok "resolv.conf: filterd without dns_servers applies the FQDN policy" "$(grep -v 'event=drop ' "$T/log2" | tail -8)"
fi
if nsx host nft list set inet filterd dns_resolvers_v4 2>/dev/null | grep -qF "$DNS1"; then
	ok "resolv.conf: the resolver set holds $DNS1, from resolv.conf"
else not_ok "resolv.conf: the resolver set holds $DNS1" "$(nsx host nft list set inet filterd dns_resolvers_v4 2>&1)"; fi
if out=$(FILTERD_SOCKET="$T/sock2" "$FILTERCTL" verify 2>&1); then ok "resolv.conf: verify: ok"
else not_ok "resolv.conf: verify" "$out"; fi
if wait_until 8 in_set fqdn_app_v4 $APP1; then ok "resolv.conf: filterd resolved app.test.example through $DNS1 ($APP1 learned)"
else not_ok "resolv.conf: filterd resolved app.test.example through $DNS1" "$(grep fqdn "$T/log2" | tail -5)"; fi
expect_allowed "resolv.conf: tcp 443 to app.test.example ($APP1) allowed" host tcp $APP1 443
checks_wait
# resolv.conf changes (written in place, as resolvconf does; ip netns exec's
# bind mount shows filterd the same inode): filterd recompiles with the
# resolvers it names now -- a first version kept the old ones until a reload
resolvers_are() {	# the resolver set holds $1 and not $2
	local set
	set=$(nsx host nft list set inet filterd dns_resolvers_v4 2>/dev/null)
	grep -qF "$1" <<<"$set" && ! grep -qF "$2" <<<"$set"
}
n0=$(grep -c "event=resolv-conf-changed" "$T/log2")
echo "nameserver $DNS2" >"$_etc_ns/resolv.conf"
if wait_until 10 resolvers_are $DNS2 $DNS1 &&
	[ "$(grep -c "event=resolv-conf-changed" "$T/log2")" -gt "$n0" ] &&
	wait_until 5 grep -q "event=fqdn-resolvers servers=$DNS2 was=$DNS1" "$T/log2" &&
	wait_until 10 grep -q "event=fqdn-learned set=fqdn_app_v4 name=app.test.example source=resolve addresses=$EVIL" "$T/log2"; then
	# (filterd's own resolver follows too: $DNS2 answers app.test.example
	# with $EVIL -- c-ares kept the servers of start-up before)
	ok "resolv.conf: a change is applied (the resolver set holds $DNS2 now, not $DNS1; filterd resolves through it)"
else
	not_ok "resolv.conf: a change is applied" "$(nsx host nft list set inet filterd dns_resolvers_v4 2>&1)" \
		"$(grep -v 'event=drop ' "$T/log2" | tail -5)"
fi
echo "nameserver $DNS1" >"$_etc_ns/resolv.conf"
if wait_until 10 resolvers_are $DNS1 $DNS2 &&
	out=$(FILTERD_SOCKET="$T/sock2" "$FILTERCTL" verify 2>&1) &&
	[ "$(grep -c "event=resolv-conf-changed" "$T/log2")" = $((n0 + 2)) ] &&
	in_set fqdn_app_v4 $APP1 && grep -q "event=fqdn-restored" "$T/log2"; then
	# (a reload of this policy, whose FQDN names were learned, crashed
	# filterd in resync until the resolv.conf watch made one happen here)
	ok "resolv.conf: changed back, applied again (one log line a change, learned addresses put back); verify: ok"
else
	not_ok "resolv.conf: changed back, applied again" "$(nsx host nft list set inet filterd dns_resolvers_v4 2>&1)" "$out" \
		"$(grep -v 'event=drop ' "$T/log2" | tail -8)" "$(grep -A14 'ERROR: AddressSanitizer' "$T/log2")"
fi
# resolv.conf emptied: no resolver, so filterd asks nobody (c-ares would fall
# back to 127.0.0.1, which the table does not trust); then back again
: >"$_etc_ns/resolv.conf"
if wait_until 10 grep -q "event=fqdn-resolvers servers=none was=$DNS1" "$T/log2"; then
	ok "resolv.conf emptied: filterd's own resolver asks nobody (servers=none)"
else not_ok "resolv.conf emptied: servers=none" "$(grep -v 'event=drop ' "$T/log2" | tail -4)"; fi
echo "nameserver $DNS1" >"$_etc_ns/resolv.conf"
if wait_until 10 sh -c "grep 'event=fqdn-resolvers' '$T/log2' | tail -1 | grep -q 'servers=$DNS1\$'" &&
	wait_until 10 in_set fqdn_app_v4 $APP1; then
	ok "resolv.conf filled again: resolved through $DNS1 again"
else not_ok "resolv.conf filled again" "$(grep 'event=fqdn-resolvers' "$T/log2" | tail -3)"; fi

# an FQDN rule that keeps its name and changes its destination: the same set
# names and bytecode, only the sets' comment differs -- such an apply was
# "unchanged", and the kernel's set kept the old name's addresses open
sed 's/destination: app.test.example/destination: acct1.blob.test.example/' "$T/policy.yaml" >"$T/policy-dest.yaml"
cp "$T/policy.yaml" "$T/policy-orig.yaml"
out=$(FILTERD_SOCKET="$T/sock2" "$FILTERCTL" apply "$T/policy-dest.yaml" --daemon 2>&1)
if ! grep -q unchanged <<<"$out" &&
	nsx host nft list set inet filterd fqdn_app_v4 2>/dev/null | grep -q 'comment "fqdn=acct1.blob.test.example"' &&
	! in_set fqdn_app_v4 $APP1 && wait_until 8 in_set fqdn_app_v4 $BLOB; then
	ok "apply: an FQDN rule's new destination is applied (its set serves the new name; the old name's $APP1 gone)"
else
	not_ok "apply: an FQDN rule's new destination is applied" "$out" "$(nsx host nft list set inet filterd fqdn_app_v4 2>&1)"
fi
FILTERD_SOCKET="$T/sock2" "$FILTERCTL" apply "$T/policy-orig.yaml" --daemon >/dev/null 2>&1
cp "$T/policy-orig.yaml" "$T/policy.yaml"
# ---- under the unit's address families (RestrictAddressFamilies= of
# scripts/filterd.service, applied by tests/tools/restrict_af.py as systemd
# would): filterd's own DNS queries need AF_INET/AF_INET6.  A first unit
# allowed only AF_UNIX and AF_NETLINK, and names were never resolved.
unit_af=$(sed -n 's/^RestrictAddressFamilies=//p' "$ROOT/scripts/filterd.service")
af_run() { # LABEL FAMILIES: filterd under FAMILIES; resolves app.test.example?
	local pid
	for pid in $(pgrep -f -- "$FILTERD --policy $T/policy.yaml"); do	# every earlier daemon
		kill "$pid" && wait_until 10 sh -c "! kill -0 $pid 2>/dev/null"
	done
	nsx host "$PY" "$ROOT/tests/tools/restrict_af.py" "$2" -- "$FILTERD" --policy "$T/policy.yaml" \
		--tags "$TAGS" --state-dir "$T/state-$1" --socket "$T/sock-$1" \
		--set audit_log="$T/audit-$1.log" --set dns_servers=$DNS1 --set fqdn_ttl_min=2 >"$T/log-$1" 2>&1 &
	_live_pids+=($!)
	wait_until 10 env FILTERD_SOCKET="$T/sock-$1" "$FILTERCTL" status
}
if [ -z "$unit_af" ]; then
	not_ok "unit families: RestrictAddressFamilies= in scripts/filterd.service" "no such line"
elif ! "$PY" -c 'import ctypes; ctypes.CDLL("libseccomp.so.2")' 2>/dev/null; then
	skip "unit families: filterd resolves names under the unit's address families" "libseccomp.so.2 not found"
else
	# the control: without AF_INET the emulation must make resolving fail
	af_run narrow "AF_UNIX AF_NETLINK"
	if wait_until 8 grep -q "event=fqdn-resolve-empty name=app.test.example" "$T/log-narrow" &&
	   ! in_set fqdn_app_v4 $APP1; then
		ok "unit families: with AF_UNIX AF_NETLINK only, filterd cannot resolve (the emulation bites)"
	else not_ok "unit families: the AF_UNIX AF_NETLINK control" "$(grep fqdn "$T/log-narrow" | tail -3)"; fi
	af_run unit "$unit_af"
	if wait_until 8 in_set fqdn_app_v4 $APP1 && ! grep -q "event=fqdn-resolve-empty" "$T/log-unit"; then
		ok "unit families: under the unit's RestrictAddressFamilies=$unit_af filterd resolves app.test.example"
	else not_ok "unit families: filterd resolves under the unit's families ($unit_af)" "$(grep fqdn "$T/log-unit" | tail -3)"; fi
fi
# ---- a resolver on the host's own address (dnsmasq on the NIC's address)
# answers over lo: a queue rule on lo for that address alone (the rule for
# resolvers elsewhere takes nothing from lo; the first version of that change
# left such a resolver's answers unlearned)
for pid in $(pgrep -f -- "$FILTERD --policy $T/policy.yaml"); do	# every earlier daemon
	kill "$pid" && wait_until 10 sh -c "! kill -0 $pid 2>/dev/null"
done
bg host dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
	--addn-hosts="$T/hosts1" --local-ttl=2 --port=53 --listen-address="$HOST4" --bind-interfaces \
	--pid-file="$T/dnsmasq.host.pid" --user=root --log-facility="$T/dnsmasq.host.log"
wait_until 5 nsx host dig +short +time=1 +tries=1 @"$HOST4" app.test.example
nsx host "$FILTERD" --policy "$T/policy.yaml" --tags "$TAGS" --state-dir "$T/state-lo" \
	--socket "$T/sock-lo" --set audit_log="$T/audit-lo.log" --set dns_servers=$HOST4 \
	--set fqdn_ttl_min=2 >"$T/log-lo" 2>&1 &
_live_pids+=($!)
if wait_until 10 env FILTERD_SOCKET="$T/sock-lo" "$FILTERCTL" status &&
	nsx host nft list chain inet filterd input 2>/dev/null | grep -q "iifname \"lo\" .*ip saddr $HOST4 .*fqdn-dns-local"; then
	nsx host dig +short +time=1 +tries=1 @"$HOST4" acct1.blob.test.example >/dev/null
	if wait_until 5 grep -q "event=fqdn-learned set=fqdn_blob_v4 .*source=answer:$HOST4" "$T/log-lo"; then
		ok "resolver on the host's own address: its answers over lo are learned (a rule on lo for $HOST4 alone)"
	else
		not_ok "resolver on the host's own address: its answers over lo are learned" "$(grep fqdn "$T/log-lo" | tail -4)"
	fi
else
	not_ok "resolver on the host's own address: the queue rule on lo" "$(nsx host nft list chain inet filterd input 2>&1 | head -6)" \
		"$(tail -3 "$T/log-lo")"
fi
live_finish
