#!/bin/bash
# t_replay — pcap-replay end to end: policy + golden captures + expectation
# file, failures and the JUnit report, bad input (exit 2), traces, a ruleset
# dumped from a kernel (root only), and the tcpdump capture corpus in
# ../shared (every file: no crash, no hang, exit 0 or 2 with a message).
# Prints "ok - NAME", "not ok - NAME" or "skip - NAME: reason" per case.
set -u
cd "$(dirname "$0")/../.." || exit 2
O=${O:-build}
REPLAY=$O/pcap-replay
FILTERCTL=$O/filterctl
DATA=tests/data/replay
TAGS=examples/servicetags.json
POLICY=$DATA/policy.yaml
LOCAL=10.0.1.4,fd00:10::4
GOLDEN="$DATA/tcp.pcap $DATA/midstream.pcap $DATA/udp.pcap $DATA/icmp.pcap $DATA/frag4.pcap
	$DATA/ipv6-ext.pcap $DATA/vlan.pcap $DATA/sll.pcap $DATA/dhcp.pcap"
CORPUS=../shared/data/pcaps/tcpdump
failures=0
tmp=$(mktemp -d /tmp/t_replay.XXXXXX)
ns=""

ns2=""
cleanup() {
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	[ -n "$ns2" ] && ip netns del "$ns2" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; [ $# -gt 1 ] && printf '    %s\n' "${@:2}"; failures=$((failures + 1)); }
skip() { echo "skip - $1: $2"; }

# run NAME EXPECTED_RC CMD...: stdout to $tmp/out, stderr to $tmp/err
run() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		not_ok "$name" "exit $rc, want $want: $*" "$(head -5 "$tmp/err")"
		return 1
	fi
	return 0
}

if [ ! -x "$REPLAY" ]; then
	not_ok "pcap-replay built" "$REPLAY missing: make O=$O all"
	exit 1
fi

# shellcheck disable=SC2086
if run "golden captures hold every assertion" 0 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --expect "$DATA/expect.txt" --require-all --require-match \
	--junit "$tmp/pass.xml" $GOLDEN; then
	if grep -q 'failures="0"' "$tmp/pass.xml" && grep -q "^result: PASS" "$tmp/out"; then
		ok "golden captures hold every assertion"
	else
		not_ok "golden captures hold every assertion" "report or JUnit file disagrees"
	fi
fi

# one assertion flipped: line 10 (ssh from the Internet) now says allow
sed 's/^deny  in  tcp  from internet  *to any port 22$/allow in tcp from internet to any port 22/' \
	"$DATA/expect.txt" >"$tmp/flip.txt"
if ! grep -q "^allow in tcp from internet to any port 22" "$tmp/flip.txt"; then
	not_ok "flipped assertion fails" "could not flip line 10 of $DATA/expect.txt"
# shellcheck disable=SC2086
elif run "flipped assertion fails" 1 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --expect "$tmp/flip.txt" --junit "$tmp/fail.xml" $GOLDEN; then
	if grep -q 'failures="1"' "$tmp/fail.xml" &&
	   grep -q '<testcase [^>]*name="line 10: allow in tcp from internet to any port 22">' "$tmp/fail.xml" &&
	   grep -q 'flow #3 in tcp 203.0.113.7:40003 -&gt; 10.0.1.4:22' "$tmp/fail.xml" &&
	   grep -q "flip.txt:10: assertion failed" "$tmp/err"; then
		ok "flipped assertion fails, JUnit names line 10 and the flows"
	else
		not_ok "flipped assertion fails" "JUnit file or message does not name line 10" \
			"$(grep -A3 '<failure' "$tmp/fail.xml" | head -5)"
	fi
fi

# the JUnit file is XML whatever the names hold: an expectation file named
# with every character XML escapes, and the failing flows' texts
odd="$tmp/a&b<c>'d\".txt"
cp "$tmp/flip.txt" "$odd"
# shellcheck disable=SC2086
if run "junit escapes" 1 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --expect "$odd" --junit "$tmp/odd.xml" $GOLDEN; then
	if python3 - "$tmp/odd.xml" "$odd" <<'PY' 2>"$tmp/py"; then
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall(".//testcase")
assert cases and all(c.get("classname") == sys.argv[2] for c in cases), cases[0].attrib
fails = [c for c in cases if c.find("failure") is not None]
assert len(fails) == 1 and "203.0.113.7:40003 -> 10.0.1.4:22" in fails[0].find("failure").text
PY
		ok "junit escapes: a file named with & < > ' \" gives XML that parses back to the names"
	else
		not_ok "junit escapes" "$(tail -2 "$tmp/py")"
	fi
fi

# bytes that are not UTF-8 (a Latin-1 expectation file, a file name): the
# JUnit file still parses (U+FFFD for them) and JSON keeps the capture's path
printf 'allow in tcp from caf\xe9\xef\xbf\xbe to any\n' >"$tmp/latin1.txt"
latin=$'lat\xffin.pcap'
cp "$DATA/udp.pcap" "$tmp/$latin"
if run "junit: bytes not UTF-8" 2 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --expect "$tmp/latin1.txt" --junit "$tmp/latin.xml" "$tmp/$latin"; then
	if python3 -c 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); assert "\ufffd" in d.toxml()' \
		"$tmp/latin.xml" 2>"$tmp/py" &&
		"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" --format json "$tmp/$latin" |
		python3 -c 'import json, sys; p = json.load(sys.stdin)["captures"][0]["path"]; assert p.endswith("lat\ufffdin.pcap"), p' 2>>"$tmp/py"; then
		ok "junit and json: bytes that are not UTF-8 in an expectation file and a file name: XML parses, JSON keeps the path"
	else
		not_ok "junit and json: bytes that are not UTF-8" "$(tail -3 "$tmp/py")"
	fi
fi
# a JUnit write that fails after the open (EIO here; a full disk likewise)
# is an error, exit 2, not a cut file and exit 0
if run "junit: write error" 2 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --expect "$DATA/expect.txt" --junit /proc/version "$DATA/udp.pcap"; then
	if grep -q "junit /proc/version: " "$tmp/err"; then
		ok "junit: a write error after the open exits 2 and says so"
	else
		not_ok "junit: a write error after the open exits 2 and says so" "$(cat "$tmp/err")"
	fi
fi

# a wrong --local: most packets are transit; --require-all fails the run
printf 'allow in tcp from tag:AzureMachineLearning\nallow out tcp\ndeny in any\n' >"$tmp/wrong-local.txt"
if run "wrong --local fails --require-all" 1 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local 10.0.1.99,fd00:10::4 --expect "$tmp/wrong-local.txt" --require-all "$DATA/tcp.pcap"; then
	if grep -q "58 of 74 packets are transit (neither end is a --local address), 16 judged" "$tmp/err" &&
		grep -q "FAIL      58 of 74 packets were transit" "$tmp/out"; then
		ok "wrong --local: warned, and a failure with --require-all (58 of 74 packets transit)"
	else
		not_ok "wrong --local: warned, and a failure with --require-all" "$(cat "$tmp/err" "$tmp/out" | tail -6)"
	fi
fi

# --require-match: a line no flow reaches
printf 'allow out tcp to 192.0.2.250 port 9\n' >"$tmp/unmatched.txt"
if run "unmatched line fails with --require-match" 1 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --expect "$tmp/unmatched.txt" --require-match "$DATA/udp.pcap"; then
	ok "unmatched line fails with --require-match"
fi
if run "unmatched line only warns without --require-match" 0 "$REPLAY" --policy "$POLICY" \
	--tags "$TAGS" --local "$LOCAL" --expect "$tmp/unmatched.txt" "$DATA/udp.pcap"; then
	if grep -q "warning: matched no flow" "$tmp/err"; then
		ok "unmatched line only warns without --require-match"
	else
		not_ok "unmatched line only warns without --require-match" "no warning on stderr"
	fi
fi

# 168.63.129.16 is VirtualNetwork, not Internet (Azure's VirtualNetwork tag holds
# the host's virtual IP): a deny of the Internet leaves load balancer probes alone
if run "host VIP: 168.63.129.16 is VirtualNetwork, not Internet" 0 "$REPLAY" \
	--policy "$DATA/hostvip.yaml" --tags "$TAGS" --local 10.0.1.4 \
	--expect "$DATA/hostvip.expect" --require-all --require-match "$DATA/hostvip.pcap" &&
	grep -q "168.63.129.16:40000 .* accept  *user:AllowVnetAll" "$tmp/out"; then
	ok "host VIP: 168.63.129.16 is VirtualNetwork, not Internet"
elif [ "$rc" = 0 ]; then
	not_ok "host VIP: 168.63.129.16 is VirtualNetwork, not Internet" "$(grep 168.63 "$tmp/out")"
fi

# ---- a pass must mean something: what makes a run with --expect an error or
# a failure besides its lines (text, JSON and JUnit say it, and the exit code)
printf 'allow in udp from any to any\nallow out udp to any\n' >"$tmp/udp-any.txt"
# host addresses that could only be guessed: udp.pcap's IPv6 part is one
# conversation, both ends in every packet
if run "ambiguous host addresses are an error with --expect" 2 "$REPLAY" --policy "$POLICY" \
	--tags "$TAGS" --expect "$tmp/udp-any.txt" --junit "$tmp/amb.xml" "$DATA/udp.pcap"; then
	if grep -q "cannot tell this host's addresses: fd00:10::4 and 2001:db8:1::7 are each in 100% of the IPv6 packets" "$tmp/err" &&
	   grep -q "^  ERROR *cannot tell" "$tmp/out" && grep -q "^result: ERROR" "$tmp/out" &&
	   grep -q 'errors="1"' "$tmp/amb.xml" && grep -q '<error message="cannot tell' "$tmp/amb.xml"; then
		ok "ambiguous host addresses are an error with --expect (stderr, report, JUnit <error>)"
	else
		not_ok "ambiguous host addresses are an error with --expect" "$(cat "$tmp/err")" "$(tail -3 "$tmp/out")"
	fi
fi
if run "ambiguous host addresses: a note without --expect" 0 "$REPLAY" --policy "$POLICY" \
	--tags "$TAGS" "$DATA/udp.pcap"; then
	if grep -q "host addresses: inferred (no --local): 10.0.1.4 (in 100% of the IPv4 packets), fd00:10::4 (in 100% of the IPv6 packets; so is 2001:db8:1::7: ambiguous, pass --local)" "$tmp/out"; then
		ok "ambiguous host addresses: a note without --expect, the private address preferred"
	else
		not_ok "ambiguous host addresses: a note without --expect" "$(grep 'host addresses' "$tmp/out")"
	fi
fi
# a capture that ends in a read error: exit 2 and an error result, never PASS
head -c 300 "$DATA/tcp.pcap" >"$tmp/cut.pcap"
if run "capture read error: result ERROR" 2 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --expect "$tmp/udp-any.txt" --junit "$tmp/cut.xml" "$tmp/cut.pcap"; then
	if grep -q "^result: ERROR" "$tmp/out" && grep -q 'errors="1"' "$tmp/cut.xml" &&
	   grep -q 'name="capture read to its end"' "$tmp/cut.xml" &&
	   "$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" --expect "$tmp/udp-any.txt" \
		--format json "$tmp/cut.pcap" 2>/dev/null | python3 -c '
import json, sys
e = json.load(sys.stdin)["expectations"]
assert e["result"] == "error", e["result"]
assert e["problems"][0]["kind"] == "error" and "cut.pcap" in e["problems"][0]["text"], e["problems"]'; then
		ok "capture read error: exit 2, result ERROR in text and JSON, a JUnit <error>"
	else
		not_ok "capture read error: result ERROR" "$(tail -3 "$tmp/out")" "$(grep -c '<error' "$tmp/cut.xml")"
	fi
fi
# an empty capture: nothing was checked
python3 -c 'import struct,sys; open(sys.argv[1],"wb").write(struct.pack("<IHHiIII",0xa1b2c3d4,2,4,0,0,65535,1))' "$tmp/empty.pcap"
if run "empty capture fails with --expect" 1 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --expect "$tmp/udp-any.txt" --junit "$tmp/empty.xml" "$tmp/empty.pcap"; then
	if grep -q "FAIL: no packet was judged (0 read): the expectations were checked against nothing" "$tmp/err" &&
	   grep -q "^result: FAIL" "$tmp/out" && grep -q 'failures="1"' "$tmp/empty.xml"; then
		ok "empty capture fails with --expect: no packet was judged"
	else
		not_ok "empty capture fails with --expect" "$(cat "$tmp/err")"
	fi
fi
# flows past --max-listed-flows have no row, and are checked all the same, by
# their first packet (a review: a broken assertion passed because its flow
# was past the cap, and the cap was the conntrack table's size too)
# shellcheck disable=SC2086
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" --expect "$DATA/expect.txt" \
	--require-all --format json $GOLDEN >"$tmp/all.json" 2>/dev/null
# shellcheck disable=SC2086
if run "--max-listed-flows 3: the same verdicts" 0 "$REPLAY" --policy "$POLICY" \
	--tags "$TAGS" --local "$LOCAL" --expect "$DATA/expect.txt" --require-all --max-listed-flows 3 \
	--format json $GOLDEN; then
	if python3 - "$tmp/all.json" "$tmp/out" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
key = lambda r: [(l["line"], l["status"], l["matched"], l["failures"]) for l in r["expectations"]["lines"]]
assert a["expectations"]["result"] == b["expectations"]["result"] == "pass"
assert key(a) == key(b), (key(a), key(b))
assert len(b["flows"]) == 3 and len(a["flows"]) > 3
EOF
	then ok "--max-listed-flows 3: flows past it are checked by their first packet (every line's status and counts as without it)"
	else not_ok "--max-listed-flows 3: the same verdicts" "$(head -c 600 "$tmp/out")"; fi
fi
# ... and where conntrack is incomplete (replies to dropped requests come in as
# new entries, SCTP, retransmissions): a flow past the cap is one flow, found
# by key either way as a row is (a review counted 6 SCTP flows as 47); and
# once its entry has gone, a connection reusing the tuple (either way) is a
# new flow, as a closed row makes one (a review's reversed reuse passed)
printf 'allow in tcp from any\nallow out tcp to any\nallow in udp from any\nallow out udp to any\nallow in any from any\nallow out any to any\n' >"$tmp/catchall.txt"
diffs= ncmp=0
for c in "$DATA/tuple-reused.pcap" "$DATA/tuple-reused-reversed.pcap" \
	"$CORPUS/ntp.pcap" "$CORPUS/forces2.pcap" "$CORPUS/dns-badvers.pcap"; do
	[ -f "$c" ] || continue
	ncmp=$((ncmp + 1))
	loc=()
	case "$c" in "$DATA"/*) loc=(--local 10.0.1.4) ;; esac
	for cap in "" 1; do
		"$REPLAY" --policy "$POLICY" --tags "$TAGS" --expect "$tmp/catchall.txt" --format json \
			"${loc[@]}" ${cap:+--max-listed-flows $cap} "$c" 2>/dev/null |
			python3 -c 'import json,sys; j=json.load(sys.stdin); print([(l["line"],l["status"],l["matched"],l["failures"]) for l in j["expectations"]["lines"]])' \
			>"$tmp/cmp.$cap" 2>&1
	done
	cmp -s "$tmp/cmp." "$tmp/cmp.1" || diffs="$diffs $(basename "$c"): $(cat "$tmp/cmp.") vs $(cat "$tmp/cmp.1");"
done
if [ -z "$diffs" ]; then ok "--max-listed-flows 1 on $ncmp captures (tuples reused either way; ntp, forces2 (SCTP), dns-badvers when ../shared is there): every line's status and counts as without it"
else not_ok "--max-listed-flows 1 counts unlisted flows as rows" "$diffs"; fi
printf 'allow in tcp to any port 22\nallow in any from any\nallow out any to any\n' >"$tmp/ssh-allowed.txt"
if run "--max-listed-flows 2: an unlisted flow breaks its line" 1 "$REPLAY" --policy "$POLICY" \
	--tags "$TAGS" --local "$LOCAL" --expect "$tmp/ssh-allowed.txt" --max-listed-flows 2 \
	--junit "$tmp/cap.xml" "$DATA/tcp.pcap"; then
	if grep -q "FAIL      line 1: allow in tcp to any port 22  (1 flow, 1 failed; 1 of them not listed)" "$tmp/out" &&
	   grep -q "a flow not listed (beyond --max-listed-flows), first packet capture 1 frame 17" "$tmp/out" &&
	   grep -q "first packet capture 1 frame 17" "$tmp/cap.xml" && grep -q "^result: FAIL" "$tmp/out"; then
		ok "--max-listed-flows 2: the dropped SSH flow past it fails 'allow in tcp to any port 22' (text and JUnit name its frame)"
	else
		not_ok "an unlisted flow breaks its line" "$(grep -A2 'line 1' "$tmp/out")" "$(cat "$tmp/err")"
	fi
fi
printf 'allow in tcp from tag:AzureMachineLearning to any port 44224\n' >"$tmp/one-line.txt"
if run "--require-all with unlisted flows no line matches" 1 "$REPLAY" --policy "$POLICY" \
	--tags "$TAGS" --local "$LOCAL" --expect "$tmp/one-line.txt" --require-all --max-listed-flows 1 \
	"$DATA/tcp.pcap"; then
	if grep -q "FAIL: 11 flows beyond --max-listed-flows 1 (not listed) matched no line (--require-all)" "$tmp/err"; then
		ok "--require-all fails on flows past --max-listed-flows that no line matches"
	else
		not_ok "--require-all fails on unlisted flows no line matches" "$(cat "$tmp/err")"
	fi
fi
# --require-all: a whole family taken as transit (--local names no IPv6 address)
if run "--require-all fails on a family without a host address" 1 "$REPLAY" --policy "$POLICY" \
	--tags "$TAGS" --local 10.0.1.4 --expect "$tmp/udp-any.txt" --require-all "$DATA/udp.pcap"; then
	if grep -q "warning: 1 IPv6 packet was not judged: no host address of IPv6 is given (--local)" "$tmp/err" &&
	   grep -q "FAIL: 1 IPv6 packet was not judged, so no line checked it: no host address of IPv6 is given with --local (--require-all)" "$tmp/err"; then
		ok "--require-all fails on a family without a host address (and a warning without it)"
	else
		not_ok "--require-all fails on a family without a host address" "$(cat "$tmp/err")"
	fi
fi
# a rejected expectation file still leaves a JUnit file, with the diagnostics
printf 'allow in udp from any to any\nallow sideways tcp to any\n' >"$tmp/badexp.txt"
if run "rejected expectation file: JUnit error" 2 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --expect "$tmp/badexp.txt" --junit "$tmp/badexp.xml" "$DATA/udp.pcap"; then
	if grep -q 'errors="1"' "$tmp/badexp.xml" && grep -q "badexp.txt:2:7: error" "$tmp/badexp.xml" &&
	   python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$tmp/badexp.xml"; then
		ok "rejected expectation file: exit 2 and a JUnit <error> with its line:col diagnostics"
	else
		not_ok "rejected expectation file: JUnit error" "$(cat "$tmp/badexp.xml" 2>&1 | head -8)"
	fi
fi
# a policy's errors: all of them, as filterctl check reports them
printf 'version: 1\nworkspace: w\nsecurity_rules:\n  - name: A\n    direction: inbound\n    access: allow\n    priority: 99999\n    protocol: tcp\n    source: NoSuchTag\n    destination_ports: [22]\n' >"$tmp/twoerr.yaml"
"$FILTERCTL" check "$tmp/twoerr.yaml" --tags "$TAGS" >/dev/null 2>"$tmp/check.err"
if run "pcap-replay reports a policy's errors as check does" 2 "$REPLAY" --policy "$tmp/twoerr.yaml" \
	--tags "$TAGS" --local "$LOCAL" "$DATA/udp.pcap"; then
	if [ "$(grep -c ': error: ' "$tmp/check.err")" -ge 2 ] &&
	   diff <(grep ': error: ' "$tmp/check.err") <(grep ': error: ' "$tmp/err") >/dev/null; then
		ok "pcap-replay reports a policy's errors as filterctl check does ($(grep -c ': error: ' "$tmp/err"))"
	else
		not_ok "pcap-replay reports a policy's errors as check does" "check: $(cat "$tmp/check.err")" "replay: $(cat "$tmp/err")"
	fi
fi

# coverage names unhit elements as the policy wrote them: prefixes as CIDR,
# other ranges first-last (a start address alone said nothing of their size)
if run "coverage: elements as prefixes and ranges" 0 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --coverage "$DATA/tcp.pcap"; then
	if grep -q "^  tag_AzureActiveDirectory_v4 .*1 of 1: 192.0.2.32/28$" "$tmp/out" &&
	   grep -q "^  tag_AzureActiveDirectory_v6 .*2001:db8:5::/48$" "$tmp/out" &&
	   grep -q "^  internet_v4 .*: 1.0.0.0-9.255.255.255, 11.0.0.0-100.63.255.255," "$tmp/out" &&
	   grep -q "^  __set[0-9]* (user:out:DenyInternetSmb) .*1 of 2: 139$" "$tmp/out"; then
		ok "coverage: unhit set elements as CIDR prefixes and first-last ranges; an anonymous set named by its rule"
	else
		not_ok "coverage: elements as prefixes and ranges" "$(sed -n '/coverage: set/,$p' "$tmp/out" | head -8)"
	fi
fi

# JSON report is valid and holds every flow
# shellcheck disable=SC2086
if run "json report" 0 "$REPLAY" --format json --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --coverage --trace 1:17 $GOLDEN; then
	if command -v python3 >/dev/null; then
		if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["totals"]["flows"] == len(d["flows"]) == 34, d["totals"]  # dhcp.pcap: 2
rst = [f for f in d["flows"] if 50007 in (f.get("sport"), f.get("dport"))]
assert len(rst) == 1 and rst[0]["packets"] == 2, rst
# each flow holds its packets (tests/unit/test_replay_captures.c builds them):
# a whole connection 8, a refused one 2 SYNs, the RST case 2; a mid-stream
# pickup 3 and 2; the ICMP errors counted as related to their connection
per = lambda c: sorted(f["packets"] for f in d["flows"] if f["capture"] == c)
assert per(1) == [2] * 5 + [8] * 8, per(1)
assert per(2) == [2, 3], per(2)
assert sum(f["related"] for f in d["flows"] if f["capture"] == 4) == 1
# every judged packet is in exactly one flow
t = d["totals"]
assert sum(f["packets"] for f in d["flows"]) == t["judged"], t
assert sum(f["packets_accepted"] for f in d["flows"]) == t["accepted"], t
assert all(f["packets"] == f["packets_accepted"] + f["packets_dropped"] for f in d["flows"])
assert d["traces"][0]["frame"] == 17
assert any(e.get("rule") == "user:in:DenyInternetSsh" and e["matched"] for e in d["traces"][0]["events"])
assert d["coverage"]["rules"]
' "$tmp/out" 2>"$tmp/py"; then
			ok "json report"
		else
			not_ok "json report" "$(tail -2 "$tmp/py")"
		fi
	else
		skip "json report" "python3 not installed"
	fi
fi

# JSON with expectations: the flows array is written as it goes (report.c,
# flows_json); each flow names the line that judged it, and the document is
# what a JSON parser reads back (escapes, commas, the last flow's brace)
# shellcheck disable=SC2086
if run "json report with --expect" 0 "$REPLAY" --format json --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --expect "$DATA/expect.txt" $GOLDEN; then
	if python3 - "$tmp/out" "$DATA/expect.txt" <<'PY' 2>"$tmp/py"; then
import json, sys
d = json.load(open(sys.argv[1]))
lines = [i + 1 for i, l in enumerate(open(sys.argv[2])) if l.strip() and not l.lstrip().startswith("#")]
assert len(d["flows"]) == d["totals"]["flows"] == 34
assert all(f["expect_ok"] is True and f["expect_line"] in lines for f in d["flows"]), d["flows"][0]
assert [f["id"] for f in d["flows"]] == list(range(1, 35))
assert d["expectations"]["result"] == "pass"
PY
		ok "json report with --expect: every flow names its line, the document parses"
	else
		not_ok "json report with --expect" "$(tail -2 "$tmp/py")"
	fi
fi

# trace: the rule-by-rule path of the refused ssh SYN
if run "trace" 0 "$REPLAY" --policy "$POLICY" --tags "$TAGS" --trace 17 "$DATA/tcp.pcap"; then
	if grep -q "inbound rule 5: user:in:DenyInternetSsh  -> match, verdict drop" "$tmp/out" &&
	   grep -q "input rule 8: internal:in:nsg-inbound  -> match, verdict goto inbound" "$tmp/out"; then
		ok "trace"
	else
		not_ok "trace" "$(grep -A3 '^trace' "$tmp/out" | head -5)"
	fi
fi

# host addresses inferred and printed without --local
if run "host addresses inferred" 0 "$REPLAY" --policy "$POLICY" --tags "$TAGS" "$DATA/tcp.pcap"; then
	if grep -q "host addresses: inferred (no --local): 10.0.1.4 " "$tmp/out"; then
		ok "host addresses inferred"
	else
		not_ok "host addresses inferred" "$(grep 'host addresses' "$tmp/out")"
	fi
fi

# a packet the host sends itself (source = destination) counts once in the
# shares the inference prints (the tcpdump corpus had one at "200%")
if [ -f "$CORPUS/icmpv6-RFC2894-RR.pcap" ]; then
	"$REPLAY" --policy "$POLICY" --tags "$TAGS" "$CORPUS/icmpv6-RFC2894-RR.pcap" >"$tmp/out" 2>&1
	if grep -q "host addresses: inferred (no --local): 2001:db8:1:0:a00:27ff:fef4:4dcf (in 100% of the IPv6 packets)" "$tmp/out"; then
		ok "host addresses inferred: a packet to its own source counts once (100%, not 200%)"
	else not_ok "inference shares of packets to their own source" "$(grep 'host addresses' "$tmp/out")"; fi
else skip "inference: packets to their own source" "$CORPUS absent"; fi

# frames from the wire (real MACs) with the host's own address as source:
# IPv4 drops them as martians before the hooks, IPv6 takes them in on the
# device (t_agree plays the same capture through the kernel); they were
# judged as loopback traffic and accepted by the loopback rule
if "$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" --format json \
	tests/data/agree/self-source-wire.pcap >"$tmp/self.json" 2>"$tmp/err" &&
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["totals"]["martian"] == 2, j["totals"]
fl = j["flows"]
assert len(fl) == 2 and all(f["dir"] == "in" and f["src"] == "fd00:10::4" for f in fl), fl
' "$tmp/self.json" 2>"$tmp/py"; then
	ok "own address as source from the wire: IPv4 martian (not judged), IPv6 judged inbound, not loopback"
else not_ok "own address as source from the wire" "$(cat "$tmp/py" "$tmp/err")"; fi
# the same in a cooked capture that says "incoming" (an Ethernet device), and
# a loopback source from the wire: both IPv4 martians
if "$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" --format json \
	tests/data/agree/self-source-cooked.pcap >"$tmp/self.json" 2>"$tmp/err" &&
	python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["totals"]["martian"] == 2 and not j["flows"], (j["totals"], j["flows"])
' "$tmp/self.json" 2>"$tmp/py"; then
	ok "cooked capture, in on an Ethernet device from the host's own address and from 127.0.0.1: both martians"
else not_ok "cooked martians" "$(cat "$tmp/py" "$tmp/err")"; fi

# a capture clock that goes back (captures given out of order): said, with
# the frame, in the report, the JSON totals and on stderr
python3 - "$tmp" <<'PYEOF'
import os, sys
sys.path.insert(0, "tests/live/agree")
from gen import Pcap, eth, ip4, udp
a, b = Pcap(), Pcap()
a.add(eth(ip4("10.0.1.4", "192.0.2.53", 17, udp(40000, 53, b"q")), False), gap=100.0)
b.add(eth(ip4("192.0.2.53", "10.0.1.4", 17, udp(53, 40000, b"a")), True))
a.write(os.path.join(sys.argv[1], "later.pcap"))
b.write(os.path.join(sys.argv[1], "earlier.pcap"))
PYEOF
if "$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" "$tmp/later.pcap" "$tmp/earlier.pcap" \
	>"$tmp/out" 2>"$tmp/err" &&
	grep -q "WARNING: the capture time goes back, by up to 100.0 s (capture 2 frame 1; 1 packets" "$tmp/out" &&
	grep -q "warning: the capture time goes back by up to 100.0 s (capture 2 frame 1)" "$tmp/err"; then
	ok "captures out of time order: the step back is said (100 s, capture 2 frame 1)"
else not_ok "captures out of time order said" "$(grep -i back "$tmp/out" "$tmp/err")"; fi

# damaged frames are counted and named by frame number, never judged blindly
if run "damaged capture" 0 "$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" \
	"$DATA/damaged.pcap"; then
	if grep -q "frame 10 malformed (IPv4 header length below 20)" "$tmp/out" &&
	   grep -q "frame 9 truncated" "$tmp/out" && grep -q "UNDECIDABLE" "$tmp/out"; then
		ok "damaged capture"
	else
		not_ok "damaged capture" "$(grep -i 'malformed\|truncated' "$tmp/out")"
	fi
# an undecidable flow is neither accepted nor dropped in the totals
if run "damaged capture: flow totals" 0 "$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" \
	"$DATA/damaged.pcap"; then
	if grep -q "^totals: 11 packets, 2 flows (1 accepted, 0 dropped, 1 undecidable)$" "$tmp/out"; then
		ok "damaged capture: the undecidable flow is counted as such, not as dropped"
	else
		not_ok "damaged capture: flow totals" "$(grep '^totals' "$tmp/out")"
	fi
fi
# an expectation file that begins with a UTF-8 byte-order mark
printf '\xef\xbb\xbfdeny in udp from any to any\n' >"$tmp/bom.txt"
if run "expectation file with a byte-order mark" 0 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" --expect "$tmp/bom.txt" "$DATA/udp.pcap"; then
	ok "expectation file with a UTF-8 byte-order mark is read"
fi
fi

# conntrack cap
if run "max-flows" 0 "$REPLAY" --policy "$POLICY" --tags "$TAGS" --max-flows 2 "$DATA/tcp.pcap"; then
	if grep -q "warning: .*--max-flows 2" "$tmp/err"; then
		ok "max-flows warns when the conntrack table is full"
	else
		not_ok "max-flows" "no warning: $(head -3 "$tmp/err")"
	fi
fi

# bad input: exit 2 with a clear message
printf 'this is not a capture\n' >"$tmp/junk.pcap"
if run "bad capture" 2 "$REPLAY" --policy "$POLICY" --tags "$TAGS" "$tmp/junk.pcap"; then
	if grep -q "junk.pcap: cannot read capture" "$tmp/err"; then ok "bad capture exits 2"
	else not_ok "bad capture" "message: $(cat "$tmp/err")"; fi
fi
if run "missing capture" 2 "$REPLAY" --policy "$POLICY" --tags "$TAGS" "$tmp/nonexistent.pcap"; then
	if grep -q "nonexistent.pcap: cannot read capture" "$tmp/err"; then ok "missing capture exits 2"
	else not_ok "missing capture" "message: $(cat "$tmp/err")"; fi
fi
# a capture through a pipe (tcpdump -w - | pcap-replay ... -): without --local
# the host inference reads the capture before the replay does; pcap-replay
# copies a pipe to a temporary file first, so both see every packet and the
# report is the file's, the capture named as given
"$REPLAY" --policy "$POLICY" --tags "$TAGS" "$DATA/tcp.pcap" >"$tmp/file.txt" 2>"$tmp/file.err"
sed "s|$DATA/tcp.pcap|-|g" "$tmp/file.txt" >"$tmp/file-as-stdin.txt"
if run "capture on standard input" 0 "$REPLAY" --policy "$POLICY" --tags "$TAGS" - <"$DATA/tcp.pcap"; then
	if cmp -s "$tmp/out" "$tmp/file-as-stdin.txt" && grep -q "host addresses inferred.*10.0.1.4" "$tmp/err" &&
	   grep -q "judged packets: 74 (66 accepted, 8 dropped" "$tmp/out"; then
		ok "capture on standard input, host inferred: the file's report"
	else
		not_ok "capture on standard input" "$(diff "$tmp/out" "$tmp/file-as-stdin.txt" | head -5)" "$(head -3 "$tmp/err")"
	fi
fi
if run "capture through a process substitution" 0 "$REPLAY" --policy "$POLICY" --tags "$TAGS" \
	--local "$LOCAL" <(cat "$DATA/tcp.pcap"); then
	if grep -q "judged packets: 74 (66 accepted, 8 dropped; of them 0 undecidable)" "$tmp/out" &&
	   [ "$(grep -A99 '^totals' "$tmp/out")" = "$(grep -A99 '^totals' "$tmp/file.txt")" ]; then
		ok "capture through a process substitution"
	else
		not_ok "capture through a process substitution" "$(tail -5 "$tmp/out")"
	fi
fi
if run "empty standard input" 2 "$REPLAY" --policy "$POLICY" --tags "$TAGS" - </dev/null; then
	if grep -q "^pcap-replay: -: cannot read capture" "$tmp/err"; then ok "empty standard input exits 2"
	else not_ok "empty standard input" "message: $(cat "$tmp/err")"; fi
fi
if run "no room for the copy of a pipe" 2 env TMPDIR="$tmp/nonexistent-dir" "$REPLAY" --policy "$POLICY" \
	--tags "$TAGS" - <"$DATA/tcp.pcap"; then
	if grep -q "standard input: cannot make a temporary copy in $tmp/nonexistent-dir: No such file" "$tmp/err"; then
		ok "no room for the copy of a pipe: exit 2, names the directory"
	else not_ok "no room for the copy of a pipe" "message: $(cat "$tmp/err")"; fi
fi
sed 's/priority: 110/priority: 100/' "$POLICY" >"$tmp/badpolicy.yaml"	# duplicate priority
if run "policy error" 2 "$REPLAY" --policy "$tmp/badpolicy.yaml" --tags "$TAGS" "$DATA/tcp.pcap"; then
	if grep -q "badpolicy.yaml:[0-9]*:[0-9]*: error:" "$tmp/err" &&
	   grep -q "policy rejected" "$tmp/err"; then ok "policy error exits 2 with file:line:col"
	else not_ok "policy error" "message: $(cat "$tmp/err")"; fi
fi
printf 'allow in tcp\npermit out udp\n' >"$tmp/bad.expect"
if run "expectation error" 2 "$REPLAY" --policy "$POLICY" --tags "$TAGS" --expect "$tmp/bad.expect" \
	"$DATA/tcp.pcap"; then
	if grep -q "bad.expect:2:1: error: expected verdict 'allow' or 'deny', got 'permit'" "$tmp/err"
	then ok "expectation error exits 2 with file:line:col"
	else not_ok "expectation error" "message: $(cat "$tmp/err")"; fi
fi
# --format json stops with JSON too
if run "expectation error, json" 2 "$REPLAY" --policy "$POLICY" --tags "$TAGS" --expect "$tmp/bad.expect" \
	--format json "$DATA/tcp.pcap"; then
	if python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["result"] == "error", j; assert "bad.expect:2:1: error: expected verdict" in j["error"], j' "$tmp/out" 2>"$tmp/py"
	then ok "--format json: a rejected expectation file gives a JSON error object (exit 2)"
	else not_ok "--format json: a rejected expectation file gives a JSON error object" "$(cat "$tmp/out" "$tmp/py")"; fi
fi
if run "usage error" 2 "$REPLAY" "$DATA/tcp.pcap"; then
	if grep -q "exactly one of --policy, --ruleset and --from-kernel" "$tmp/err"
	then ok "usage error exits 2"
	else not_ok "usage error" "message: $(cat "$tmp/err")"; fi
fi
# --local from an empty variable: no host address, said (it was taken as none given)
if run "--local ''" 2 "$REPLAY" --policy "$POLICY" --tags "$TAGS" --local '' "$DATA/tcp.pcap"; then
	if grep -q -- "--local: no address in ''" "$tmp/err"
	then ok "--local '' exits 2: no address"
	else not_ok "--local ''" "message: $(cat "$tmp/err")"; fi
fi
# an option error before --format json and --junit on the command line: both reports still made
if run "--local '' before --format json" 2 "$REPLAY" --local '' --policy "$POLICY" --tags "$TAGS" \
	--format json --junit "$tmp/opt.xml" "$DATA/tcp.pcap"; then
	if python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["result"] == "error" and "no address" in j["error"], j' "$tmp/out" 2>"$tmp/py" &&
	   grep -q 'errors="1"' "$tmp/opt.xml"
	then ok "an option error before --format json/--junit: JSON error object and JUnit error case"
	else not_ok "an option error before --format json/--junit" "$(cat "$tmp/out" "$tmp/py" "$tmp/opt.xml" 2>&1)"; fi
fi
if run "unloadable ruleset" 2 "$REPLAY" --ruleset "$DATA/expect.txt" "$DATA/tcp.pcap"; then
	ok "a file that is no saved dump exits 2"
fi

# --ruleset from a dump taken in a network namespace gives --policy's verdicts
flows_of() {
	python3 -c '
import json, sys
for f in json.load(open(sys.argv[1]))["flows"]:
    print(f["dir"], f["proto"], f["src"], f.get("sport"), f["dst"], f.get("dport"), f["verdict"], f["decided_by"])
' "$1"
}
if [ "$(id -u)" != 0 ]; then
	skip "dumped ruleset replays like the policy" "needs root (network namespace, nft)"
elif ! command -v nft >/dev/null || ! command -v ip >/dev/null || ! command -v python3 >/dev/null; then
	skip "dumped ruleset replays like the policy" "needs nft, ip and python3"
elif [ ! -x "$FILTERCTL" ]; then
	not_ok "dumped ruleset replays like the policy" "$FILTERCTL missing"
else
	ns=filterd-replay-$$
	if ! ip netns add "$ns"; then
		not_ok "dumped ruleset replays like the policy" "ip netns add failed"
		ns=""
	elif ! "$FILTERCTL" compile "$POLICY" --tags "$TAGS" 2>/dev/null | ip netns exec "$ns" nft -f -; then
		not_ok "dumped ruleset replays like the policy" "nft refused the compiled policy"
	elif ! run "filterctl dump" 0 "$FILTERCTL" dump --netns "$ns" --out "$tmp/dump.frs"; then
		:
	else
		ok "filterctl dump --netns saves the live table"
		# exit codes: 2 for a namespace that does not exist, 3 for a table the kernel lacks
		if run "dump: no such namespace" 2 "$FILTERCTL" dump --netns "$ns-none" --out "$tmp/x.frs" &&
		   run "dump: no such table" 3 "$FILTERCTL" dump --netns "$ns" --table nosuch --out "$tmp/x.frs"; then
			ok "filterctl dump: no such namespace exits 2, no such table 3"
		fi
		# shellcheck disable=SC2086
		"$REPLAY" --format json --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" $GOLDEN \
			>"$tmp/policy.json" 2>/dev/null
		flows_of "$tmp/policy.json" >"$tmp/policy.flows"
		# shellcheck disable=SC2086
		if run "--ruleset" 0 "$REPLAY" --format json --ruleset "$tmp/dump.frs" --tags "$TAGS" \
			--local "$LOCAL" --expect "$DATA/expect.txt" --require-all $GOLDEN; then
			flows_of "$tmp/out" >"$tmp/dump.flows"
			if [ -s "$tmp/policy.flows" ] && cmp -s "$tmp/policy.flows" "$tmp/dump.flows"; then
				ok "--ruleset (dump from a namespace) gives --policy's verdicts"
			else
				not_ok "--ruleset gives --policy's verdicts" \
					"$(diff "$tmp/policy.flows" "$tmp/dump.flows" | head -5)"
			fi
		fi
		# shellcheck disable=SC2086
		if run "--from-kernel" 0 "$REPLAY" --format json --from-kernel --netns "$ns" \
			--local "$LOCAL" $GOLDEN; then
			flows_of "$tmp/out" >"$tmp/kernel.flows"
			if cmp -s "$tmp/policy.flows" "$tmp/kernel.flows"; then
				ok "--from-kernel --netns gives --policy's verdicts"
			else
				not_ok "--from-kernel gives --policy's verdicts" \
					"$(diff "$tmp/policy.flows" "$tmp/kernel.flows" | head -5)"
			fi
		fi
		# a table with an expression the evaluator lacks (fib): the same
		# plain reason from a saved dump as from the kernel, never "malformed"
		ip netns exec "$ns" nft -f - <<'NFT'
table inet fibtest {
	chain in { type filter hook input priority 10; policy accept; fib saddr . iif oif missing drop; }
}
NFT
		"$FILTERCTL" dump --netns "$ns" --table fibtest --out "$tmp/fib.frs" >/dev/null 2>&1
		if run "unsupported expression in a dump" 2 "$REPLAY" --ruleset "$tmp/fib.frs" \
			--local "$LOCAL" "$DATA/udp.pcap"; then
			if grep -q "expression 'fib' is not supported (the evaluator cannot run it)" "$tmp/err" &&
			   ! grep -q malformed "$tmp/err" &&
			   "$REPLAY" --from-kernel --netns "$ns" --table fibtest --local "$LOCAL" \
				"$DATA/udp.pcap" 2>&1 >/dev/null | grep -q "expression 'fib' is not supported"; then
				ok "an expression the evaluator lacks (fib): named, not 'malformed', from a dump and from the kernel"
			else
				not_ok "unsupported expression in a dump" "$(cat "$tmp/err")"
			fi
		fi
		# a rule comment with control bytes (ESC): --trace prints '?' for them
		printf 'table inet esctest {\n\tchain c { type filter hook output priority 10; policy accept; counter comment "a\033[31mb"; }\n}\n' |
			ip netns exec "$ns" nft -f -
		if run "control bytes in a comment" 0 "$REPLAY" --from-kernel --netns "$ns" --table esctest \
			--local "$LOCAL" --trace 1 "$DATA/udp.pcap" &&
		   grep -q "c rule 1: a?\[31mb  -> match" "$tmp/out" && ! grep -q $'\033' "$tmp/out"; then
			ok "--trace: control bytes of a rule comment from the kernel printed as '?'"
		else
			not_ok "--trace: control bytes of a rule comment" "$(grep -a "rule 1" "$tmp/out" | cat -v)"
		fi
		ip netns exec "$ns" nft add table inet emptytest
		if run "a table without base chains" 0 "$REPLAY" --from-kernel --netns "$ns" --table emptytest \
			--local "$LOCAL" "$DATA/udp.pcap" &&
		   grep -q "has no base chain: no rule sees a packet, every packet is accepted" "$tmp/err"; then
			ok "a table without base chains: judged accept, and a warning says why"
		else
			not_ok "a table without base chains: a warning" "$(cat "$tmp/err")"
		fi
	fi
fi

# The flow cache (vm_eval_memo) must not change a byte of the report: every
# flow's verdict and deciding rule, the totals, the coverage counts per rule
# and the unhit elements; only the two fields saying how packets were decided
# may differ.
same_report() {
	python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    d["totals"].pop("bytecode_runs", None)
    d["totals"].pop("flow_cache_hits", None)
if a != b:
    for k in a:
        if a.get(k) != b.get(k):
            print("differs in", k, file=sys.stderr)
    sys.exit(1)
PY
}

# shellcheck disable=SC2086
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" --coverage --format json \
	$GOLDEN >"$tmp/c.json" 2>/dev/null
# shellcheck disable=SC2086
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" --coverage --format json \
	--no-flow-cache $GOLDEN >"$tmp/f.json" 2>/dev/null
hits=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["flow_cache_hits"])' "$tmp/c.json" 2>/dev/null)
if same_report "$tmp/c.json" "$tmp/f.json" 2>"$tmp/err" && [ "${hits:-0}" -gt 0 ]; then
	ok "golden captures: flow cache on ($hits packets from it) and off give the same report"
else
	not_ok "golden captures: flow cache" "hits ${hits:-?}; $(cat "$tmp/err")"
fi

# The rule index changes nothing either: the same report, bytecode runs included
# shellcheck disable=SC2086
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" --coverage --format json \
	--no-rule-index --stats $GOLDEN >"$tmp/i.json" 2>"$tmp/i.err"
# shellcheck disable=SC2086
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" --coverage --format json \
	--stats $GOLDEN >/dev/null 2>"$tmp/i2.err"
groups=$(sed -n 's/.*rule index: \([0-9]*\) groups of \([0-9]*\) rules.*/\1 \2/p' "$tmp/i2.err")
if cmp -s "$tmp/c.json" "$tmp/i.json" && grep -q "rule index off" "$tmp/i.err" &&
   [ "${groups%% *}" -gt 0 ] 2>/dev/null; then
	ok "golden captures: rule index on (groups, rules: $groups) and off give the same report"
else
	not_ok "golden captures: rule index" "groups '${groups}'; $(diff "$tmp/c.json" "$tmp/i.json" | head -3)"
fi

# --stats: one line on stderr, the report on stdout unchanged
# shellcheck disable=SC2086
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" --coverage --format json --stats \
	$GOLDEN >"$tmp/s.json" 2>"$tmp/s.err"
npk=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["packets"])' "$tmp/c.json" 2>/dev/null)
# with two CPUs the reader thread's line says how often and how long each waited
waits='.*'
[ "$(nproc)" -gt 1 ] &&
	waits=', reader thread [0-9.]+ s CPU; [0-9]+ batches, the reader waited for the replay [0-9]+ times \([0-9.]+ s\), the replay for the reader [0-9]+ times \([0-9.]+ s\); while waiting, the reader faulted in [0-9.]+ MiB for the replay \([0-9]+ steps, [0-9.]+ s\);'
if cmp -s "$tmp/c.json" "$tmp/s.json" &&
   grep -Eq "^pcap-replay: stats: ${npk:-x} packets in [0-9.]+ s \([0-9.]+ Mpps\); replay thread [0-9.]+ s CPU${waits}.*bytecode runs" "$tmp/s.err"; then
	ok "--stats: one line on stderr ($npk packets, thread CPU times, waits), the report unchanged"
else
	not_ok "--stats" "$(cat "$tmp/s.err")"
fi

# --ct-timeout: a host's tuned conntrack timeouts (UDP 2 s, ICMP 2 s, TCP
# established 3 s) expire the three connections of timing-timeouts.pcap
# under its 4.5 s gap: the answers start flows of their own (the echo reply
# invalid, the TCP segment picked up mid-stream); with the defaults they do
# not.  (tests/live/t_agree.sh plays the same capture against the kernel.)
TT=tests/data/agree/timing-timeouts.pcap
flows_of() { python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["flows"], t["dropped"])' "$1" 2>/dev/null; }
"$REPLAY" --policy tests/data/agree/policy.yaml --tags "$TAGS" --local "$LOCAL" --format json \
	"$TT" >"$tmp/to0.json" 2>"$tmp/to0.err"
# shellcheck disable=SC2046
"$REPLAY" --policy tests/data/agree/policy.yaml --tags "$TAGS" --local "$LOCAL" --format json \
	$(cat tests/data/agree/timing-timeouts.args) "$TT" >"$tmp/to1.json" 2>"$tmp/to1.err"
if [ "$(flows_of "$tmp/to0.json")" = "3 0" ] && [ "$(flows_of "$tmp/to1.json")" = "6 1" ] &&
   grep -q "^pcap-replay: conntrack timeouts other than the kernel's defaults: udp_timeout=2 (default 30), icmp_timeout=2 (default 30), tcp_timeout_established=3 (default 432000)$" "$tmp/to1.err" &&
   ! grep -q "timeouts" "$tmp/to0.err"; then
	ok "--ct-timeout: tuned timeouts expire the connections (6 flows, 1 dropped; defaults: 3, 0), said on stderr"
else
	not_ok "--ct-timeout" "defaults: $(flows_of "$tmp/to0.json"); tuned: $(flows_of "$tmp/to1.json")" "$(cat "$tmp/to1.err")"
fi
bad=0
for arg in bogus_timeout=5 udp_timeout=-1 udp_timeout=2147483648 udp_timeout= =5 udp_timeout; do
	"$REPLAY" --policy tests/data/agree/policy.yaml --tags "$TAGS" --local "$LOCAL" \
		--ct-timeout "$arg" "$TT" >"$tmp/tob.out" 2>"$tmp/tob.err"
	rc=$?
	if [ $rc -ne 2 ] || [ -s "$tmp/tob.out" ] || ! grep -q -- "--ct-timeout" "$tmp/tob.err"; then
		bad=1
		not_ok "--ct-timeout $arg is refused" "exit $rc" "$(cat "$tmp/tob.err")"
	fi
done
[ $bad = 0 ] && ok "--ct-timeout: an unknown name or a bad value is a usage error (exit 2, nothing on stdout)"
"$REPLAY" --policy tests/data/agree/policy.yaml --tags "$TAGS" --local "$LOCAL" \
	--ct-timeouts-from-host "$TT" >/dev/null 2>"$tmp/toh.err"
rc=$?
# said: those that differ from the kernel's defaults (udp_timeout's is 30 s)
f=/proc/sys/net/netfilter/nf_conntrack_udp_timeout
said=$(grep "^pcap-replay: conntrack timeouts other than the kernel's defaults:" "$tmp/toh.err")
if [ ! -r "$f" ]; then
	grep -q "no /proc/sys/net/netfilter/nf_conntrack_\*timeout\* on this host" "$tmp/toh.err"
elif [ "$(cat "$f")" = 30 ]; then
	[ -n "$said" ] && ! printf '%s' "$said" | grep -q " udp_timeout="
else
	printf '%s' "$said" | grep -q " udp_timeout=$(cat "$f") (default 30)"
fi
if [ $? -eq 0 ] && [ $rc -eq 0 ]; then
	ok "--ct-timeouts-from-host: the host's timeouts are read, those not the defaults said"
else
	not_ok "--ct-timeouts-from-host" "exit $rc" "$(cat "$tmp/toh.err")"
fi

# ... and on a host whose timeouts were tuned (a network namespace of its own,
# the sysctls being per namespace): those are used and said
if [ "$(id -u)" != 0 ] || [ ! -r /proc/sys/net/netfilter/nf_conntrack_udp_timeout ]; then
	skip "--ct-timeouts-from-host on a tuned host" "needs root and nf_conntrack loaded"
elif ! ip netns add "filterd-ctto-$$" 2>/dev/null; then
	skip "--ct-timeouts-from-host on a tuned host" "cannot create a network namespace"
else
	ns2=filterd-ctto-$$
	ip netns exec "$ns2" sh -c 'echo 31 >/proc/sys/net/netfilter/nf_conntrack_udp_timeout &&
		echo 7200 >/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established &&
		echo 9 >/proc/sys/net/ipv4/ipfrag_time'
	ip netns exec "$ns2" "$REPLAY" --policy tests/data/agree/policy.yaml --tags "$TAGS" \
		--local "$LOCAL" --format json --ct-timeouts-from-host "$TT" >"$tmp/toh2.json" 2>"$tmp/toh2.err"
	rc=$?
	ip netns del "$ns2"
	ns2=""
	if [ $rc -eq 0 ] && [ "$(flows_of "$tmp/toh2.json")" = "3 0" ] &&
	   grep -q "^pcap-replay: conntrack timeouts other than the kernel's defaults: tcp_timeout_established=7200 (default 432000), udp_timeout=31 (default 30), ipfrag_time=9 (default 30)$" "$tmp/toh2.err"; then
		ok "--ct-timeouts-from-host on a tuned host: its three tuned timeouts (net.ipv4.ipfrag_time too) are used and said"
	else
		not_ok "--ct-timeouts-from-host on a tuned host" "exit $rc" "$(cat "$tmp/toh2.err")"
	fi
fi

# By default the process exits without freeing its tables; with
# FILTERD_FREE_AT_EXIT (for leak checkers) everything is freed: no leak, and the
# same report either way.
if ! command -v valgrind >/dev/null 2>&1; then
	skip "FILTERD_FREE_AT_EXIT under valgrind" "valgrind not installed"
elif grep -q -a __asan_init "$REPLAY"; then
	# (an AddressSanitizer build frees at exit anyway, and does not run under valgrind)
	skip "FILTERD_FREE_AT_EXIT under valgrind" "$REPLAY is an AddressSanitizer build"
else
	# shellcheck disable=SC2086
	FILTERD_FREE_AT_EXIT=1 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=9 "$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$LOCAL" \
		--coverage --format json $GOLDEN >"$tmp/vg.json" 2>"$tmp/vg.err"
	vrc=$?
	if [ $vrc -eq 0 ] && cmp -s "$tmp/c.json" "$tmp/vg.json"; then
		ok "FILTERD_FREE_AT_EXIT: everything freed under valgrind (no leak, no error), the same report"
	else
		not_ok "FILTERD_FREE_AT_EXIT under valgrind" "exit $vrc" "$(head -20 "$tmp/vg.err")"
	fi
fi

# Host addresses: up to 8 per family are compared as integers, more go
# through the prefix set; both must take every packet the same way (the
# extra addresses are not adjacent: they stay 9 more intervals).
MANY=$LOCAL
for i in 1 2 3 4 5 6 7 8 9; do MANY="$MANY,10.0.200.$((2 * i)),fd00:200::$((2 * i))"; done
# shellcheck disable=SC2086
"$REPLAY" --policy "$POLICY" --tags "$TAGS" --local "$MANY" --coverage --format json \
	$GOLDEN >"$tmp/m.json" 2>/dev/null
if python3 - "$tmp/c.json" "$tmp/m.json" <<'PY' 2>"$tmp/err"; then
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["flows"] and a["flows"] == b["flows"], "flows differ"
assert a["totals"] == b["totals"], "totals differ"
PY
	ok "--local with 11 addresses a family (prefix set) and with 2 (integers) judge alike"
else
	not_ok "--local with many addresses" "$(tail -2 "$tmp/err")"
fi

# The same on a large capture with real service tags (bench/gencap: 50,000
# packets, 512 concurrent flows, TCP/UDP/ICMP, v4/v6, allowed and denied).
REAL_TAGS=../shared/data/servicetags/ServiceTags_Public_20240415.json
if [ ! -f "$REAL_TAGS" ]; then
	skip "flow cache on a large capture" "$REAL_TAGS absent (../shared)"
elif [ ! -x "$O/bench/gencap" ]; then
	skip "flow cache on a large capture" "$O/bench/gencap not built (make O=$O $O/bench/gencap)"
else
	"$O/bench/gencap" "$REAL_TAGS" "$tmp/big.pcap" 50000 7 2>/dev/null
	for m in c f s i; do
		flag=""
		[ $m = f ] && flag=--no-flow-cache
		[ $m = s ] && flag=--single-thread
		[ $m = i ] && flag=--no-rule-index
		# shellcheck disable=SC2086
		"$REPLAY" --policy bench/data/azureml.yaml --tags "$REAL_TAGS" --local "$LOCAL" \
			--coverage --format json $flag "$tmp/big.pcap" >"$tmp/big-$m.json" 2>/dev/null
	done
	read -r hits runs < <(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["flow_cache_hits"], t["bytecode_runs"])' "$tmp/big-c.json" 2>/dev/null)
	if same_report "$tmp/big-c.json" "$tmp/big-f.json" 2>"$tmp/err" && [ "${hits:-0}" -gt "${runs:-0}" ]; then
		ok "gencap 50,000 packets, real tags: flow cache on ($hits from it, $runs bytecode runs) and off give the same report"
	else
		not_ok "gencap capture: flow cache" "hits ${hits:-?} runs ${runs:-?}; $(cat "$tmp/err")"
	fi
	# every judged packet is in exactly one flow (the counts kept in the
	# conntrack entries reach their flows: expiry, refusal, end of replay)
	if python3 - "$tmp/big-c.json" <<'PY' 2>"$tmp/err"; then
import json, sys
d = json.load(open(sys.argv[1]))
t = d["totals"]
assert sum(f["packets"] for f in d["flows"]) == t["judged"], (sum(f["packets"] for f in d["flows"]), t)
assert sum(f["packets_accepted"] for f in d["flows"]) == t["accepted"], t
assert sum(f["packets_dropped"] for f in d["flows"]) == t["dropped"], t
PY
		ok "gencap capture: every judged packet is counted in exactly one flow"
	else
		not_ok "gencap capture: flow packet counts" "$(tail -2 "$tmp/err")"
	fi
	# the reader thread changes nothing either (same JSON, bytecode_runs included)
	if cmp -s "$tmp/big-c.json" "$tmp/big-s.json"; then
		ok "gencap capture: reader thread and --single-thread give the same report"
	else
		not_ok "gencap capture: --single-thread" "$(diff "$tmp/big-c.json" "$tmp/big-s.json" | head -3)"
	fi
	# nor does the rule index (same JSON, bytecode_runs included)
	if cmp -s "$tmp/big-c.json" "$tmp/big-i.json"; then
		ok "gencap capture: rule index on and off (--no-rule-index) give the same report"
	else
		not_ok "gencap capture: --no-rule-index" "$(diff "$tmp/big-c.json" "$tmp/big-i.json" | head -3)"
	fi
	# and the --trace paths (rules passed over by the index are traced as
	# the rules that broke they are)
	for m in on off; do
		flag=""
		[ $m = off ] && flag=--no-rule-index
		# shellcheck disable=SC2086
		"$REPLAY" --policy bench/data/azureml.yaml --tags "$REAL_TAGS" --local "$LOCAL" \
			--trace 1,2,3,50,77,1000,5001,12345 $flag "$tmp/big.pcap" >"$tmp/tr-$m.out" 2>&1
	done
	ntr=$(grep -c "rule" "$tmp/tr-on.out")
	if cmp -s "$tmp/tr-on.out" "$tmp/tr-off.out" && [ "$ntr" -gt 20 ]; then
		ok "gencap capture: --trace of 8 frames ($ntr rule lines) the same with and without the rule index"
	else
		not_ok "gencap capture: --trace with the rule index" "$(diff "$tmp/tr-on.out" "$tmp/tr-off.out" | head -3)"
	fi
	# a capture cut short: the same frames judged and the same message either way
	head -c 2000000 "$tmp/big.pcap" >"$tmp/cut.pcap"
	"$REPLAY" --policy bench/data/azureml.yaml --tags "$REAL_TAGS" --local "$LOCAL" \
		"$tmp/cut.pcap" >"$tmp/cut-t.out" 2>"$tmp/cut-t.err"
	rt=$?
	"$REPLAY" --policy bench/data/azureml.yaml --tags "$REAL_TAGS" --local "$LOCAL" \
		--single-thread "$tmp/cut.pcap" >"$tmp/cut-s.out" 2>"$tmp/cut-s.err"
	rs=$?
	if [ $rt -eq 2 ] && [ $rs -eq 2 ] && cmp -s "$tmp/cut-t.out" "$tmp/cut-s.out" &&
	   cmp -s "$tmp/cut-t.err" "$tmp/cut-s.err" && grep -q "read error after frame" "$tmp/cut-t.err"; then
		ok "truncated capture: reader thread and --single-thread report the same frames and error (exit 2)"
	else
		not_ok "truncated capture with the reader thread" "exit $rt / $rs" "$(tail -1 "$tmp/cut-t.err")" "$(tail -1 "$tmp/cut-s.err")"
	fi
fi

# --verify-checksums (nf_conntrack_checksum=1; t_agree's "checksums" case shows
# the kernel deciding each of these packets the same way): 17 received packets
# with a wrong TCP, UDP, ICMP, ICMPv6, UDP-Lite or SCTP checksum are invalid;
# the flow's first packet says why; without the option they are tracked
CK=tests/data/agree/checksums.pcap
CKPOL=tests/data/agree/policy.yaml
if run "verify-checksums" 0 "$REPLAY" --policy "$CKPOL" --tags "$TAGS" --local "$LOCAL" \
	--verify-checksums --format json "$CK"; then
	cp "$tmp/out" "$tmp/ck-on.json"
	run "verify-checksums (off)" 0 "$REPLAY" --policy "$CKPOL" --tags "$TAGS" --local "$LOCAL" \
		--format json "$CK" && cp "$tmp/out" "$tmp/ck-off.json"
	run "verify-checksums (text)" 0 "$REPLAY" --policy "$CKPOL" --tags "$TAGS" --local "$LOCAL" \
		--verify-checksums --trace 1,2 "$CK" && cp "$tmp/out" "$tmp/ck-on.txt"
	# the good SYN (frame 2) cut by the capture: tracked, undecidable
	python3 - "$CK" "$tmp/ck-cut.pcap" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
out, off, n = bytearray(d[:24]), 24, 0
while off < len(d):
    ts, us, cap, wire = struct.unpack("<IIII", d[off:off + 16])
    n += 1
    keep = cap - 4 if n == 2 else cap
    out += struct.pack("<IIII", ts, us, keep, wire) + d[off + 16:off + 16 + keep]
    off += 16 + cap
open(sys.argv[2], "wb").write(out)
EOF
	run "verify-checksums (cut)" 0 "$REPLAY" --policy "$CKPOL" --tags "$TAGS" --local "$LOCAL" \
		--verify-checksums --format json "$tmp/ck-cut.pcap" && cp "$tmp/out" "$tmp/ck-cut.json"
	if python3 - "$tmp/ck-on.json" "$tmp/ck-off.json" "$tmp/ck-cut.json" >"$tmp/py" 2>&1 <<'EOF'
import json, sys
on, off, cut = (json.load(open(f)) for f in sys.argv[1:4])
def flow(rep, proto, dport):
    return next(f for f in rep["flows"] if f["proto"] == proto and f.get("dport") == dport
                and f["dst"] in ("10.0.1.4", "fd00:10::4"))
t = on["totals"]
assert t["checksums_verified"] and t["bad_checksums"] == 17 and t["checksums_cut"] == 0, t
f = flow(on, "tcp", 44224)
assert f["verdict"] == "drop" and f["decided_by"] == "platform:invalid" and f["bad_checksum"], f
assert f["packets_accepted"] == 3 and f["packets_dropped"] == 3, f   # bad SYN, ACK, data
assert flow(on, "udplite", 52101)["verdict"] == "accept"    # summed the kernel's way
assert flow(on, "udplite", 52100)["bad_checksum"]           # right by RFC 3828
assert flow(on, "udp", 40601)["verdict"] == "accept"        # checksum 0: none
t = off["totals"]
assert not t["checksums_verified"] and t["bad_checksums"] == 0, t
f = flow(off, "tcp", 44224)
assert f["verdict"] == "accept" and f["decided_by"] == "user:AllowAzureMachineLearning", f
assert not f["bad_checksum"] and f["packets_dropped"] == 0, f
t = cut["totals"]
assert t["checksums_cut"] == 1 and t["bad_checksums"] == 17 and t["undecidable"] == 1, t
EOF
	then
		if grep -q "^  transport checksums verified (--verify-checksums): 17 bad (ct state invalid), 0 the capture cut (undecidable)$" "$tmp/ck-on.txt" &&
			grep -q "^    1  in   tcp .* drop     platform:invalid .* no-conntrack (bad checksum)$" "$tmp/ck-on.txt" &&
			[ "$(grep -c '^ => drop by platform:invalid (ct state invalid: bad checksum)$' "$tmp/ck-on.txt")" = 1 ] &&
			grep -q '^ => accept by user:AllowAzureMachineLearning (ct state new)$' "$tmp/ck-on.txt"; then
			ok "--verify-checksums: 17 bad checksums invalid (TCP, UDP, ICMP, ICMPv6, UDP-Lite as the kernel sums it, SCTP; the trace says why), a cut one undecidable; off: tracked"
		else
			not_ok "--verify-checksums: text report" "$(tail -3 "$tmp/ck-on.txt")"
		fi
	else
		not_ok "--verify-checksums: JSON report" "$(tail -3 "$tmp/py")"
	fi
fi

# `tcpdump -i any` (cooked SLL / SLL2): a packet the host sends itself shows
# once, coming in on lo, whatever its addresses -- loopback traffic (output,
# then input on lo), not a packet from the wire (t_agree plays both through
# the kernel: it agrees)
for c in cooked-loopback cooked2-loopback; do
	if run "$c" 0 "$REPLAY" --policy tests/data/agree/policy.yaml --tags "$TAGS" --local "$LOCAL" \
		--format json "tests/data/agree/$c.pcap" &&
		python3 - "$tmp/out" >"$tmp/py" 2>&1 <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
got = sorted((f["dir"], f["proto"], f["src"], f["decided_by"]) for f in j["flows"])
want = sorted([("lo", "icmp", "10.0.1.4", "platform:loopback"),
               ("lo", "icmpv6", "fd00:10::4", "platform:loopback"),
               ("lo", "tcp", "10.0.1.4", "platform:loopback"),
               ("lo", "udp", "127.0.0.1", "platform:loopback"),
               ("in", "tcp", "10.0.1.10", "default:AllowVnetInBound")])
assert got == want, got
EOF
	then
		ok "$c: packets in on lo are loopback traffic whatever their addresses; eth0's are not"
	else
		not_ok "$c: loopback from a cooked capture" "$(tail -3 "$tmp/py")"
	fi
done

# the tcpdump corpus: no crash, no hang; exit 0, or 2 with a message
if [ ! -d "$CORPUS" ]; then
	skip "tcpdump capture corpus" "$CORPUS absent (it lives in ../shared, outside a fresh clone)"
else
	corpus_policy=examples/policy.yaml
	"$REPLAY" --policy "$corpus_policy" --tags "$TAGS" "$DATA/udp.pcap" >/dev/null 2>"$tmp/err"
	if [ $? -eq 2 ] && grep -q "cannot load" "$tmp/err"; then
		echo "# examples/policy.yaml: $(tail -1 "$tmp/err"); corpus replayed with $POLICY"
		corpus_policy=$POLICY
	fi
	n=0 bad=0 msgs=() same=0 differ=()
	for f in "$CORPUS"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		# every other capture with transport checksums verified
		ck=()
		[ $((n % 2)) = 1 ] && ck=(--verify-checksums)
		timeout 30 "$REPLAY" --policy "$corpus_policy" --tags "$TAGS" --coverage \
			--format json "${ck[@]}" "$f" >"$tmp/cached.json" 2>"$tmp/err"
		rc=$?
		if [ $rc -eq 0 ]; then
			# the flow cache and the rule index change nothing: flows,
			# totals, coverage counts
			timeout 30 "$REPLAY" --policy "$corpus_policy" --tags "$TAGS" --coverage \
				--format json --no-flow-cache --no-rule-index "${ck[@]}" "$f" >"$tmp/full.json" 2>/dev/null
			if same_report "$tmp/cached.json" "$tmp/full.json"; then
				same=$((same + 1))
			else
				differ+=("$(basename "$f"): $(same_report "$tmp/cached.json" "$tmp/full.json" 2>&1 | head -2)")
			fi
			continue
		elif [ $rc -eq 2 ] && grep -q "^pcap-replay: " "$tmp/err"; then
			continue
		fi
		bad=$((bad + 1))
		case $rc in
		124) msgs+=("$(basename "$f"): hang (timeout)") ;;
		2) msgs+=("$(basename "$f"): exit 2 without a message") ;;
		*) msgs+=("$(basename "$f"): exit $rc $(grep -m1 -i 'sanitizer\|error' "$tmp/err")") ;;
		esac
	done
	if [ $bad -eq 0 ]; then
		ok "tcpdump corpus: $n captures, no crash or hang"
	else
		not_ok "tcpdump corpus: $bad of $n captures" "${msgs[@]:0:10}"
	fi
	if [ ${#differ[@]} -eq 0 ] && [ $same -gt 0 ]; then
		ok "tcpdump corpus: flow cache and rule index on and off give the same report ($same captures)"
	else
		not_ok "tcpdump corpus: flow cache / rule index change the report of ${#differ[@]} captures" \
			"${differ[@]:0:10}"
	fi
fi

[ $failures -eq 0 ]
