#!/bin/bash
# Live: what filterd tells about the traffic it filters and the table it keeps
# (issue 6).  One daemon in the "host" namespace of the standard topology
# (lib.sh topo_setup) with ownership=off and repair=off (so that a change made
# behind its back stays for `verify` to find), a drop pcap, a metrics textfile
# and verify_captures.  Denied real traffic must show up in the drop log (rule
# name, direction, tuple), in the drop pcap (which pcap-replay replays to the
# same drops) and in the per-rule metrics; the metrics parse strictly; show,
# verify (table diff + capture replay, passing and failing) and audit work for
# a reader and are refused to a user without a role.  Every namespace,
# process, test user and temp file is removed on exit, also on failure.
. "$(dirname "$0")/lib.sh"
live_init t_observe
T=$(live_tmp)
chmod 755 "$T"		# the role tests run filterctl as unprivileged test users
FILTERD=$O/filterd
REPLAY=$O/pcap-replay
PROMCHECK="$PY $ROOT/tests/tools/promcheck.py"
POL=$DATA/observe.yaml
if [ ! -x "$FILTERD" ] || [ ! -x "$REPLAY" ]; then
	not_ok "t_observe: $FILTERD or $REPLAY missing (make O=... all)"
	live_finish
fi

# ---- test users (roles); removed on exit whatever happens -----------------
U_R=fdobs_r$$ U_N=fdobs_n$$

# ---- helpers -------------------------------------------------------------
D=$T/d
LOG=$D/log
ctl() { FILTERD_SOCKET="$D/sock" "$FILTERCTL" "$@"; }
as_user() { local u=$1; shift; runuser -u "$u" -- env FILTERD_SOCKET="$D/sock" "$FILTERCTL" "$@"; }
# fd_start ARGS...: filterd in the host namespace; waits for its socket.
fd_start() {
	mkdir -p "$D"
	ip netns exec "$(ns_name host)" ${FD_WRAP:-} env ${FD_ENV:-} "$FILTERD" --policy "$D/policy.yaml" --tags "$TAGS" \
		--state-dir "$D/state" --socket "$D/sock" --set audit_log="$D/audit.log" \
		--set ownership=off --set repair=off --set socket_mode=0666 \
		--set role.reader=user:$U_R --set drop_pcap="$D/drops.pcap" --set drop_pcap_max=4096 \
		--set log_rate=1000 --set log_burst=1000 \
		--set metrics_file="$D/filterd.prom" --set metrics_interval=1 \
		--set pcap_replay="$REPLAY" "$@" >>"$LOG" 2>&1 &
	FD_PID=$!
	_live_pids+=("$FD_PID")
	if wait_until 10 ctl status; then return 0; fi
	echo "# filterd did not come up; log:"
	sed 's/^/#   /' "$LOG"
	return 1
}
fd_stop() {
	kill "$FD_PID" 2>/dev/null
	wait "$FD_PID" 2>/dev/null
}
metric() { ctl metrics | $PROMCHECK - --value "$1" 2>/dev/null; }	# prints the sum, or fails
metric_ge() { local v; v=$(metric "$1") && awk -v v="$v" -v m="$2" 'BEGIN { exit !(v >= m) }'; }

# ---- setup ---------------------------------------------------------------
if ! topo_setup; then
	not_ok "t_observe: topology"
	live_finish
fi
if useradd -M -N -s /usr/sbin/nologin "$U_R" && _users+=("$U_R") &&
	useradd -M -N -s /usr/sbin/nologin "$U_N" && _users+=("$U_N"); then
	HAVE_USERS=1
else
	HAVE_USERS=0
fi
mkdir -p "$D"
cp "$POL" "$D/policy.yaml"
# verify_captures: a passing and a failing expectation file over one capture
# (the drop pcap copied once traffic was denied).
cat >"$T/pass.expect" <<'EOF2'
deny  in  tcp from 203.0.113.0/24 to any port 22
deny  out tcp to 203.0.113.10 port 8443
EOF2
cat >"$T/fail.expect" <<'EOF2'
allow in  tcp from 203.0.113.0/24 to any port 22
EOF2
if ! FD_ENV="FILTERD_DEBUG_IDENT=1" fd_start --set verify_captures="$T/cap.pcap:$T/pass.expect"; then
	not_ok "t_observe: filterd starts"
	live_finish
fi
ok "filterd starts with drop log, drop pcap and metrics file"
if grep -q "event=drop-log group=" "$LOG"; then ok "drop log: NFLOG group bound"; else
	not_ok "drop log: NFLOG group bound" "$(cat "$LOG")"; fi

# ---- denied traffic -------------------------------------------------------
expect_denied "traffic: internet -> host tcp/22 denied" peers tcp $HOST4 22 $INET4
expect_denied "traffic: host -> internet tcp/8443 denied" host tcp $INET4 8443
expect_allowed "traffic: internet -> host tcp/80 allowed" peers tcp $HOST4 80 $INET4
checks_wait

drop_in() { grep -E "event=drop direction=in proto=tcp src=203\.0\.113\.10:[0-9]+ dst=10\.0\.1\.4:22 rule=user:DenySshFromInternet" "$LOG"; }
drop_out() { grep -E "event=drop direction=out proto=tcp src=10\.0\.1\.4:[0-9]+ dst=203\.0\.113\.10:8443 rule=user:DenyPartnerAlt" "$LOG"; }
if wait_until 5 drop_in; then ok "drop log: inbound denial with rule, direction and tuple"; else
	not_ok "drop log: inbound denial with rule, direction and tuple" "$(grep event=drop "$LOG")"; fi
if wait_until 5 drop_out; then ok "drop log: outbound denial with rule, direction and tuple"; else
	not_ok "drop log: outbound denial with rule, direction and tuple" "$(grep event=drop "$LOG")"; fi

# ---- metrics ---------------------------------------------------------------
if ctl metrics >"$T/metrics.txt" && $PROMCHECK "$T/metrics.txt" >"$T/pc.out" 2>&1; then
	ok "metrics: filterctl metrics parses strictly"
else
	not_ok "metrics: filterctl metrics parses strictly" "$(cat "$T/pc.out")"
fi
if command -v promtool >/dev/null 2>&1; then
	if ctl metrics | promtool check metrics >"$T/pt.out" 2>&1; then ok "metrics: promtool check metrics"; else
		not_ok "metrics: promtool check metrics" "$(cat "$T/pt.out")"; fi
else
	skip "metrics: promtool check metrics" "promtool not installed (apt-get install prometheus)"
fi
check "metrics: drops counted for DenySshFromInternet" \
	metric_ge 'filterd_drops_total{rule="DenySshFromInternet",category="user",direction="in"}' 1
check "metrics: drops counted for DenyPartnerAlt" \
	metric_ge 'filterd_drops_total{rule="DenyPartnerAlt",category="user",direction="out"}' 1
check "metrics: per-rule packets, dropped rule" \
	metric_ge 'filterd_rule_packets_total{rule="DenySshFromInternet",chain="inbound",action="dropped"}' 1
check "metrics: per-rule packets, logged rule" \
	metric_ge 'filterd_rule_packets_total{rule="DenySshFromInternet",chain="inbound",action="logged"}' 1
check "metrics: per-rule packets, accepted rule" \
	metric_ge 'filterd_rule_packets_total{rule="AllowWebFromInternet",action="accepted"}' 1
check "metrics: per-rule bytes" \
	metric_ge 'filterd_rule_bytes_total{rule="DenySshFromInternet",action="dropped"}' 40
check "metrics: NFLOG packets per rule" \
	metric_ge 'filterd_drop_log_packets_total{rule="DenySshFromInternet"}' 1
check "metrics: applies counted" metric_ge 'filterd_applies_total' 1
check "metrics: set element counts" metric_ge 'filterd_set_elements{set="vnet_v4"}' 1
check "metrics: tags changeNumber" metric_ge 'filterd_tags_change_number' 1
textfile_ok() { [ -s "$D/filterd.prom" ] && $PROMCHECK "$D/filterd.prom" &&
	$PROMCHECK "$D/filterd.prom" --value 'filterd_drops_total{rule="DenySshFromInternet"}' >/dev/null; }
if wait_until 5 textfile_ok; then ok "metrics: textfile written, valid, with the drops"; else
	not_ok "metrics: textfile written, valid, with the drops" "$(ls -la "$D")"; fi
if ls "$D"/*.tmp >/dev/null 2>&1; then not_ok "metrics: no temporary files left" "$(ls -la "$D")"; else
	ok "metrics: no temporary files left"; fi

# ---- drop pcap: replayed to the same drops ---------------------------------
pcap_has() { [ "$(stat -c %s "$D/drops.pcap" 2>/dev/null || echo 0)" -gt 100 ]; }
if wait_until 5 pcap_has; then ok "drop pcap: written"; else not_ok "drop pcap: written" "$(ls -la "$D")"; fi
if out=$("$REPLAY" --policy "$POL" --tags "$TAGS" --local $HOST4,$HOST6 --expect "$T/pass.expect" \
	--require-all --require-match "$D/drops.pcap" 2>&1); then
	ok "drop pcap: pcap-replay of the same policy denies every flow in it"
else
	not_ok "drop pcap: pcap-replay of the same policy denies every flow in it" "$out"
fi
# the cooked header says each packet's direction: no --local needed
if out=$("$REPLAY" --policy "$POL" --tags "$TAGS" --expect "$T/pass.expect" \
	--require-all --require-match "$D/drops.pcap" 2>&1) &&
	grep -q "capture 1: .*(LINUX_SLL, " <<<"$out" &&
	grep -Eq "^ +[0-9]+ +in +tcp +203\.0\.113\.10:[0-9]+ +10\.0\.1\.4:22 +drop +user:DenySshFromInternet" <<<"$out" &&
	grep -Eq "^ +[0-9]+ +out +tcp +10\.0\.1\.4:[0-9]+ +203\.0\.113\.10:8443 +drop +user:DenyPartnerAlt" <<<"$out"; then
	ok "drop pcap: Linux cooked capture, directions from it: the same verdicts without --local"
else
	not_ok "drop pcap: Linux cooked capture, directions from it: the same verdicts without --local" "$out"
fi
cp "$D/drops.pcap" "$T/cap.pcap"

# rotation: denied SYNs past drop_pcap_max (4 KiB); the log is rate-limited
syn_flood() {	# N: N connection attempts from the internet host to host:22 at once
	nsx peers "$PY" -c '
import socket, sys, time
socks = []
for i in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind((sys.argv[2], 0))
    s.setblocking(False)
    s.connect_ex((sys.argv[3], 22))
    socks.append(s)
time.sleep(0.3)
' "$1" $INET4 $HOST4
}
rotated() { [ -s "$D/drops.pcap.1" ]; }
for i in 1 2 3 4 5; do
	rotated && break
	syn_flood 60
done
if wait_until 3 rotated && [ "$(stat -c %s "$D/drops.pcap")" -le 4096 ] &&
	[ "$(stat -c %s "$D/drops.pcap.1")" -le 4096 ]; then
	ok "drop pcap: rotated to .1 at drop_pcap_max"
else
	not_ok "drop pcap: rotated to .1 at drop_pcap_max" "$(ls -la "$D")"
fi
if wait_until 3 grep -q "event=drop-suppressed suppressed=" "$LOG"; then ok "drop log: rate limit with a suppressed summary"; else
	not_ok "drop log: rate limit with a suppressed summary" "$(grep event=drop "$LOG")"; fi
# a flood of drops into the 4 KiB pcap rotates it many times: one log line a
# 10 s, with the count (5,000 lines in 6 s before)
syn_flood 400
syn_flood 400
nrot=$(metric filterd_drop_pcap_rotations_total)
nlines=$(grep -c "event=drop-pcap-rotated" "$LOG")
if [ "${nrot%.*}" -gt 5 ] && [ "$nlines" -le 2 ] && grep -q "event=drop-pcap-rotated .*rotations=" "$LOG"; then
	ok "drop pcap: $nlines rotation log line(s) for ${nrot%.*} rotations"
else
	not_ok "drop pcap: rotation log lines bounded" "rotations: $nrot, lines: $nlines"
fi

# ---- show -------------------------------------------------------------------
if out=$(ctl show 2>&1) && grep -q "sha256:.*$(sha256sum "$D/policy.yaml" | cut -c1-64)" <<<"$out" &&
	grep -Eq "inbound +[0-9]+ user +in +DenySshFromInternet +dropped +[1-9]" <<<"$out" &&
	grep -q 'counter drop' <<<"$out"; then
	ok "show: policy in force, rules with category, counters and nft text"
else
	not_ok "show: policy in force, rules with category, counters and nft text" "$out"
fi
if out=$(ctl show --json 2>&1) && $PY -c '
import json, sys
j = json.load(sys.stdin)
assert j["policy"]["workspace"] == "live-observe", j["policy"]
r = [x for x in j["rules"] if x.get("rule") == "DenySshFromInternet" and x["action"] == "dropped"]
assert r and r[0]["packets"] >= 1 and r[0]["category"] == "user" and r[0]["chain"] == "inbound", r
assert all("nft" in x for x in j["rules"]), "rule without nft text"
' <<<"$out" 2>"$T/py.err"; then ok "show --json"; else not_ok "show --json" "$(cat "$T/py.err")"; fi

# ---- status -------------------------------------------------------------------
if out=$(ctl status --json) && $PY -c '
import json, sys
s = json.load(sys.stdin)
for k in ("workspace", "policy_sha256", "tags_change_number", "applied_at", "applied_by",
          "pending_confirmation", "hbi_workspace", "hbi_locked"):
    assert k in s, k
' <<<"$out" 2>"$T/py.err"; then ok "status: workspace, sha256, changeNumber, applied at/by, pending, hbi"; else
	not_ok "status: workspace, sha256, changeNumber, applied at/by, pending, hbi" "$(cat "$T/py.err")"; fi

# ---- verify -----------------------------------------------------------------
if out=$(ctl verify 2>&1) && grep -q "matches the policy in force" <<<"$out" &&
	grep -q "cap.pcap with .*pass.expect: pass" <<<"$out"; then
	ok "verify: untouched table and passing capture -> exit 0"
else
	not_ok "verify: untouched table and passing capture -> exit 0" "$out"
fi
# one count of sets everywhere: the named ones (verify counted the rules'
# anonymous sets too, status did not)
counts_agree() {
	local st v d
	st=$(ctl status --json | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(j["rules"], j["sets"])') &&
		v=$(ctl verify --json | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(j["rules"], j["sets"])') &&
		d=$(nsx host "$FILTERCTL" dump --out "$T/counts.frs" | sed -n 's/.*: \([0-9]*\) rules, \([0-9]*\) sets, .*/\1 \2/p') &&
		[ -n "$st" ] && [ "$st" = "$v" ] && [ "$st" = "$d" ] ||
		{ echo "status: $st, verify: $v, dump: $d"; return 1; }
}
check "status, verify and dump count the same rules and sets" counts_agree
# behind filterd's back (ownership=off, repair=off): an extra rule and a lost element
nsx host nft add rule inet filterd inbound accept
nsx host nft delete element inet filterd vnet_v4 '{ 10.0.0.0/16 }'
if wait_until 5 grep -q "event=drift.*repair=off" "$LOG"; then ok "drift: detected and only logged (repair=off)"; else
	not_ok "drift: detected and only logged (repair=off)" "$(grep event=drift "$LOG")"; fi
out=$(ctl verify 2>&1); rc=$?
if [ $rc = 1 ] && grep -q "chain inbound: unexpected rule .*accept" <<<"$out" &&
	grep -q "set vnet_v4: missing element 10.0.0.0/16" <<<"$out" && grep -q "verify: FAILED (2 differences" <<<"$out"; then
	ok "verify: table changed behind filterd's back -> exit 1, every difference named"
else
	not_ok "verify: table changed behind filterd's back -> exit 1, every difference named" "rc=$rc" "$out"
fi

# ---- audit --------------------------------------------------------------------
if out=$(ctl audit 2>&1) && grep -q "startup: applied" <<<"$out" && grep -q "drift: detected" <<<"$out"; then
	ok "audit: read back through filterd"
else
	not_ok "audit: read back through filterd" "$out"
fi
if out=$(ctl audit --since 1h --json 2>&1) && [ -n "$out" ] && $PY -c '
import json, sys
for l in sys.stdin: json.loads(l)' <<<"$out"; then ok "audit --since 1h --json"; else not_ok "audit --since 1h --json" "$out"; fi
out=$(ctl audit --since 2099-01-01T00:00:00Z 2>&1)
if [ $? = 0 ] && [ -z "$out" ]; then ok "audit --since RFC3339 in the future: nothing"; else
	not_ok "audit --since RFC3339 in the future: nothing" "$out"; fi
out=$(ctl audit --since yesterday 2>&1)
if [ $? = 2 ]; then ok "audit --since: bad value is a usage error"; else not_ok "audit --since: bad value is a usage error" "$out"; fi

# ---- roles ----------------------------------------------------------------------
if [ $HAVE_USERS = 1 ]; then
	lookups() { grep -c "event=ident-lookup uid=$(id -u "$1") " "$LOG"; }
	l0r=$(lookups "$U_R") l0n=$(lookups "$U_N")
	for op in show metrics verify audit; do
		out=$(as_user "$U_R" $op 2>&1); rc=$?
		# verify fails (the table was changed) but is answered
		if [ $rc = 0 ] || { [ $op = verify ] && [ $rc = 1 ] && grep -q "difference:" <<<"$out"; }; then
			ok "roles: reader can run $op"
		else
			not_ok "roles: reader can run $op" "rc=$rc" "$out"
		fi
		out=$(as_user "$U_N" $op 2>&1); rc=$?
		if [ $rc = 5 ] && grep -q "permission denied" <<<"$out"; then ok "roles: no role, no $op"; else
			not_ok "roles: no role, no $op" "rc=$rc" "$out"; fi
	done
	# who a uid is (name, groups) is asked of NSS once for these requests, not
	# two or three times a request in the loop (a slow LDAP held every client)
	if [ $(($(lookups "$U_R") - l0r)) -le 1 ] && [ $(($(lookups "$U_N") - l0n)) -le 1 ] &&
		[ "$(lookups "$U_R")" -ge 1 ]; then
		ok "roles: a user's identity is looked up once for 4 requests (cached $((30)) s)"
	else
		not_ok "roles: a user's identity is looked up once for 4 requests" \
			"reader: $l0r -> $(lookups "$U_R"), no role: $l0n -> $(lookups "$U_N")"
	fi
	# A directory service that hangs on one user's lookup holds that user's
	# client only: filterd asks NSS in a thread of its own, so root (no
	# lookup) is answered meanwhile, and the user once the lookup returns.
	# The hanging source is an NSS module (nss_gate.c) in a mount namespace of
	# filterd's own, whose /etc/nsswitch.conf lists it before files.
	if cc -shared -fPIC -o "$T/libnss_fdgate.so.2" "$ROOT/tests/live/nss_gate.c" 2>"$T/cc.err"; then
		sed -E 's/^passwd:[[:space:]]*/passwd: fdgate /' /etc/nsswitch.conf >"$T/nsswitch.conf"
		grep -q '^passwd: fdgate' "$T/nsswitch.conf" || echo "passwd: fdgate files" >>"$T/nsswitch.conf"
		printf '#!/bin/sh\nmount --bind "%s" /etc/nsswitch.conf || exit 1\nexec "$@"\n' \
			"$T/nsswitch.conf" >"$T/nsswrap.sh"
		chmod 755 "$T/nsswrap.sh"
		fd_stop
		GATE=$T/gate
		if FD_WRAP="unshare -m --propagation private $T/nsswrap.sh" \
			FD_ENV="FILTERD_DEBUG_IDENT=1 LD_LIBRARY_PATH=$T FDGATE_UID=$(id -u "$U_R") FDGATE_FILE=$GATE" \
			fd_start; then
			as_user "$U_R" status >"$T/slow.out" 2>&1 &
			slow=$!
			if wait_until 10 test -e "$GATE.waiting"; then
				out=$(timeout 8 env FILTERD_SOCKET="$D/sock" "$FILTERCTL" status 2>&1); rc=$?
				if [ $rc = 0 ] && [ ! -e "$GATE" ]; then
					ok "roles: root is answered while a user's lookup hangs in NSS"
				else
					not_ok "roles: root is answered while a user's lookup hangs in NSS" "rc=$rc" "$out"
				fi
				# another user is looked up by another worker meanwhile
				out=$(as_user "$U_N" status 2>&1); rc=$?
				if [ $rc = 5 ] && [ ! -e "$GATE" ] &&
					grep -q "event=ident-lookup uid=$(id -u "$U_N") " "$LOG"; then
					ok "roles: another user's lookup is answered while one hangs (no role: refused)"
				else
					not_ok "roles: another user's lookup is answered while one hangs" "rc=$rc" "$out" \
						"$(grep ident "$LOG" | tail -3)"
				fi
				# the hung one: after 5 s known by uid and gid alone, so
				# role.reader=user:NAME does not match -- fewer rights
				wait "$slow"; rc=$?
				if [ $rc = 5 ] && [ ! -e "$GATE" ] &&
					grep -q "event=ident-slow uid=$(id -u "$U_R") " "$LOG"; then
					ok "roles: a lookup unanswered for 5 s: the client is known by uid alone (user: entries do not match), logged"
				else
					not_ok "roles: a lookup unanswered for 5 s: known by uid alone" "rc=$rc" \
						"$(cat "$T/slow.out")" "$(grep ident "$LOG" | tail -3)"
				fi
				touch "$GATE"
				if wait_until 10 grep -q "event=ident-lookup uid=$(id -u "$U_R") " "$LOG" &&
					out=$(as_user "$U_R" status 2>&1) && grep -q "policy" <<<"$out"; then
					ok "roles: once the lookup returns, the user has its role again"
				else
					not_ok "roles: once the lookup returns, the user has its role again" "$out"
				fi
			else
				touch "$GATE"
				wait "$slow"
				not_ok "roles: root is answered while a user's lookup hangs in NSS" \
					"the NSS module never held a lookup (no $GATE.waiting)" "$(tail -5 "$LOG")"
			fi
		else
			not_ok "roles: filterd under a hanging NSS source did not come up"
		fi
		fd_stop
	else
		not_ok "roles: could not build the hanging NSS module" "$(cat "$T/cc.err")"
	fi
else
	skip "roles" "cannot create test users"
fi

# ---- a failing capture expectation -------------------------------------------------
fd_stop
if fd_start --set verify_captures="$T/cap.pcap:$T/pass.expect,$T/cap.pcap:$T/fail.expect"; then
	out=$(ctl verify 2>&1); rc=$?
	if [ $rc = 1 ] && grep -q "matches the policy in force" <<<"$out" &&
		grep -q "pass.expect: pass" <<<"$out" && grep -q "fail.expect: fail" <<<"$out"; then
		ok "verify: restart repaired the table; a failing capture expectation -> exit 1"
	else
		not_ok "verify: restart repaired the table; a failing capture expectation -> exit 1" "rc=$rc" "$out"
	fi
else
	not_ok "verify: second daemon starts"
fi

# ---- a report larger than a pipe holds ---------------------------------------------
# 1,500 inbound UDP flows (~200 KiB of report): the replay job's child writes
# it whole (with the pipe non-blocking at its end too, it gave up at 64 KiB:
# "the replay job ended without a report")
"$PY" - "$T/big.pcap" <<'PYEOF'
import struct, sys
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
out = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101)]   # LINKTYPE_RAW
for i in range(1500):
    src = bytes([203, 0, 113, 1 + i % 200]); dst = bytes([10, 0, 1, 4])
    udp = struct.pack("!HHHH", 20000 + i, 7000 + i % 50, 12, 0) + b"big!"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    out.append(struct.pack("<IIII", 1700000000 + i, 0, len(ip + udp), len(ip + udp)) + ip + udp)
open(sys.argv[1], "wb").write(b"".join(out))
PYEOF
printf 'deny in udp from 203.0.113.0/24 to any\n' >"$T/big.expect"
fd_stop
if fd_start --set verify_captures="$T/big.pcap:$T/big.expect"; then
	out=$(ctl verify 2>&1); rc=$?
	n=$(ctl verify --json 2>/dev/null | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["captures"][0]["output"]))' 2>/dev/null)
	if [ $rc = 0 ] && grep -q "big.expect: pass" <<<"$out" && [ "${n:-0}" -gt 65536 ]; then
		ok "verify: a capture report of $n bytes (more than a pipe holds) comes back whole"
	else
		not_ok "verify: a report larger than a pipe holds" "rc=$rc report=${n:-?} bytes" "$(head -5 <<<"$out")"
	fi
	if ! ls "$D/state"/verify-*.ruleset >/dev/null 2>&1; then
		ok "verify: no dump of the replays is left in the state directory"
	else
		not_ok "verify: no dump left in the state directory" "$(ls "$D/state")"
	fi
else
	not_ok "verify: daemon with a large capture starts"
fi

# ---- verify's replays run beside the loop ------------------------------------------------
# A pcap-replay that waits for a go file: while it waits, filterd answers
# other requests; further verifies join the running one (one job, one
# replay); a client that shut its sending side gets the answer too; a job past
# FILTERD_VERIFY_TIMEOUT_S is killed with its replay; a client that hangs up
# costs nothing; stopping filterd tells a waiting client why.
cat >"$T/slow-replay" <<EOF2
#!/bin/bash
echo \$\$ >>"$T/slow.pids"
while [ ! -e "$T/go" ]; do sleep 0.1; done
exec "$REPLAY" "\$@"
EOF2
chmod 755 "$T/slow-replay"
waiting_is() {	# verify_running.waiting in status equals $1
	ctl status --json 2>/dev/null | $PY -c '
import json, sys
v = json.load(sys.stdin).get("verify_running")
sys.exit(0 if v and v["waiting"] == int(sys.argv[1]) else 1)' "$1"
}
half_closed_verify() {	# sends the request, shuts its sending side, reads the answer
	$PY - "$D/sock" <<'EOF3'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"op":"verify"}\n')
s.shutdown(socket.SHUT_WR)
s.settimeout(60)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
sys.stdout.write(data.decode())
EOF3
}
slow_pid_dead() { local p; p=$(tail -n 1 "$T/slow.pids" 2>/dev/null) && [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null; }
fd_stop
rm -f "$T/go" "$T/slow.pids"
LOG0=$(wc -l <"$LOG")
log_new() { tail -n +$((LOG0 + 1)) "$LOG"; }
if FD_ENV="FILTERD_VERIFY_TIMEOUT_S=8" fd_start --set pcap_replay="$T/slow-replay" \
	--set verify_captures="$T/cap.pcap:$T/pass.expect"; then
	ctl verify >"$T/v1.out" 2>&1 & V1=$!
	if wait_until 10 test -s "$T/slow.pids" && out=$(timeout 5 env FILTERD_SOCKET="$D/sock" "$FILTERCTL" status 2>&1) &&
		grep -q "verify_running .*waiting=1" <<<"$out"; then
		ok "verify: status is answered while the replays run (verify_running shown)"
	else
		not_ok "verify: status is answered while the replays run (verify_running shown)" "$out"
	fi
	ctl verify >"$T/v2.out" 2>&1 & V2=$!
	half_closed_verify >"$T/v3.out" 2>&1 & V3=$!
	if wait_until 10 waiting_is 3; then ok "verify: two more verifies wait for the running one"; else
		not_ok "verify: two more verifies wait for the running one" "$(ctl status 2>&1)"; fi
	touch "$T/go"
	wait $V1; r1=$?; wait $V2; r2=$?; wait $V3
	if [ $r1 = 0 ] && [ $r2 = 0 ] && grep -q "pass.expect: pass" "$T/v1.out" && grep -q "pass.expect: pass" "$T/v2.out" &&
		$PY -c 'import json,sys; a=json.load(open(sys.argv[1])); sys.exit(0 if a["clean"] and a["captures"][0]["status"] == "pass" else 1)' "$T/v3.out" &&
		[ "$(wc -l <"$T/slow.pids")" = 1 ] && [ "$(log_new | grep -c "event=verify-started")" = 1 ] &&
		log_new | grep -q "event=verify differences=0 captures=1 result=clean waiting=3"; then
		ok "verify: one job answers all three (the half-closed client too), one replay ran"
	else
		not_ok "verify: one job answers all three (the half-closed client too), one replay ran" \
			"r1=$r1 r2=$r2" "$(cat "$T/v1.out" "$T/v2.out" "$T/v3.out" "$T/slow.pids")" "$(log_new | grep "event=verify")"
	fi
	rm -f "$T/go"
	out=$(ctl verify 2>&1); rc=$?
	if [ $rc = 1 ] && grep -q "captures: not replayed: the replays did not finish within 8 s: killed" <<<"$out" &&
		grep -q "verify: FAILED" <<<"$out" && wait_until 5 slow_pid_dead && [ "$(wc -l <"$T/slow.pids")" = 2 ] &&
		! ls "$D/state"/verify-*.ruleset >/dev/null 2>&1; then
		ok "verify: a job past its time is killed with its replay, its dump removed; the answer says so (exit 1)"
	else
		not_ok "verify: a job past its time is killed with its replay; the answer says so (exit 1)" "rc=$rc" "$out"
	fi
	timeout 1 env FILTERD_SOCKET="$D/sock" "$FILTERCTL" verify >/dev/null 2>&1	# hangs up after 1 s
	touch "$T/go"
	hung_up() { log_new | grep -q "event=verify differences=0 captures=1 result=clean waiting=1"; }
	if wait_until 10 hung_up &&
		ctl status >/dev/null 2>&1 && kill -0 "$FD_PID" 2>/dev/null; then
		ok "verify: a client that hung up while waiting costs nothing"
	else
		not_ok "verify: a client that hung up while waiting costs nothing" "$(tail -5 "$LOG")"
	fi
	# a verify asked after the policy changed does not join the running one:
	# it gets a job of its own, after it (it was answered about the old policy)
	rm -f "$T/go"
	vs0=$(log_new | grep -c "event=verify-started")
	ctl verify --json >"$T/v5.json" 2>/dev/null & V5=$!
	wait_until 10 waiting_is 1
	sed 's/destination_ports: "80"/destination_ports: "8080"/' "$D/policy.yaml" >"$T/changed.yaml"
	ctl apply "$T/changed.yaml" >/dev/null 2>&1
	ctl verify --json >"$T/v6.json" 2>/dev/null & V6=$!
	wait_until 10 waiting_is 2
	touch "$T/go"
	wait $V5; wait $V6
	sha() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["policy"]["sha256"])' "$1" 2>/dev/null; }
	want=$(sha256sum "$T/changed.yaml" | cut -d' ' -f1)
	if [ "$(sha "$T/v6.json")" = "$want" ] && [ "$(sha "$T/v5.json")" != "$want" ] &&
		[ "$(log_new | grep -c "event=verify-started")" = $((vs0 + 2)) ]; then
		ok "verify: one asked after an apply gets a job of its own (the new policy's), not the running one's answer"
	else
		not_ok "verify: one asked after an apply is not answered about the old policy" \
			"v5: $(sha "$T/v5.json") v6: $(sha "$T/v6.json") want: $want" "$(log_new | grep event=verify-started)"
	fi
	rm -f "$T/go"
	ctl verify >"$T/v4.out" 2>&1 & V4=$!
	wait_until 10 waiting_is 1
	fd_stop
	wait $V4; r4=$?
	if [ $r4 = 1 ] && grep -q "captures: not replayed: filterd is stopping" "$T/v4.out" && wait_until 5 slow_pid_dead; then
		ok "verify: stopping filterd answers the waiting client and kills the replay"
	else
		not_ok "verify: stopping filterd answers the waiting client and kills the replay" "r4=$r4" "$(cat "$T/v4.out")" "$(log_new | tail -8)"
	fi
	touch "$T/go"
else
	not_ok "verify: daemon with a slow replay starts"
fi

# ---- audit log rotation ----------------------------------------------------------------
fd_stop
rm -f "$D/audit.log.1"
if fd_start --set audit_log_max=4096; then
	for i in $(seq 1 30); do ctl reload >/dev/null 2>&1; done
	if [ -s "$D/audit.log.1" ] && [ "$(stat -c %s "$D/audit.log")" -le 4096 ] &&
		ctl audit | grep -q "reload"; then
		ok "audit: rotated to .1 at audit_log_max, still read back"
	else
		not_ok "audit: rotated to .1 at audit_log_max, still read back" "$(ls -la "$D")"
	fi
fi
fd_stop
live_finish
