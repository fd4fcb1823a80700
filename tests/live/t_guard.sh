#!/bin/bash
# t_guard — the control socket and the safe-apply guard under a hostile or
# careless local user (the findings of a security review, each a case):
#
#   - a reader that reads its answer slowly does not stall the daemon: other
#     clients are answered, the confirmation timer fires on time, and the slow
#     client is cut off after the send deadline
#   - a user with no role cannot make filterd parse a large request (64 KiB
#     limit below the contributor role; peak memory measured)
#   - refused requests cannot flush the audit log: past 20 a minute per user
#     they are counted, and one record says how many
#   - the confirmation window holds: one at a time, a rejected apply does not
#     cancel it, a restart neither (resumed, or rolled back when it ended
#     while filterd was down), an hbi policy latches only once confirmed, a
#     confirm_within that is not an integer is refused
#   - names a client gives (policy_name, workspace) cannot forge log lines
#   - a second filterd cannot take over (and then delete) a live socket
#   - set-roles audits the whole lists; a long error keeps its reason
# Only a scratch namespace; no packet is sent.
. "$(dirname "$0")/lib.sh"
live_init t_guard
FILTERD=$O/filterd
T=$(live_tmp)
chmod 755 "$T"	# the test users reach the socket and read the policies
U_R=fdg_r$$ U_C=fdg_c$$ U_N=fdg_n$$

ctl() { FILTERD_SOCKET="$T/sock" "$FILTERCTL" "$@"; }
as_user() { local u=$1; shift; runuser -u "$u" -- env FILTERD_SOCKET="$T/sock" "$FILTERCTL" "$@"; }
# raw USER JSON: one request as USER, the answer on stdout
raw() {
	runuser -u "$1" -- "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode() + b"\n")
b = b""
while not b.endswith(b"\n"):
    d = s.recv(65536)
    if not d: break
    b += d
print(b.decode(errors="replace").strip())' "$T/sock" "$2"
}
log_has() { grep -q -- "$1" "$T/log"; }
nlog() { grep -c -- "$1" "$T/log"; }
status_get() { ctl status --json | "$PY" -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("null" if v is None else v)' "$1"; }
# pol WORKSPACE HBI [PORT]: a small policy; PORT adds an inbound allow (AllowInet<PORT>)
pol() {
	cat <<EOF
version: 1
workspace: $1
hbi_workspace: $2
virtual_network:
  address_space: [10.0.0.0/16]
managed_network:
  isolation_mode: disabled
security_rules:
  - name: AllowAzureMachineLearning
    priority: 110
    direction: inbound
    access: allow
    protocol: tcp
    source: AzureMachineLearning
    destination_ports: "44224"
EOF
	[ -n "${3:-}" ] && cat <<EOF
  - name: AllowInet$3
    priority: 120
    direction: inbound
    access: allow
    protocol: tcp
    source: 203.0.113.0/24
    destination_ports: "$3"
EOF
}
in_force() { ctl show 2>/dev/null | grep -q "AllowInet$1"; }

ns_add host || { not_ok "guard: namespace"; live_finish; }
for u in "$U_R" "$U_C" "$U_N"; do
	useradd -M -N -s /usr/sbin/nologin "$u" && _users+=("$u") || { skip "guard" "cannot create test users"; live_finish; }
done
pol ws false >"$T/policy.yaml"
pol ws false 8080 >"$T/B.yaml"
pol ws false 8081 >"$T/C.yaml"
pol ws true | sed 's/^hbi_workspace: true/hbi_workspace: true/' >"$T/H.yaml"
cat >>"$T/H.yaml" <<EOF
  - name: AllowInet8082
    priority: 120
    direction: inbound
    access: allow
    protocol: tcp
    source: 10.0.5.0/24
    destination_ports: "8082"
EOF
{ pol ws false; echo "  - name: broken"; echo "    priority: nope"; } >"$T/broken.yaml"
chmod 644 "$T"/*.yaml
# audit_file FILE COUNT DATE FILLER: COUNT root apply records of that date
audit_file() {
	"$PY" -c '
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"time": sys.argv[3] + "T00:00:00.000Z", "uid": 0, "user": "root", "via": "socket",
                            "op": "apply", "result": "applied", "detail": sys.argv[4] * 120, "n": i}) + "\n")' "$@"
	chmod 600 "$1"
}
# an audit log of ~5 MiB before start: the reader's answer fills many socket buffers
audit_file "$T/audit.log" 30000 2026-01-01 x
# and a rotated one of ~16 MiB (audit_log_max's default): every audit request
# used to read and parse both whole files on the loop
audit_file "$T/audit.log.1" 90000 2025-12-01 y
cp "$TAGS" "$T/tags.json"

start() { # EXTRA ARGS...: filterd in host; waits for its socket
	nsx host env FILTERD_REFUSAL_WINDOW_S=3 "$FILTERD" --policy "$T/policy.yaml" --tags "$T/tags.json" \
		--state-dir "$T/state" --socket "$T/sock" --set audit_log="$T/audit.log" \
		--set audit_log_max=67108864 --set role.reader=user:$U_R \
		--set role.contributor=user:$U_C --set socket_mode=0666 "$@" >>"$T/log" 2>&1 &
	_live_pids+=($!)
	wait_until 10 ctl status
}
fd_pid() { pgrep -f -- "--state-dir $T/state --socket $T/sock " | head -1; }
stop() { local p; p=$(fd_pid); [ -n "$p" ] && kill -TERM "$p"; wait_until 10 sh -c "! kill -0 ${p:-0}"; }

if start; then ok "guard: filterd up (reader $U_R, contributor $U_C, no role $U_N)"
else not_ok "guard: filterd up" "$(tail -5 "$T/log")"; live_finish; fi
PID=$(fd_pid)

# ---- a slow reader does not stall the loop ----------------------------------------
runuser -u "$U_R" -- "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"{\"op\":\"audit\"}\n")
time.sleep(1); print("got %d bytes" % len(s.recv(4096)), flush=True)
for i in range(14):	# a little every 1.5 s: a per-send timeout never expires
    time.sleep(1.5); s.recv(65536)' "$T/sock" >"$T/slow.out" 2>&1 &
slow=$!
_live_pids+=($slow)
if wait_until 5 grep -q "got 4096 bytes" "$T/slow.out"; then ok "slow reader: connected as $U_R, asked for the audit log, read 4 KiB of it"
else not_ok "slow reader: connected and read" "$(cat "$T/slow.out")"; fi
t0=$(date +%s%N)
out=$(timeout 10 env FILTERD_SOCKET="$T/sock" "$FILTERCTL" status 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $rc -eq 0 ] && [ $ms -lt 3000 ]; then ok "slow reader: root's status answered in ${ms} ms while a reader does not read its 5 MiB answer"
else not_ok "slow reader: root's status answered while a reader stalls" "exit $rc after ${ms} ms" "$out"; fi
rb0=$(nlog 'event=rolled-back')
if ctl apply "$T/B.yaml" --confirm-within 2 >/dev/null 2>&1 && wait_until 6 sh -c "[ \$(grep -c event=rolled-back '$T/log') -gt $rb0 ]"; then
	ok "slow reader: a 2 s confirmation window still ends in a rollback on time"
else not_ok "slow reader: the confirmation timer fires on time" "$(tail -4 "$T/log")"; fi
if wait_until 14 log_has "event=client-timeout uid=$(id -u "$U_R") while=sending-answer"; then
	ok "slow reader: cut off after the send deadline (event=client-timeout while=sending-answer)"
else not_ok "slow reader: cut off after the send deadline" "$(grep client "$T/log" | tail -3)"; fi
kill $slow 2>/dev/null; wait $slow 2>/dev/null

# ---- a reader asking for the audit log again and again does not stall the loop ----
# 8 connections (the per-user limit), each asking for everything since 1970 over
# and over; root is answered meanwhile, and the answer is the newest records
runuser -u "$U_R" -- "$PY" -c '
import json, socket, sys, threading, time
end = time.time() + 6
sizes = []
def one():
    while time.time() < end:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
        s.sendall(b"{\"op\":\"audit\",\"since\":1}\n")
        b = b""
        while not b.endswith(b"\n"):
            d = s.recv(1 << 20)
            if not d: break
            b += d
        s.close()
        a = json.loads(b)
        sizes.append((len(a["records"]), sum(len(r) for r in a["records"]), a["records"][0], a["records"][-1]))
ts = [threading.Thread(target=one) for _ in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
n, total, first, last = sizes[-1]
json.loads(first); json.loads(last)
print(len(sizes), n, total)
print(last)' "$T/sock" >"$T/audits.out" 2>&1 &
aud=$!
_live_pids+=($aud)
sleep 1
worst=0
for i in 1 2 3 4; do
	t0=$(date +%s%N)
	timeout 20 env FILTERD_SOCKET="$T/sock" "$FILTERCTL" status >/dev/null 2>&1 || worst=99999
	ms=$(( ($(date +%s%N) - t0) / 1000000 )); [ $ms -gt $worst ] && worst=$ms
	sleep 0.5
done
wait $aud
read -r nreq nrec total <"$T/audits.out"
if [ "$worst" -lt 3000 ] && [ "${nreq:-0}" -ge 8 ] && [ "${total:-99999999}" -le $((6 << 20)) ] &&
	[ "${total:-0}" -gt $((5 << 20)) ] && [ "$(sed -n 2p "$T/audits.out")" = "$(tail -1 "$T/audit.log")" ] &&
	runuser -u "$U_R" -- env FILTERD_SOCKET="$T/sock" "$FILTERCTL" audit 2>&1 >/dev/null |
		grep -q "older records left out: an answer holds the newest 6 MiB of the audit log; the whole log is $T/audit.log"; then
	ok "audit: 8 connections of a reader asking for 21 MiB of audit log: root's status answered within ${worst} ms; each answer the newest $nrec whole records (${total} bytes, ending with the last), and filterctl says older ones were left out"
else not_ok "audit: a reader's audit requests do not stall the loop" "root's worst status: ${worst} ms" "$(cat "$T/audits.out")"; fi

# ---- a socket that refuses the caller: exit 5 (permission), not 4 (unreachable) ----
chmod 0600 "$T/sock"
out=$(as_user "$U_R" status 2>&1); rc=$?
chmod 0666 "$T/sock"
if [ $rc -eq 5 ] && grep -q "permission denied on filterd's socket .*needs its group (filterd's socket_group) as well as a role" <<<"$out"; then
	ok "a reader the socket's mode refuses: exit 5 and why (the socket's group), not 'cannot reach'"
else not_ok "socket permission refusal is exit 5" "exit $rc" "$out"; fi

# ---- no role, no large request ---------------------------------------------------
hwm() { awk '/VmHWM/ { print $2 }' "/proc/$PID/status"; }
h0=$(hwm)
ans=$(runuser -u "$U_N" -- "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
try:
    s.sendall(b"[" + b"{}," * ((4 << 20) // 3) + b"{}]\n")
except OSError:
    pass
print(s.recv(4096).decode())' "$T/sock" 2>&1)
h1=$(hwm)
if grep -q "request larger than 64 KiB" <<<"$ans" && [ "$((h1 - h0))" -lt 20000 ]; then
	ok "no role: a 4 MiB request is refused at 64 KiB; peak memory ${h0} -> ${h1} kB"
else not_ok "no role: a large request refused before parsing" "answer: $ans" "VmHWM ${h0} -> ${h1} kB"; fi
big=$("$PY" -c 'print("x" * 200000)')
if out=$(as_user "$U_C" apply "$T/B.yaml" --daemon --confirm-within 30 2>&1) && ctl rollback >/dev/null 2>&1; then
	ok "contributor: requests over 64 KiB are still taken (apply)"
else not_ok "contributor: apply still taken" "$out"; fi

# ---- refused requests cannot flush the audit log -----------------------------------
as_user "$U_C" apply "$T/B.yaml" --daemon >/dev/null 2>&1
ctl apply "$T/policy.yaml" >/dev/null 2>&1
runuser -u "$U_N" -- "$PY" -c '
import socket, sys
for i in range(300):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"{\"op\":\"status\"}\n"); s.recv(4096); s.close()' "$T/sock"
uid_n=$(id -u "$U_N")
n=$(grep -c "\"uid\":$uid_n,.*\"result\":\"refused\"" "$T/audit.log")
if [ "$n" -eq 10 ] && grep -q "\"user\":\"$U_C\".*\"op\":\"apply\",\"result\":\"applied\"" "$T/audit.log"; then
	ok "refusal flood: 300 refused requests, 10 audited one by one; the contributor's apply still there"
else not_ok "refusal flood: 10 audited one by one" "got $n"; fi
if wait_until 6 grep -q "\"op\":\"refused-summary\".*290 further refused" "$T/audit.log" &&
   log_has "event=refusals-suppressed uid=$uid_n count=290"; then
	ok "refusal flood: one summary record counts the other 290"
else not_ok "refusal flood: a summary record" "$(grep summary "$T/audit.log" | tail -2)"; fi

# ---- the confirmation window holds ------------------------------------------------
# (from the confirmed policy A: a window guards a change, and B is in force now)
pol ws false >"$T/A.yaml"
ctl apply "$T/A.yaml" >/dev/null 2>&1
ctl apply "$T/B.yaml" --confirm-within 6 >/dev/null 2>&1
out=$(ctl apply "$T/C.yaml" --confirm-within 6 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "waiting for confirmation" <<<"$out" && ! in_force 8081; then
	ok "window: a second confirm-apply is refused while one waits"
else not_ok "window: a second confirm-apply is refused" "exit $rc" "$out"; fi
out=$(ctl apply "$T/broken.yaml" --daemon 2>&1); rc=$?
if [ $rc -eq 1 ] && [ "$(status_get pending_confirmation)" != null ]; then
	ok "window: a rejected plain apply leaves the window open"
else not_ok "window: a rejected plain apply leaves the window open" "exit $rc" "$(ctl status 2>&1)"; fi
# what filterctl says of it: the diagnostic once, then the outcome
if [ "$(grep -c 'broken.yaml:[0-9]*:[0-9]*: error: ' <<<"$out")" = 4 ] &&
   [ "$(grep -c "'priority' must be an integer, not 'nope'" <<<"$out")" = 1 ] &&
   grep -q "^filterctl: rejected by filterd (4 errors); the rules in force are unchanged$" <<<"$out"; then
	ok "a rejected apply through filterd: each diagnostic once, then 'rejected by filterd (4 errors)'"
else not_ok "a rejected apply through filterd: diagnostics and outcome" "$out"; fi
if wait_until 9 sh -c "! FILTERD_SOCKET='$T/sock' '$FILTERCTL' show | grep -q AllowInet8080"; then
	ok "window: rolled back to the confirmed policy at the deadline"
else not_ok "window: rolled back at the deadline" "$(tail -3 "$T/log")"; fi
# the policy rolled back was never confirmed: it is no rollback target
out=$(ctl rollback 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "no previous policy to roll back to" <<<"$out" && ! in_force 8080; then
	ok "window: after rolling back an unconfirmed policy, 'rollback' does not bring it back"
else not_ok "window: the unconfirmed policy is no rollback target" "exit $rc" "$out"; fi
# a rollback that fails keeps the window open (the previous policy names a tag
# the tags file lost), and says so; it goes through once the tags are back
ctl apply "$T/B.yaml" --confirm-within 3 >/dev/null 2>&1
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["changeNumber"] += 1
d["values"] = [v for v in d["values"] if v["name"] != "AzureMachineLearning"]
json.dump(d, open(sys.argv[2], "w"))' "$TAGS" "$T/tags.new"
mv "$T/tags.new" "$T/tags.json"
if wait_until 8 log_has "event=rollback-failed" && [ "$(status_get pending_confirmation)" != null ] && in_force 8080; then
	ok "window: a rollback that fails keeps the window open (event=rollback-failed), the policy stays pending"
else not_ok "window: a failed rollback keeps the window" "$(tail -4 "$T/log")" "$(ctl status 2>&1 | grep pending)"; fi
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1])); d["changeNumber"] += 2
json.dump(d, open(sys.argv[2], "w"))' "$TAGS" "$T/tags.new"
mv "$T/tags.new" "$T/tags.json"
if wait_until 3 ctl status && ctl rollback >/dev/null 2>&1 && ! in_force 8080 &&
   [ "$(status_get pending_confirmation)" = null ]; then
	ok "window: once the tags are back the rollback goes through and the window ends"
else not_ok "window: the rollback goes through later" "$(tail -4 "$T/log")"; fi
# a reload during the window, then a restart: what is in force is still unconfirmed
ctl apply "$T/B.yaml" --confirm-within 6 >/dev/null 2>&1
cp "$T/C.yaml" "$T/policy.yaml"
wait_until 5 in_force 8081
stop
if start && log_has "event=pending-resumed" && in_force 8081 &&
   wait_until 9 sh -c "! FILTERD_SOCKET='$T/sock' '$FILTERCTL' show | grep -q AllowInet808"; then
	ok "window: a policy reloaded during the window is rolled back too, across a restart"
else not_ok "window: a reload in the window, then a restart" "$(tail -5 "$T/log")"; fi
# a restart within the window: resumed, then rolled back on time
ctl apply "$T/B.yaml" --confirm-within 5 >/dev/null 2>&1
pr0=$(nlog "event=pending-resumed")
stop
if start && [ "$(nlog "event=pending-resumed")" -gt "$pr0" ] && in_force 8080 &&
   wait_until 8 sh -c "! FILTERD_SOCKET='$T/sock' '$FILTERCTL' show | grep -q AllowInet8080"; then
	ok "restart in the window: the window resumed, and the rollback came at its deadline"
else not_ok "restart in the window: resumed and rolled back" "$(tail -5 "$T/log")"; fi
# a window that ended while filterd was down: rolled back at startup
ctl apply "$T/B.yaml" --confirm-within 1 >/dev/null 2>&1
we0=$(nlog "window ended while filterd was not running")
stop
sleep 1.5
if start && [ "$(nlog "window ended while filterd was not running")" -gt "$we0" ] && ! in_force 8080 &&
   cmp -s "$T/policy.yaml" <(pol ws false); then
	ok "restart after the window: rolled back at startup, the policy file holds the confirmed policy"
else not_ok "restart after the window: rolled back at startup" "$(tail -5 "$T/log")"; fi
# the policy file edited while filterd was down (a window open): at start-up
# the edit is in force and the window dropped -- it was taken for the
# unconfirmed policy and rolled back at the deadline, the file overwritten
ctl apply "$T/B.yaml" --confirm-within 30 >/dev/null 2>&1
pd0=$(nlog "event=pending-dropped")
stop
cp "$T/C.yaml" "$T/policy.yaml"
if start && [ "$(nlog "event=pending-dropped")" -gt "$pd0" ] && in_force 8081 &&
	[ "$(status_get pending_confirmation)" = null ] && cmp -s "$T/policy.yaml" "$T/C.yaml"; then
	ok "restart in the window with the policy file edited meanwhile: the edit is in force, the window dropped"
else not_ok "restart with the policy file edited: the edit stays" "$(tail -5 "$T/log")"; fi
ctl apply "$T/A.yaml" >/dev/null 2>&1
PID=$(fd_pid)
# an hbi policy latches only once confirmed: its own rollback is not refused
out=$(ctl apply "$T/H.yaml" --confirm-within 2 2>&1); rc=$?
if [ $rc -eq 0 ] && in_force 8082 && [ "$(status_get hbi_locked)" = False ] &&
   wait_until 6 sh -c "! FILTERD_SOCKET='$T/sock' '$FILTERCTL' show | grep -q AllowInet8082" &&
   [ "$(status_get hbi_workspace)" = False ]; then
	ok "hbi: a pending hbi policy is not latched; its rollback at the deadline goes through"
else not_ok "hbi: pending hbi policy rolled back" "apply: exit $rc $out" "$(ctl status 2>&1 | head -12)" "$(tail -3 "$T/log")"; fi
ans=$(raw root "{\"op\":\"apply\",\"policy_text\":$("$PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$T/B.yaml"),\"confirm_within\":\"60\"}")
if grep -q "confirm_within must be an integer" <<<"$ans" && ! in_force 8080; then
	ok "window: confirm_within \"60\" (a string) is refused, not applied unguarded"
else not_ok "window: a string confirm_within refused" "$ans"; fi

# ---- a window needs something to roll back to, and something to guard ----------
# the policy already in force, applied with --confirm-within: no window (it
# would have rolled back to an older policy)
ct0=$(nlog "event=confirm-timeout")
cur=$(mktemp "$T/cur.XXXXXX.yaml"); cp "$T/policy.yaml" "$cur"
out=$(ctl apply "$cur" --confirm-within 2 2>&1); rc=$?
sleep 3
if [ $rc = 0 ] && grep -q "no confirmation window: the policy is already in force" <<<"$out" &&
	[ "$(status_get pending_confirmation)" = null ] && [ "$(nlog "event=confirm-timeout")" = "$ct0" ]; then
	ok "window: the policy already in force, applied with --confirm-within: no window, said so"
else not_ok "window: no window for the policy already in force" "exit $rc" "$out" "$(tail -3 "$T/log")"; fi
# a first policy (nothing in force before it): no window -- its rollback
# failed every second, each failure an audit record, forever
ns_add first
nsx first "$FILTERD" --policy "$T/first.yaml" --tags "$T/tags.json" --state-dir "$T/state-first" \
	--socket "$T/sock-first" --set audit_log="$T/audit-first.log" >"$T/log-first" 2>&1 &
_live_pids+=($!)
if wait_until 10 env FILTERD_SOCKET="$T/sock-first" "$FILTERCTL" status; then
	out=$(FILTERD_SOCKET="$T/sock-first" "$FILTERCTL" apply "$T/B.yaml" --confirm-within 1 2>&1); rc=$?
	sleep 3
	if [ $rc = 0 ] && grep -q "no confirmation window: no previous policy to roll back to" <<<"$out" &&
		! grep -q "event=confirm-timeout" "$T/log-first" &&
		[ "$(grep -c '"op":"rollback"' "$T/audit-first.log")" = 0 ] &&
		nsx first nft list table inet filterd | grep -q AllowInet8080; then
		ok "window: a first policy with --confirm-within: applied, no window (nothing to roll back to)"
	else not_ok "window: a first policy gets no window" "exit $rc" "$out" "$(tail -4 "$T/log-first")"; fi
	kill "$(pgrep -f -- "--socket $T/sock-first")" 2>/dev/null
else not_ok "window: a filterd without a policy starts" "$(tail -3 "$T/log-first")"; fi
# a first hbi policy with --confirm-within: no window, so it latches at once
# (it was neither pending nor latched: a policy without hbi was then taken)
wait_until 5 sh -c "! pgrep -f -- '--socket $T/sock-first' >/dev/null"
rm -rf "$T/state-first" "$T/first.yaml"
nsx first "$FILTERD" --policy "$T/first.yaml" --tags "$T/tags.json" --state-dir "$T/state-first" \
	--socket "$T/sock-first" --set audit_log="$T/audit-first.log" >"$T/log-first" 2>&1 &
_live_pids+=($!)
if wait_until 10 env FILTERD_SOCKET="$T/sock-first" "$FILTERCTL" status; then
	FILTERD_SOCKET="$T/sock-first" "$FILTERCTL" apply "$T/H.yaml" --confirm-within 30 >/dev/null 2>&1
	out=$(FILTERD_SOCKET="$T/sock-first" "$FILTERCTL" apply "$T/A.yaml" 2>&1); rc=$?
	if [ $rc = 1 ] && grep -q "hbi" <<<"$out" &&
		FILTERD_SOCKET="$T/sock-first" "$FILTERCTL" status --json | grep -q '"hbi_locked": true'; then
		ok "window: a first hbi policy with --confirm-within latches at once (a policy without hbi refused)"
	else not_ok "window: a first hbi policy latches" "exit $rc" "$out" "$(tail -3 "$T/log-first")"; fi
	kill "$(pgrep -f -- "--socket $T/sock-first")" 2>/dev/null
else not_ok "window: a filterd without a policy starts again" "$(tail -3 "$T/log-first")"; fi

# ---- names a client gives cannot forge log lines ---------------------------------
ans=$(raw "$U_C" "{\"op\":\"apply\",\"policy_text\":\"x\",\"policy_name\":\"x.yaml\\n2026-01-01T00:00:00Z filterd[1]: event=confirmed sha256=deadbeef by=root\"}")
if grep -q "policy_name must be" <<<"$ans" && ! log_has "sha256=deadbeef"; then
	ok "policy_name with a line break is refused (no forged log line)"
else not_ok "policy_name with a line break refused" "$ans"; fi
ans=$(raw root "{\"op\":\"apply\",\"policy_text\":\"x\",\"policy_name\":\"x sha256=0000 by=mallory\"}")
if log_has 'event=rejected policy="x sha256=0000 by=mallory" error='; then
	ok "a policy_name with spaces and '=' is quoted in the log (no forged key=value)"
else not_ok "policy_name quoted in the log" "$(grep mallory "$T/log" | tail -2)"; fi
ans=$(raw "$U_C" '{"op":"apply","policy_text":"x","policy_name":"gnp.yaml\u202eslm"}')
if grep -q "policy_name must be" <<<"$ans"; then ok "policy_name with a bidi override (U+202E) is refused"
else not_ok "policy_name with a bidi override refused" "$ans"; fi
ans=$(raw root '{"op":"hbi-clear","workspace":"a\u001b[2Jb"}')
if grep -q "workspace must be" <<<"$ans"; then ok "hbi-clear: a workspace with a terminal escape is refused"
else not_ok "hbi-clear: a workspace with an escape refused" "$ans"; fi

# a rejected policy's diagnostics quote the policy's own text: escaped, never a
# line of its own (a review forged an event=roles-changed line so)
printf '%s\n' 'version: 1' \
	'workspace: "ws\n2026-11-30T00:00:00.000Z filterd[1]: event=roles-changed by=root owner=\"user:mallory\""' \
	'virtual_network:' '  address_space: [10.0.0.0/16]' >"$T/forge.yaml"
chmod 644 "$T/forge.yaml"
out=$(as_user "$U_C" apply "$T/forge.yaml" 2>&1); rc=$?
if [ $rc -eq 1 ] && ! grep -q '^2026-11-30T00:00:00.000Z filterd\[1\]' "$T/log" &&
	grep -F 'event=diagnostic' "$T/log" | grep -qF '\n2026-11-30T00:00:00.000Z filterd[1]: event=roles-changed by=root owner=\"user:mallory\"'; then
	ok "a policy's text in a diagnostic is escaped in the log (a line break and quotes forge nothing)"
else not_ok "diagnostics escaped in the log" "exit $rc" "$(grep -n 'mallory' "$T/log" | tail -3)"; fi

# requests that change nothing count against the same budget as refusals: a
# contributor's flood of "confirm" with nothing pending cannot rotate the log
# The flood may outlast one window when the machine is slow (under ASan 40
# filterctl runs took over 3 s once): each window it spans admits another 10.
sleep 3.2	# a fresh window of the refusal budget (FILTERD_REFUSAL_WINDOW_S=3)
t0=$(date +%s%N)
for i in $(seq 40); do as_user "$U_C" confirm >/dev/null 2>&1; done
ms=$((($(date +%s%N) - t0) / 1000000))
windows=$((ms / 3000 + 1))
n=$(grep -c "\"user\":\"$U_C\".*\"op\":\"confirm\",\"result\":\"rejected\"" "$T/audit.log")
if [ "$windows" -ge 4 ]; then
	skip "no-op flood budgeted" "40 confirms took $ms ms, over 4 windows of 3 s: no window needs to overflow"
elif [ "$n" -le $((10 * windows)) ] && [ "$n" -ge 1 ] && [ "$n" -lt 40 ] &&
	wait_until 6 grep -q "\"user\":\"$U_C\".*\"op\":\"refused-summary\".*further refused, rejected or unchanged" "$T/audit.log"; then
	ok "40 confirms with nothing to confirm in $ms ms: $n audited one by one (at most 10 a 3 s window), the rest in a summary"
else not_ok "no-op flood budgeted" "got $n one by one in $ms ms ($windows windows)" "$(grep summary "$T/audit.log" | tail -2)"; fi

sleep 3.2	# a fresh window of the refusal budget again: the rejection below is audited
# and in filterctl's view of the audit log: an error quoting a YAML key with a
# terminal escape and a line break forges no record and reaches no terminal
printf '%s\n' 'version: 1' 'workspace: ws' \
	'"k\e]0;pwned\a\e[8m\n2026-11-30T00:00:00.000Z  root(uid=0) via socket  hbi-clear: cleared (prod-ws)": 1' \
	'virtual_network:' '  address_space: [10.0.0.0/16]' >"$T/esc.yaml"
chmod 644 "$T/esc.yaml"
as_user "$U_C" apply "$T/esc.yaml" >/dev/null 2>&1
ctl audit >"$T/audit.txt" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -qF 'k\x1b]0;pwned\x07\x1b[8m\n2026-11-30' "$T/audit.txt" &&
	! grep -q $'[\x1b\x07]' "$T/audit.txt" && ! grep -q '^2026-11-30T00:00:00.000Z  root' "$T/audit.txt"; then
	ok "filterctl audit shows another user's text inert (escape, bell and line break written as \\x1b, \\x07, \\n; no forged record)"
else not_ok "filterctl audit escapes control characters" "exit $rc" "$(grep -a pwned "$T/audit.txt" | cat -v | head -3)"; fi
# zeros a crash left in front of a record: that line is shown inert and whole
# (one NUL made filterctl call the whole answer "not JSON"), --json as
# {"unparsed": ...}
printf '\0\0\0\0{"time":"2026-11-30T00:00:00.000Z","user":"zeroes-then-record"}\n' >>"$T/audit.log"
out=$(ctl audit 2>/dev/null); rc=$?
js=$(ctl audit --json 2>/dev/null | grep zeroes-then-record)
if [ $rc -eq 0 ] && grep -qF '\x00\x00\x00\x00{"time":"2026-11-30T00:00:00.000Z","user":"zeroes-then-record"}' <<<"$out" &&
	"$PY" -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["unparsed"].startswith("\0\0\0\0{")' "$js"; then
	ok "an audit line a crash left zeros in is shown whole and inert (text \x00, --json {\"unparsed\": ...})"
else not_ok "audit line with NULs" "exit $rc" "$(grep -a zeroes <<<"$out" | cat -v)" "$js"; fi

# a confirmation that arrives after the window is refused and the rollback is
# done at once (the window's 1 s tick may not have run yet)
ctl apply "$T/B.yaml" >/dev/null 2>&1
ctl apply "$T/C.yaml" --confirm-within 1 >/dev/null 2>&1
PIDG=$(fd_pid)
kill -STOP "$PIDG"; sleep 2.2
FILTERD_SOCKET="$T/sock" "$FILTERCTL" confirm >"$T/late.out" 2>&1 &
lp=$!
sleep 0.3; kill -CONT "$PIDG"
wait $lp; rc=$?
if [ $rc -ne 0 ] && wait_until 5 in_force 8080 && ! in_force 8081; then
	ok "a confirmation after the window is refused, and the previous policy is back ($(head -c 90 "$T/late.out"))"
else not_ok "late confirmation refused" "exit $rc: $(cat "$T/late.out")" "$(ctl show 2>&1 | grep -c AllowInet)"; fi

# a client naming its policy as the configured path: the file still gets what was applied
ans=$(raw root "{\"op\":\"apply\",\"policy_text\":$("$PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$T/C.yaml"),\"policy_name\":\"$T/policy.yaml\"}")
if grep -q '"ok":true' <<<"$ans" && cmp -s "$T/policy.yaml" "$T/C.yaml" && in_force 8081; then
	ok "policy_name = the configured path: the applied policy is written to the file all the same"
else not_ok "policy_name = the configured path: the file holds what was applied" "$ans" "$(diff "$T/C.yaml" "$T/policy.yaml" | head -5)"; fi
pol ws false >"$T/A.yaml"
ctl apply "$T/A.yaml" >/dev/null 2>&1

# ---- a second filterd does not take over the socket --------------------------------
ns_add other
nsx other "$FILTERD" --policy "$T/policy.yaml" --tags "$TAGS" --state-dir "$T/state2" \
	--socket "$T/sock" --set audit_log="$T/audit2.log" >"$T/log2" 2>&1 &
p2=$!
_live_pids+=($p2)
if wait_until 10 sh -c "! kill -0 $p2" && grep -q "another filterd answers on this socket" "$T/log2" &&
   ctl status >/dev/null 2>&1 && [ "$(status_get pid 2>/dev/null)" != "$p2" ]; then
	ok "socket: a second filterd refuses to start on a live socket; the first still answers"
else not_ok "socket: a second filterd refused" "$(tail -3 "$T/log2")"; fi

# ---- set-roles: the whole lists in the audit record --------------------------------
long=$(for i in $(seq 100 160); do printf 'uid:%d,' "$i"; done)user:$U_R
if ctl roles set --reader "$long" --owner "user:root,uid:4242" >/dev/null 2>&1 &&
   grep -a '"op":"set-roles"' "$T/audit.log" | tail -1 | grep -q 'owner=\\"user:root,uid:4242\\"'; then
	ok "set-roles: a 700-byte reader list and the owner list are both in the audit record"
else not_ok "set-roles: the whole lists audited" "$(grep -a set-roles "$T/audit.log" | tail -1 | tail -c 300)"; fi
ctl roles set --owner "" --reader "user:$U_R" >/dev/null 2>&1

# ---- a refused tags file is not kept --------------------------------------------
# an older changeNumber (rollback protection) without a tag: refused; verify
# still compares with the tags in force, and a rollback uses them -- the
# refused file stayed loaded (verify listed false differences; a rollback
# applied the previous policy with the refused tags)
n_now=$(status_get tags_change_number)
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["changeNumber"] = int(sys.argv[3]) - 1
d["values"] = [v for v in d["values"] if v["name"] != "BatchNodeManagement"]
json.dump(d, open(sys.argv[2], "w"))' "$TAGS" "$T/tags.old" "$n_now"
cp "$T/tags.json" "$T/tags.keep"
tn0=$(nlog "event=tags-not-taken")
mv "$T/tags.old" "$T/tags.json"
if wait_until 5 sh -c "[ \$(grep -c event=tags-not-taken '$T/log') -gt $tn0 ]" &&
	[ "$(status_get tags_loaded_change_number)" = "$n_now" ] &&
	out=$(ctl verify 2>&1) && grep -q "matches the policy in force" <<<"$out"; then
	ok "tags: an older tags file is refused and not kept (verify clean, the loaded changeNumber still $n_now)"
else not_ok "tags: a refused tags file is not kept" "$(tail -3 "$T/log")" "${out:-}"; fi
mv "$T/tags.keep" "$T/tags.json"

# a newer tags file that empties a tag a deny rule names would make that rule
# deny nothing (fail open): refused, the rules in force unchanged
{ pol ws false; printf '%s\n' '  - name: DenyKeyVault' '    priority: 130' '    direction: outbound' \
	'    access: deny' '    protocol: tcp' '    destination: AzureKeyVault'; } >"$T/K.yaml"
chmod 644 "$T/K.yaml"
if ctl apply "$T/K.yaml" >/dev/null 2>&1 && ctl show | grep -q DenyKeyVault; then
	n_now=$(status_get tags_change_number)
	"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["changeNumber"] = int(sys.argv[3]) + 1
for v in d["values"]:
    if v["name"] == "AzureKeyVault":
        v["properties"]["addressPrefixes"] = []
json.dump(d, open(sys.argv[2], "w"))' "$T/tags.json" "$T/tags.empty" "$n_now"
	cp "$T/tags.json" "$T/tags.keep"
	nr=$(nlog "it would deny nothing")
	mv "$T/tags.empty" "$T/tags.json"
	if wait_until 5 sh -c "[ \$(grep -c 'it would deny nothing' '$T/log') -gt $nr ]" &&
		[ "$(status_get tags_change_number)" = "$n_now" ] && ctl show | grep -q DenyKeyVault; then
		ok "tags: a newer file emptying a tag a deny rule names is refused (the deny stays in force)"
	else not_ok "tags: emptied deny tag refused" "$(grep -E 'rejected|deny nothing' "$T/log" | tail -2)"; fi
	mv "$T/tags.keep" "$T/tags.json"
else not_ok "tags: emptied deny tag" "could not apply K.yaml: $(ctl apply "$T/K.yaml" 2>&1 | tail -2)"; fi
sleep 0.5
ctl apply "$T/A.yaml" >/dev/null 2>&1

# ---- the confirmation window is on the boot clock, not the wall clock -------------
# filterd under libfaketime (the wall clock offset as a file says; CLOCK_BOOTTIME
# and CLOCK_MONOTONIC untouched): a step forward must not end a window early
# (NTP at boot), a step back must not hold it open -- the windows were on
# time(NULL) before
FTLIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
if [ -z "$FTLIB" ]; then
	skip "window: wall-clock steps" "libfaketime not installed (apt-get install faketime)"
else
	stop
	echo "+0" >"$T/faketime"
	start_ft() {
		nsx host env LD_PRELOAD="$FTLIB" FAKETIME_TIMESTAMP_FILE="$T/faketime" FAKETIME_NO_CACHE=1 \
			FAKETIME_DONT_FAKE_MONOTONIC=1 "$FILTERD" --policy "$T/policy.yaml" --tags "$T/tags.json" \
			--state-dir "$T/state" --socket "$T/sock" --set audit_log="$T/audit.log" \
			--set audit_log_max=67108864 --set socket_mode=0666 >>"$T/log" 2>&1 &
		_live_pids+=($!)
		wait_until 10 ctl status
	}
	left() { ctl status --json | "$PY" -c 'import json,sys; p=json.load(sys.stdin)["pending_confirmation"]; print(p["seconds_left"] if p else -1)'; }
	if start_ft && ctl apply "$T/B.yaml" --confirm-within 20 >/dev/null 2>&1 && in_force 8080; then
		rb0=$(nlog 'event=rolled-back')
		echo "+2h" >"$T/faketime"
		sleep 3
		l=$(left)
		if [ "$(nlog 'event=rolled-back')" = "$rb0" ] && in_force 8080 && [ "$l" -ge 12 ] && [ "$l" -le 18 ]; then
			ok "window: the wall clock stepped 2 h forward: the window holds ($l s left of 20)"
		else not_ok "window: a forward wall-clock step does not end the window" "left: $l" "$(tail -3 "$T/log")"; fi
		ctl rollback >/dev/null 2>&1
		echo "+0" >"$T/faketime"
		ctl apply "$T/B.yaml" --confirm-within 3 >/dev/null 2>&1
		echo "-1h" >"$T/faketime"
		if wait_until 8 sh -c "! FILTERD_SOCKET='$T/sock' '$FILTERCTL' show | grep -q AllowInet8080" &&
			[ "$(nlog 'event=rolled-back')" -gt "$rb0" ]; then
			ok "window: the wall clock stepped 1 h back: rolled back after its 3 s all the same"
		else not_ok "window: a backward wall-clock step does not hold the window open" "$(tail -3 "$T/log")"; fi
	else
		not_ok "window: filterd under libfaketime" "$(tail -5 "$T/log")"
	fi
	stop
	start || not_ok "guard: filterd up again after the wall-clock cases" "$(tail -5 "$T/log")"
fi

# ---- a long error keeps its reason (cut on a character boundary) -------------------
ws=$("$PY" -c 'print("é" * 1500)')
pol "$ws" false >"$T/long.yaml"
ans=$(raw root "{\"op\":\"apply\",\"policy_text\":$("$PY" -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$T/long.yaml")}")
if "$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); sys.exit(0 if not a["ok"] and a.get("error") else 1)' "$ans" &&
   tail -1 "$T/audit.log" | grep -aq '"result":"rejected".*"detail"'; then
	ok "a rejection whose reason is cut mid-character keeps its reason (answer and audit record)"
else not_ok "a long error keeps its reason" "$(head -c 300 <<<"$ans")" "$(tail -1 "$T/audit.log" | head -c 300)"; fi

# ---- a newest audit record larger than an answer (6 MiB) ---------------------------
# The answer cannot hold it; the rotated file's records are not the newest
# ones, so they must not stand in for it: no records, and "truncated".
"$PY" -c '
import json, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"time": "2026-12-01T00:00:00.000Z", "uid": 0, "user": "root", "via": "socket",
                        "op": "apply", "result": "rejected", "detail": "z" * (7 << 20)}) + "\n")' "$T/audit.log"
ans=$(raw root '{"op":"audit"}')
out=
# (the answer on stdin: it may be megabytes, past an argument's limit)
if "$PY" -c '
import json, sys
a = json.load(sys.stdin)
assert a["ok"] and a.get("truncated") is True, a.keys()
assert not any("yyyy" in r or "zzzz" in r for r in a["records"]), "an older or cut record in the answer"' <<<"$ans" 2>"$T/big.py" &&
	out=$(ctl audit 2>&1) && grep -q "older records left out" <<<"$out"; then
	ok "a newest audit record larger than an answer: no older file's records stand in for it, 'truncated' and filterctl says older records are left out"
else not_ok "audit: a newest record over 6 MiB" "$(head -c 300 <<<"$ans")" "$(tail -2 "$T/big.py")" "$(tail -2 <<<"$out")"; fi

live_finish
