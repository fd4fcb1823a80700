#!/bin/bash
# t_pcapng — pcap-replay takes packet direction from pcapng epb_flags (the
# Enhanced Packet Block option libpcap does not expose) before --local, in
# either byte order, and gives the flags up with a warning (never a crash) when
# the file's lengths do not add up.  The captures are written here, by a small
# pcapng writer; addresses are documentation/vnet ones and nothing is sent.
# Prints "ok - NAME", "not ok - NAME" or "skip - NAME: reason" per case.
set -u
cd "$(dirname "$0")/../.." || exit 2
O=${O:-build}
REPLAY=$O/pcap-replay
POLICY=tests/data/replay/policy.yaml
TAGS=examples/servicetags.json
failures=0
tmp=$(mktemp -d /tmp/t_pcapng.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; [ $# -gt 1 ] && printf '    %s\n' "${@:2}"; failures=$((failures + 1)); }
skip() { echo "skip - $1: $2"; }

if [ ! -x "$REPLAY" ]; then
	not_ok "pcap-replay built" "$REPLAY missing: make O=$O all"
	exit 1
fi
if ! command -v python3 >/dev/null; then
	skip "pcapng epb_flags" "python3 not found"
	exit 0
fi

# gen OUT MODE: three TCP SYNs on Ethernet, as a host 10.0.1.4 would capture
# them, with epb_flags saying in / out / in:
#   1  203.0.113.7:40000 -> 10.0.1.4:22     inbound  (DenyInternetSsh)
#   2  10.0.1.4:40001 -> 203.0.113.200:443  outbound (managed partner-api)
#   3  203.0.113.8:40002 -> 10.0.1.4:44224  inbound  (not AzureMachineLearning)
# MODE: le, be (big-endian section), big (le after a 2.5 MiB block of an
# unknown type), noflags (epb_flags absent), lying (the
# second packet's options claim more bytes than its block holds), shortcap
# (the second packet's captured length runs past its block: libpcap refuses).
gen() {
	python3 - "$1" "$2" <<'EOF'
import struct, sys
out, mode = sys.argv[1], sys.argv[2]
E = '>' if mode == 'be' else '<'

def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def syn(src, dst, sport, dport):
    s = bytes(map(int, src.split('.')))
    d = bytes(map(int, dst.split('.')))
    tcp = struct.pack('!HHIIBBHHH', sport, dport, 1000, 0, 5 << 4, 0x02, 64240, 0, 0)
    ph = s + d + struct.pack('!BBH', 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(ph + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return b'\x02\0\0\0\0\x0b' + b'\x02\0\0\0\0\x0a' + b'\x08\x00' + ip + tcp

def block(btype, body):
    n = 12 + len(body)
    return struct.pack(E + 'II', btype, n) + body + struct.pack(E + 'I', n)

def opt(code, val):
    pad = (4 - len(val) % 4) % 4
    return struct.pack(E + 'HH', code, len(val)) + val + b'\0' * pad

if mode in ('mixed', 'mixedbad'):
    # three interfaces of three link types in two sections of opposite byte
    # orders (libpcap refuses such a file at its second interface): packet 1
    # on Ethernet, packet 2 as raw IP (LINKTYPE_RAW, snapshot 128), then a
    # big-endian section whose one interface is Linux cooked (SLL)
    def blk(e, btype, body):
        n = 12 + len(body)
        return struct.pack(e + 'II', btype, n) + body + struct.pack(e + 'I', n)
    def epb(e, ifid, i, frame, d):
        ts = 1713139200000000 + i * 1000
        body = struct.pack(e + 'IIIII', ifid, ts >> 32, ts & 0xffffffff, len(frame), len(frame))
        body += frame + b'\0' * ((4 - len(frame) % 4) % 4)
        body += struct.pack(e + 'HHI', 2, 4, d) + struct.pack(e + 'HH', 0, 0)
        return blk(e, 6, body)
    p1 = syn('203.0.113.7', '10.0.1.4', 40000, 22)
    p2 = syn('10.0.1.4', '203.0.113.200', 40001, 443)[14:]
    p3 = struct.pack('!HHH8sH', 0, 1, 6, b'\x02\0\0\0\0\x0b\0\0', 0x0800) + \
        syn('203.0.113.8', '10.0.1.4', 40002, 44224)[14:]
    data = blk('<', 0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1))
    data += blk('<', 1, struct.pack('<HHI', 1, 0, 262144)) + epb('<', 0, 0, p1, 1)
    data += blk('<', 1, struct.pack('<HHI', 101, 0, 128)) + epb('<', 1, 1, p2, 2)
    data += blk('>', 0x0A0D0D0A, struct.pack('>IHHq', 0x1A2B3C4D, 1, 0, -1))
    data += blk('>', 1, struct.pack('>HHI', 113, 0, 0)) + epb('>', 0, 2, p3, 1)
    if mode == 'mixedbad':	# then a packet on an interface no block describes
        data += epb('>', 5, 3, p3, 1)
    open(out, 'wb').write(data)
    sys.exit(0)

shb = block(0x0A0D0D0A, struct.pack(E + 'IHHq', 0x1A2B3C4D, 1, 0, -1))
idb = block(1, struct.pack(E + 'HHI', 1, 0, 262144))
pkts = [(syn('203.0.113.7', '10.0.1.4', 40000, 22), 1),
        (syn('10.0.1.4', '203.0.113.200', 40001, 443), 2),
        (syn('203.0.113.8', '10.0.1.4', 40002, 44224), 1)]
data = shb + idb
if mode == 'big':	# a 2.5 MiB block of an unknown type (skipped), larger than
    data += block(0x00000BAD, b'\xa5' * (5 << 19))	# pcap-replay's 1 MiB read chunk
for i, (frame, d) in enumerate(pkts):
    ts = 1713139200000000 + i * 1000
    caplen = len(frame)
    if mode == 'shortcap' and i == 1:
        caplen = 4000
    body = struct.pack(E + 'IIIII', 0, ts >> 32, ts & 0xffffffff, caplen, len(frame))
    body += frame + b'\0' * ((4 - len(frame) % 4) % 4)
    if mode != 'noflags':
        if mode == 'lying' and i == 1:
            body += struct.pack(E + 'HH', 2, 400) + struct.pack(E + 'I', d)
        else:
            body += opt(2, struct.pack(E + 'I', d)) + opt(0, b'')
    data += block(6, body)
open(out, 'wb').write(data)
EOF
}

# flows NAME: "dir proto src dst verdict" lines of the text report
flows() {
	awk '$1 ~ /^[0-9]+$/ && ($2 == "in" || $2 == "out" || $2 == "lo") {print $2, $3, $4, $5, $6}' "$1"
}

# A --local that is NOT the capture's host: without the flags every packet is
# transit (neither end local), with them each is judged in its own direction.
WRONG_LOCAL=192.0.2.99

for mode in le be big; do
	gen "$tmp/$mode.pcapng" "$mode"
	"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$WRONG_LOCAL" "$tmp/$mode.pcapng" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	got=$(flows "$tmp/out")
	want="in tcp 203.0.113.7:40000 10.0.1.4:22 drop
out tcp 10.0.1.4:40001 203.0.113.200:443 accept
in tcp 203.0.113.8:40002 10.0.1.4:44224 drop"
	if [ "$rc" -eq 0 ] && [ "$got" = "$want" ] &&
	   grep -q "direction of 3 of 3 packets from pcapng epb_flags" "$tmp/err"; then
		ok "pcapng ($mode): direction from epb_flags before --local"
	else
		not_ok "pcapng ($mode): direction from epb_flags before --local" "exit $rc" \
			"flows: $got" "$(head -3 "$tmp/err")"
	fi
done

# interfaces of three link types in sections of two byte orders: libpcap
# refuses the file at its second interface, pcap-replay reads it itself
# (threaded or not), each packet with its own link type
gen "$tmp/mixed.pcapng" mixed
if command -v tcpdump >/dev/null && tcpdump -r "$tmp/mixed.pcapng" >/dev/null 2>&1; then
	not_ok "pcapng of mixed link types: libpcap refuses it (the case is void otherwise)"
fi
for how in threaded single; do
	extra=
	[ "$how" = single ] && extra=--single-thread
	"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$WRONG_LOCAL" --stats $extra \
		"$tmp/mixed.pcapng" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	got=$(flows "$tmp/out")
	if [ "$rc" -eq 0 ] && [ "$got" = "$want" ] &&
	   grep -q "^capture 1: .*mixed.pcapng (EN10MB+RAW+LINUX_SLL, 3 packets)" "$tmp/out" &&
	   grep -q "direction of 3 of 3 packets from pcapng epb_flags" "$tmp/err" &&
	   grep -q "2 by pcap-replay's pcapng reader (mixed interfaces)" "$tmp/err"; then
		ok "pcapng of mixed link types and byte orders ($how): every packet judged"
	else
		not_ok "pcapng of mixed link types and byte orders ($how): every packet judged" \
			"exit $rc" "flows: $got" "$(grep '^capture' "$tmp/out")" "$(head -5 "$tmp/err")"
	fi
done
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$WRONG_LOCAL" --format json \
	"$tmp/mixed.pcapng" >"$tmp/out.json" 2>/dev/null
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["captures"][0]
assert c["linktype"] == "EN10MB+RAW+LINUX_SLL" and c["packets"] == 3, c
assert "error" not in c, c
' "$tmp/out.json"; then
	ok "pcapng of mixed link types: the JSON report lists them"
else
	not_ok "pcapng of mixed link types: the JSON report lists them" "$(head -c 600 "$tmp/out.json")"
fi
# after the take-over, a packet on an interface its section does not describe:
# the packets before it judged, then exit 2 with the reason
gen "$tmp/mixedbad.pcapng" mixedbad
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local 10.0.1.4 "$tmp/mixedbad.pcapng" \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 2 ] && [ "$(flows "$tmp/out")" = "$want" ] &&
   grep -q "mixedbad.pcapng: read error after frame 3: a packet arrived on interface 5, but there's no Interface Description Block for that interface" "$tmp/err"; then
	ok "pcapng of mixed link types, then a packet on an undescribed interface: exit 2, named"
else
	not_ok "pcapng of mixed link types, then a packet on an undescribed interface: exit 2, named" \
		"exit $rc" "$(flows "$tmp/out")" "$(head -3 "$tmp/err")"
fi
# host-address inference reads it the same way (no --local; the flags decide)
"$REPLAY" --policy "$POLICY" --tags "$TAGS" "$tmp/mixed.pcapng" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 0 ] && [ "$(flows "$tmp/out")" = "$want" ]; then
	ok "pcapng of mixed link types without --local"
else
	not_ok "pcapng of mixed link types without --local" "exit $rc" "$(flows "$tmp/out")" \
		"$(head -3 "$tmp/err")"
fi

# the same capture from a pipe (standard input and a process substitution):
# pcap-replay copies it to a temporary file first, so the epb_flags walk still
# sees it and the report names the capture as given
for how in stdin fifo; do
	if [ "$how" = stdin ]; then
		"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$WRONG_LOCAL" - \
			<"$tmp/le.pcapng" >"$tmp/out" 2>"$tmp/err"
	else
		"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$WRONG_LOCAL" \
			<(cat "$tmp/le.pcapng") >"$tmp/out" 2>"$tmp/err"
	fi
	rc=$?
	got=$(flows "$tmp/out")
	if [ "$rc" -eq 0 ] && [ "$got" = "$want" ] &&
	   grep -q "direction of 3 of 3 packets from pcapng epb_flags" "$tmp/err"; then
		ok "pcapng through a pipe ($how): directions from epb_flags"
	else
		not_ok "pcapng through a pipe ($how): directions from epb_flags" "exit $rc" \
			"flows: $got" "$(head -3 "$tmp/err")"
	fi
done

# the same packets without epb_flags: --local decides, and these are transit
gen "$tmp/noflags.pcapng" noflags
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$WRONG_LOCAL" "$tmp/noflags.pcapng" \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 0 ] && [ -z "$(flows "$tmp/out")" ] && ! grep -q "epb_flags" "$tmp/err"; then
	ok "pcapng without epb_flags: --local decides (all transit here)"
else
	not_ok "pcapng without epb_flags: --local decides" "exit $rc" "$(flows "$tmp/out")" \
		"$(head -3 "$tmp/err")"
fi
# and with the right --local the flags and the addresses agree
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local 10.0.1.4 "$tmp/le.pcapng" >"$tmp/out1" 2>/dev/null
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local 10.0.1.4 "$tmp/noflags.pcapng" >"$tmp/out2" 2>/dev/null
if [ "$(flows "$tmp/out1")" = "$(flows "$tmp/out2")" ] && [ -n "$(flows "$tmp/out1")" ]; then
	ok "pcapng: epb_flags and --local agree on a consistent capture"
else
	not_ok "pcapng: epb_flags and --local agree on a consistent capture" \
		"with flags: $(flows "$tmp/out1" | tr '\n' ';')" "without: $(flows "$tmp/out2" | tr '\n' ';')"
fi

# flags that contradict --local (packet 2 leaves eth0 for 203.0.113.200, which
# --local calls a host address): judged as loopback, and said -- it was silent
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local 10.0.1.4,203.0.113.200 "$tmp/le.pcapng" \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "warning: 1 packet flagged outgoing on a device other than lo goes to a host address (first: capture 1 frame 2)" "$tmp/err"; then
	ok "pcapng: an outgoing flag towards a --local address is warned about (taken as loopback)"
else
	not_ok "pcapng: an outgoing flag towards a --local address is warned about" "exit $rc" "$(head -3 "$tmp/err")"
fi
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local 10.0.1.4 "$tmp/le.pcapng" >/dev/null 2>"$tmp/err"
if grep -q "flagged outgoing" "$tmp/err"; then
	not_ok "pcapng: no such warning when the flags and --local agree" "$(cat "$tmp/err")"
else
	ok "pcapng: no such warning when the flags and --local agree"
fi

# options that lie about their length: flags given up with a warning, replay goes on
gen "$tmp/lying.pcapng" lying
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$WRONG_LOCAL" "$tmp/lying.pcapng" \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q "warning: .*pcapng: .*options run past the block.*not used" "$tmp/err" &&
   [ -z "$(flows "$tmp/out")" ]; then
	ok "pcapng with lying option lengths: warning, directions not used, no crash"
else
	not_ok "pcapng with lying option lengths" "exit $rc" "$(head -3 "$tmp/err")"
fi

# a captured length past its block: libpcap refuses the file (exit 2 with a
# message), our walk must not crash either way
gen "$tmp/shortcap.pcapng" shortcap
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local 10.0.1.4 "$tmp/shortcap.pcapng" \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
if { [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]; } && [ -s "$tmp/err" ] &&
   grep -q "pcapng: .*captured length past the block" "$tmp/err"; then
	ok "pcapng with a captured length past its block: exit $rc with a message, no crash"
else
	not_ok "pcapng with a captured length past its block" "exit $rc" "$(head -3 "$tmp/err")"
fi

# truncated files (every length from 1 to the whole file): never a crash
gen "$tmp/full.pcapng" le
size=$(stat -c %s "$tmp/full.pcapng")
crashed=""
for ((n = 1; n < size; n += 7)); do
	head -c "$n" "$tmp/full.pcapng" >"$tmp/cut.pcapng"
	"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local 10.0.1.4 "$tmp/cut.pcapng" \
		>/dev/null 2>&1
	rc=$?
	if [ "$rc" -gt 2 ]; then
		crashed="$crashed $n:$rc"
	fi
done
if [ -z "$crashed" ]; then
	ok "truncated pcapng files: exit 0 or 2, never a crash"
else
	not_ok "truncated pcapng files" "length:exit$crashed"
fi

[ "$failures" -eq 0 ]
