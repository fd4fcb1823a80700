#!/bin/bash
# Live: filterd under the real kernel and real traffic.  One daemon ("d1") runs in
# the "host" namespace of the standard topology (lib.sh topo_setup) and is
# exercised through its policy file (inotify), signals and control socket
# (filterctl), kill -9, restart and roles; smaller daemons run in namespaces of
# their own for ownership=off (drift repair), --fail-mode open and a tags swap
# with the real service tags (no traffic there: those addresses are never used
# as live traffic).  Every namespace, process, test user and temp dir is removed
# on exit, also on failure.
. "$(dirname "$0")/lib.sh"
live_init t_daemon
T=$(live_tmp)
chmod 755 "$T"		# the role tests run filterctl as unprivileged test users
FILTERD=$O/filterd
if [ ! -x "$FILTERD" ]; then
	not_ok "t_daemon: $FILTERD missing (make O=... all)"
	live_finish
fi
EXTAGS=$ROOT/examples/servicetags.json
SHARED=${FILTERD_SHARED:-$ROOT/../shared}
REAL1=$SHARED/data/servicetags/ServiceTags_Public_20240415.json
REAL2=$SHARED/data/servicetags/ServiceTags_Public_20240506.json

# ---- test users (roles); removed on exit whatever happens -----------------
U_R=fdtest_r$$ U_C=fdtest_c$$ U_N=fdtest_n$$ G_C=fdtest_g$$

# ---- helpers -------------------------------------------------------------
now_ms() { date +%s%3N; }
flog() { echo "$T/$1/log"; }
faudit() { echo "$T/$1/audit.log"; }
nlines() { grep -c -- "$2" "$(flog "$1")" 2>/dev/null; }	# DAEMON PATTERN
more_lines() { [ "$(nlines "$1" "$2")" -gt "$3" ]; }		# DAEMON PATTERN N
# ctl DAEMON ARGS...: filterctl against that daemon's socket.
ctl() { local d=$1; shift; FILTERD_SOCKET="$T/$d/sock" "$FILTERCTL" "$@"; }
# fd_start DAEMON NS POLICY TAGS [ARGS...]: starts filterd in NS and waits until its
# control socket answers (so the startup apply is done); PID in PID_<DAEMON>.
fd_start() {
	local d=$1 n=$2 pol=$3 tags=$4 pid
	shift 4
	mkdir -p "$T/$d"
	ip netns exec "$(ns_name "$n")" "$FILTERD" --policy "$pol" --tags "$tags" \
		--state-dir "$T/$d/state" --socket "$T/$d/sock" --set audit_log="$T/$d/audit.log" \
		"$@" >>"$T/$d/log" 2>&1 &
	pid=$!
	_live_pids+=("$pid")
	printf -v "PID_$d" '%s' "$pid"
	if wait_until 10 ctl "$d" status; then return 0; fi
	echo "# filterd $d did not come up; log:"
	sed 's/^/#   /' "$T/$d/log"
	return 1
}
# table NS: the stateless listing (no counters), without what differs by
# construction between a daemon's table and a fresh apply: the table's flags
# (owner, persist, or an orphaned persist table's empty flags) and progname.
table() {
	nsx "$1" nft -s list table inet filterd 2>&1 |
		sed -e 's/ # progname .*$//' -e '/^\tflags/d' -e '/^[[:space:]]*$/d'
}
has_rule() { nft_table "$1" | grep -qF ":$2\""; }	# NS RULENAME
no_rule() { ! has_rule "$@"; }
same_files() { # NAME FILE1 FILE2: both non-empty and equal
	if [ ! -s "$2" ] || [ ! -s "$3" ]; then not_ok "$1" "empty listing: $(wc -c "$2" "$3" | head -2)"
	elif cmp -s "$2" "$3"; then ok "$1"
	else not_ok "$1" "$(diff -u "$2" "$3" | head -40)"; fi
}
# json_get FILE KEY[.KEY]: a value of a JSON document (python, no jq needed).
json_get() {
	"$PY" -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v=v.get(k) if isinstance(v,dict) else None
print("null" if v is None else v)' "$1" "$2"
}

# pol_text [WORKSPACE [HBI [PORT...]]]: the policy of these tests (lib.sh
# live_policy; the default workspace live-daemon).
pol_text() { local ws=${1:-live-daemon} hbi=${2:-false}; shift 2 2>/dev/null; live_policy "$ws" "$hbi" "$@"; }

# =====================================================================
# d1: the pool host
# =====================================================================
topo_setup || { not_ok "daemon: topology"; live_finish; }
POL=$T/d1/policy.yaml
mkdir -p "$T/d1"
pol_text >"$POL"
cp "$POL" "$T/p1.yaml"
pol_text live-daemon false 8080 >"$T/p2.yaml"
chmod 644 "$POL" "$T/p1.yaml" "$T/p2.yaml"

if fd_start d1 host "$POL" "$EXTAGS"; then ok "start: filterd in a namespace with a policy"
else not_ok "start: filterd in a namespace with a policy"; live_finish; fi
check "start: table inet filterd present" nft_table host

ctl d1 status --json >"$T/status.json" 2>&1
cn=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["changeNumber"])' "$EXTAGS")
want="live-daemon|$(sha256sum "$POL" | cut -d' ' -f1)|$cn"
got="$(json_get "$T/status.json" workspace)|$(json_get "$T/status.json" policy_sha256)|$(json_get "$T/status.json" tags_change_number)"
if [ "$got" = "$want" ] && json_get "$T/status.json" applied_by | grep -q 'via startup'; then
	ok "status --json: workspace, sha256 (= sha256sum of the policy), tags change number, applied_by"
else
	not_ok "status --json: workspace, sha256 (= sha256sum of the policy), tags change number, applied_by" \
		"want $want, got $got" "$(cat "$T/status.json")"
fi
ownership=$(json_get "$T/status.json" ownership)
case "$ownership" in
owner*) ok "status: ownership $ownership" ;;
*) not_ok "status: ownership owner(,persist)" "got: $ownership" ;;
esac

expect_allowed "traffic: AzureMachineLearning -> tcp 44224 allowed" peers tcp $HOST4 44224 $AML4
expect_denied "traffic: Internet -> tcp 22 denied" peers tcp $HOST4 22 $INET4
expect_denied "traffic: Internet -> tcp 8080 denied (not in the policy yet)" peers tcp $HOST4 8080 $INET4
expect_allowed "traffic: vnet peer -> tcp 22 allowed (AllowVnetInBound)" peers tcp $HOST4 22 $VNET4
checks_wait

# ---- policy file changes (inotify, debounce) --------------------------------
applied0=$(nlines d1 'event=applied')
t0=$(now_ms)
pol_text live-daemon false 8080 >"$POL"		# in place: truncate + write
if wait_until 1 has_rule host AllowInet8080; then
	ok "inotify: new rule in nft list $(($(now_ms) - t0)) ms after the file was written (< 1 s)"
else
	not_ok "inotify: new rule in nft list within 1 s" "$(tail -5 "$(flog d1)")"
fi
r=$(result_of peers tcp $HOST4 8080 $INET4 "" 2)
[ "$r" = allowed ] && ok "inotify: Internet -> tcp 8080 now allowed (real traffic)" ||
	not_ok "inotify: Internet -> tcp 8080 now allowed (real traffic)" "got $r"

# editor style: write a temporary file, rename it over the policy
t0=$(now_ms)
pol_text live-daemon false 443 >"$T/d1/.policy.yaml.swp"
mv "$T/d1/.policy.yaml.swp" "$POL"
if wait_until 1 has_rule host AllowInet443 && no_rule host AllowInet8080; then
	ok "inotify: write-to-temp + rename applied in $(($(now_ms) - t0)) ms (< 1 s)"
else
	not_ok "inotify: write-to-temp + rename applied within 1 s" "$(tail -5 "$(flog d1)")"
fi
expect_allowed "inotify: after rename, Internet -> tcp 443 allowed" peers tcp $HOST4 443 $INET4
expect_denied "inotify: after rename, Internet -> tcp 8080 denied again" peers tcp $HOST4 8080 $INET4
checks_wait

# a burst of writes gives one apply
sleep 0.3
applied1=$(nlines d1 'event=applied')
for p in 80 8080 22 5000; do
	pol_text live-daemon false $p >"$POL"
	sleep 0.03
done
wait_until 2 has_rule host AllowInet5000
sleep 0.6
applied2=$(nlines d1 'event=applied')
if [ $((applied2 - applied1)) -eq 1 ] && has_rule host AllowInet5000 && no_rule host AllowInet80; then
	ok "debounce: 4 writes 30 ms apart gave one apply (the last content)"
else
	not_ok "debounce: 4 writes 30 ms apart gave one apply (the last content)" \
		"event=applied lines: $applied1 -> $applied2" "$(tail -6 "$(flog d1)")"
fi
[ "$applied0" -ge 1 ] || not_ok "debounce: startup apply logged" "$applied0"

# ---- broken policy: rejected, rules unchanged --------------------------------
table host >"$T/before-broken"
rej0=$(nlines d1 'event=rejected')
{ pol_text live-daemon false 5000; printf '  - name: Broken\n    priority: 300\n    direction: sideways\n    access: allow\n    protocol: tcp\n'; } >"$POL"
bline=$(grep -n 'direction: sideways' "$POL" | cut -d: -f1)
if wait_until 2 more_lines d1 'event=rejected' "$rej0"; then
	line=$(grep 'event=rejected' "$(flog d1)" | tail -1)
	if printf '%s\n' "$line" | grep -Eq "error=\"$POL:$bline:[0-9]+: "; then
		ok "broken policy: event=rejected with file:line:col ($POL:$bline:...)"
	else
		not_ok "broken policy: event=rejected with file:line:col" "$line"
	fi
else
	not_ok "broken policy: event=rejected logged" "$(tail -5 "$(flog d1)")"
fi
table host >"$T/after-broken"
same_files "broken policy: nft list unchanged" "$T/before-broken" "$T/after-broken"
expect_allowed "broken policy: Internet -> tcp 5000 still allowed" peers tcp $HOST4 5000 $INET4
checks_wait
out=$(ctl d1 reload 2>&1); rc=$?
if [ $rc -eq 1 ] && printf '%s\n' "$out" | grep -Eq "$POL:$bline:[0-9]+: "; then
	ok "broken policy: filterctl reload exits 1 with file:line:col"
else
	not_ok "broken policy: filterctl reload exits 1 with file:line:col" "exit $rc" "$out"
fi

# back to p1, by SIGHUP
cp "$T/p1.yaml" "$POL.new" && mv "$POL.new" "$POL"
sleep 0.4	# let the inotify reload (if any) pass
sig0=$(nlines d1 'event=signal signal=HUP')
kill -HUP "$PID_d1"
if wait_until 2 more_lines d1 'event=signal signal=HUP' "$sig0" && wait_until 1 no_rule host AllowInet5000; then
	ok "SIGHUP: event=signal logged, policy reloaded"
else
	not_ok "SIGHUP: event=signal logged, policy reloaded" "$(tail -4 "$(flog d1)")"
fi
table host >"$T/p1.table"

# ---- ownership: the kernel refuses other processes -------------------------
out=$(nsx host nft delete table inet filterd 2>&1); rc=$?
if [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q 'Operation not permitted'; then
	ok "ownership: 'nft delete table inet filterd' from outside refused (Operation not permitted)"
else
	not_ok "ownership: 'nft delete table inet filterd' from outside refused" "exit $rc" "$out"
fi
out=$(nsx host nft add rule inet filterd inbound accept 2>&1); rc=$?
if [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q 'Operation not permitted'; then
	ok "ownership: 'nft add rule inet filterd inbound accept' from outside refused"
else
	not_ok "ownership: 'nft add rule inet filterd inbound accept' from outside refused" "exit $rc" "$out"
fi
table host >"$T/after-outside"
same_files "ownership: table unchanged after the refused commands" "$T/p1.table" "$T/after-outside"

# ---- safe apply: confirm within, or rollback ------------------------------
rb0=$(nlines d1 'event=rolled-back')
out=$(ctl d1 apply "$T/p2.yaml" --confirm-within 2 2>&1); rc=$?
if [ $rc -eq 0 ] && has_rule host AllowInet8080; then ok "safe apply: --confirm-within 2 puts p2 in force"
else not_ok "safe apply: --confirm-within 2 puts p2 in force" "exit $rc" "$out"; fi
r=$(result_of peers tcp $HOST4 8080 $INET4 "" 2)
[ "$r" = allowed ] && ok "safe apply: Internet -> tcp 8080 allowed while pending" ||
	not_ok "safe apply: Internet -> tcp 8080 allowed while pending" "got $r"
ctl d1 status --json >"$T/status.json" 2>&1
if [ "$(json_get "$T/status.json" pending_confirmation)" != null ]; then
	ok "safe apply: status shows pending_confirmation"
else
	not_ok "safe apply: status shows pending_confirmation" "$(cat "$T/status.json")"
fi
if wait_until 5 more_lines d1 'event=rolled-back' "$rb0"; then
	ok "safe apply: rolled back when not confirmed (event=rolled-back)"
else
	not_ok "safe apply: rolled back when not confirmed" "$(tail -5 "$(flog d1)")"
fi
table host >"$T/after-rb"
same_files "safe apply: nft list back to p1" "$T/p1.table" "$T/after-rb"
expect_denied "safe apply: Internet -> tcp 8080 denied again after the rollback" peers tcp $HOST4 8080 $INET4
checks_wait
if cmp -s "$POL" "$T/p1.yaml"; then ok "safe apply: the policy file holds p1 again"
else not_ok "safe apply: the policy file holds p1 again" "$(diff "$T/p1.yaml" "$POL")"; fi
if grep '"op":"rollback"' "$(faudit d1)" | grep -q '"result":"rolled back"'; then
	ok "safe apply: audit log has the rollback"
else
	not_ok "safe apply: audit log has the rollback" "$(tail -3 "$(faudit d1)")"
fi

sleep 0.4
rb0=$(nlines d1 'event=rolled-back')
out=$( { ctl d1 apply "$T/p2.yaml" --confirm-within 2 && ctl d1 confirm; } 2>&1); rc=$?
sleep 3
if [ $rc -eq 0 ] && has_rule host AllowInet8080 && [ "$(nlines d1 'event=rolled-back')" -eq "$rb0" ]; then
	ok "safe apply: confirmed policy kept after the deadline"
else
	not_ok "safe apply: confirmed policy kept after the deadline" "exit $rc" "$out" "$(tail -4 "$(flog d1)")"
fi
out=$(ctl d1 rollback 2>&1); rc=$?
if [ $rc -eq 0 ] && wait_until 1 no_rule host AllowInet8080 && cmp -s "$POL" "$T/p1.yaml"; then
	ok "filterctl rollback: previous policy (p1) back in the kernel and the file"
else
	not_ok "filterctl rollback: previous policy (p1) back in the kernel and the file" "exit $rc" "$out"
fi

# ---- hbi one-way latch ------------------------------------------------------
sleep 0.4
pol_text live-hbi true >"$T/hbi.yaml"
pol_text live-hbi false >"$T/nohbi.yaml"
ino0=$(nlines d1 'via inotify"')
check "hbi: apply an hbi_workspace policy through filterd" ctl d1 apply "$T/hbi.yaml"
# the apply wrote the policy file; the inotify event of that write is
# filterd's own and brings no reload (one came late under ASan, after the
# next request, and raced it: it latched hbi again after an hbi-clear, and
# it put a file's older policy in force during a confirmation window)
sleep 0.6	# the debounce is 200 ms
if [ "$(nlines d1 'via inotify"')" = "${ino0:-0}" ] && cmp -s "$POL" "$T/hbi.yaml"; then
	ok "inotify: filterd's own write of the policy file (after an apply) brings no reload"
else not_ok "inotify: filterd's own write of the policy file brings no reload" \
	"$(grep 'via inotify' "$(flog d1)" | tail -2)"; fi
out=$(ctl d1 apply "$T/nohbi.yaml" 2>&1); rc=$?
if [ $rc -eq 1 ] && printf '%s\n' "$out" | grep -q 'hbi'; then
	ok "hbi: same workspace without hbi_workspace refused (exit 1, says why)"
else
	not_ok "hbi: same workspace without hbi_workspace refused (exit 1, says why)" "exit $rc" "$out"
fi
# nor does naming another workspace lift it (a review did so)
pol_text live-other false >"$T/other-ws.yaml"
out=$(ctl d1 apply "$T/other-ws.yaml" 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "whatever its workspace ('live-other')" <<<"$out" &&
	[ "$(ctl d1 status --json | json_get /dev/stdin workspace)" = live-hbi ]; then
	ok "hbi: a policy without hbi for another workspace is refused too (the latch holds the host)"
else
	not_ok "hbi: another workspace without hbi refused" "exit $rc" "$out"
fi
# a name that is not latched (a typo) clears nothing, and says so: exit 1,
# the names that are latched, audited as rejected (it used to say "ok")
out=$(ctl d1 hbi-clear live-hbx 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -q "workspace 'live-hbx' is not latched (latched: live-hbi); nothing was changed" <<<"$out" &&
	grep -q '"op":"hbi-clear","result":"rejected"' "$(faudit d1)" &&
	! grep -q 'event=hbi-cleared workspace="live-hbx"' "$(flog d1)" &&
	grep -q '"live-hbi"' "$T/d1/state/hbi.json"; then
	ok "hbi: hbi-clear of a workspace that is not latched: exit 1, names the latched ones, changes nothing"
else not_ok "hbi: hbi-clear of a name that is not latched refused" "exit $rc" "$out" "$(cat "$T/d1/state/hbi.json")"; fi
# a state directory filterd cannot write (it keeps CAP_NET_ADMIN only: no
# DAC override): hbi-clear fails with the reason, and the latch stays
chown nobody "$T/d1/state" && chmod 0555 "$T/d1/state"
out=$(ctl d1 hbi-clear live-hbi 2>&1); rc=$?
chmod 0755 "$T/d1/state"; chown root "$T/d1/state"
if [ $rc -ne 0 ] && grep -q "Permission denied" <<<"$out" && grep -q "event=hbi-clear-failed workspace=\"live-hbi\"" "$(flog d1)" &&
	! grep -q "event=hbi-cleared workspace=\"live-hbi\"" "$(flog d1)"; then
	ok "hbi: hbi-clear that cannot write the state says why (Permission denied), logged as failed"
else not_ok "hbi: a failed hbi-clear says why" "exit $rc" "$out" "$(grep hbi-clear "$(flog d1)" | tail -2)"; fi
check "hbi: filterctl hbi-clear live-hbi (root = owner)" ctl d1 hbi-clear live-hbi
check "hbi: after hbi-clear the policy without hbi is accepted" ctl d1 apply "$T/nohbi.yaml"
sleep 0.4
check "apply p1 again" ctl d1 apply "$T/p1.yaml"
sleep 0.4

# ---- kill -9 (fail closed): the table stays, and is enforced ----------------
kill -9 "$PID_d1"
wait "$PID_d1" 2>/dev/null
table host >"$T/after-kill"
same_files "kill -9 (fail closed): table still there, same rules" "$T/p1.table" "$T/after-kill"
expect_allowed "kill -9: AzureMachineLearning -> tcp 44224 still allowed" peers tcp $HOST4 44224 $AML4
expect_denied "kill -9: Internet -> tcp 22 still denied" peers tcp $HOST4 22 $INET4
expect_denied "kill -9: Internet -> tcp 8080 still denied" peers tcp $HOST4 8080 $INET4
checks_wait

# ---- restart: adopts the table, ownership again; with roles ---------------------
if ! getent passwd "$U_R" >/dev/null && groupadd "$G_C" && _groups+=("$G_C") &&
	useradd -M -N -s /usr/sbin/nologin "$U_R" && _users+=("$U_R") &&
	useradd -M -N -s /usr/sbin/nologin -G "$G_C" "$U_C" && _users+=("$U_C") &&
	useradd -M -N -s /usr/sbin/nologin "$U_N" && _users+=("$U_N"); then
	roles=1
else
	roles=0
fi
if fd_start d1 host "$POL" "$EXTAGS" --set role.reader=user:$U_R --set role.contributor=group:$G_C \
	--set socket_mode=0666; then
	ok "restart after kill -9: filterd up again"
else
	not_ok "restart after kill -9: filterd up again"
fi
table host >"$T/after-restart"
same_files "restart: table replaced with the same rules" "$T/p1.table" "$T/after-restart"
out=$(nsx host nft delete table inet filterd 2>&1); rc=$?
if [ $rc -ne 0 ] && printf '%s\n' "$out" | grep -q 'Operation not permitted'; then
	ok "restart: ownership active again (outside delete refused)"
else
	not_ok "restart: ownership active again (outside delete refused)" "exit $rc" "$out"
fi

as_user() { local u=$1; shift; runuser -u "$u" -- env FILTERD_SOCKET="$T/d1/sock" "$FILTERCTL" "$@"; }
if [ $roles = 0 ]; then
	skip "roles" "cannot create test users/groups"
else
	check "roles: reader ($U_R) can run status" as_user "$U_R" status
	out=$(as_user "$U_R" apply "$T/p2.yaml" --daemon 2>&1); rc=$?
	if [ $rc -eq 5 ] && printf '%s\n' "$out" | grep -q 'needs the contributor role'; then
		ok "roles: reader apply refused (exit 5, needs the contributor role)"
	else
		not_ok "roles: reader apply refused (exit 5, needs the contributor role)" "exit $rc" "$out"
	fi
	out=$(as_user "$U_C" apply "$T/p2.yaml" --daemon 2>&1); rc=$?
	if [ $rc -eq 0 ] && wait_until 1 has_rule host AllowInet8080; then
		ok "roles: a member of group $G_C (contributor) can apply"
	else
		not_ok "roles: a member of group $G_C (contributor) can apply" "exit $rc" "$out"
	fi
	sleep 0.4	# the daemon's own write of the policy file comes back through inotify
	ctl d1 status --json >"$T/status.json" 2>&1
	by=$(json_get "$T/status.json" applied_by)
	case "$by" in
	*"$U_C"*) ok "roles: status applied_by names the contributor ($by)" ;;
	*) not_ok "roles: status applied_by names the contributor" "got: $by" ;;
	esac
	out=$(as_user "$U_N" status 2>&1); rc=$?
	if [ $rc -eq 5 ]; then ok "roles: a user with no role is refused status (exit 5)"
	else not_ok "roles: a user with no role is refused status (exit 5)" "exit $rc" "$out"; fi
	out=$(as_user "$U_C" hbi-clear live-hbi 2>&1); rc=$?
	if [ $rc -eq 5 ]; then ok "roles: contributor hbi-clear refused (owner only, exit 5)"
	else not_ok "roles: contributor hbi-clear refused (owner only, exit 5)" "exit $rc" "$out"; fi
	# every refusal is in the audit log, with op, result, uid and user
	res=$("$PY" - "$(faudit d1)" "$U_R:apply" "$U_N:status" "$U_C:hbi-clear" <<'EOF'
import json, pwd, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
missing = []
for want in sys.argv[2:]:
    user, op = want.split(":")
    uid = pwd.getpwnam(user).pw_uid
    if not any(r.get("op") == op and r.get("result") == "refused" and r.get("uid") == uid
               and r.get("user") == user for r in recs):
        missing.append(want)
print("missing: " + " ".join(missing) if missing else "all")
EOF
)
	if [ "$res" = all ]; then ok "roles: every refusal is in the audit log (op, result refused, uid, user)"
	else not_ok "roles: every refusal is in the audit log (op, result refused, uid, user)" "$res" \
		"$(grep refused "$(faudit d1)")"; fi
	# changing the roles is the owner's: a contributor is refused, root grants
	# U_N the reader role at run time, and it is in force at once
	out=$(as_user "$U_C" roles set --reader "user:$U_N" 2>&1); rc=$?
	if [ $rc -eq 5 ] && printf '%s' "$out" | grep -q "needs the owner role"; then
		ok "roles: a contributor cannot change the roles (owner only, exit 5)"
	else not_ok "roles: a contributor cannot change the roles" "exit $rc" "$out"; fi
	out=$(ctl d1 roles set --reader "user:$U_R,user:$U_N" 2>&1); rc=$?
	if [ $rc -eq 0 ] && as_user "$U_N" status >/dev/null 2>&1 &&
	   grep -q '"op":"set-roles","result":"changed"' "$(faudit d1)" &&
	   printf '%s' "$(ctl d1 roles)" | grep -q "reader       user:$U_R,user:$U_N" &&
	   grep -q "\"reader\": \"user:$U_R,user:$U_N\"" "$T/d1/state/roles.json"; then
		ok "roles: root (owner) grants a role at run time; in force at once and audited"
	else not_ok "roles: owner grants a role at run time" "exit $rc" "$out" "$(as_user "$U_N" status 2>&1 | head -2)"; fi
	out=$(ctl d1 roles set --reader "bogus" 2>&1); rc=$?
	if [ $rc -ne 0 ] && printf '%s' "$out" | grep -q "user:NAME, group:NAME"; then
		ok "roles: a malformed member list is refused with the syntax"
	else not_ok "roles: a malformed member list is refused" "exit $rc" "$out"; fi
fi

# ---- SIGTERM (fail closed): the table stays --------------------------------
kill -TERM "$PID_d1"
wait "$PID_d1" 2>/dev/null
if grep -q 'event=exit fail_mode=closed' "$(flog d1)" && nft_table host >/dev/null 2>&1; then
	ok "SIGTERM (fail closed): event=exit, table stays in force"
else
	not_ok "SIGTERM (fail closed): event=exit, table stays in force" "$(tail -3 "$(flog d1)")"
fi

# ---- roles set at run time survive a restart (state_dir/roles.json) ----------
if [ $roles = 1 ]; then
	if fd_start d1 host "$POL" "$EXTAGS" --set socket_mode=0666 &&
	   grep -q "event=roles-loaded" "$(flog d1)" && as_user "$U_N" status >/dev/null 2>&1; then
		ok "roles: a role granted at run time is in force again after a restart"
	else
		not_ok "roles: a role granted at run time survives a restart" "$(grep roles "$(flog d1)" | tail -3)"
	fi
	kill -TERM "$PID_d1" 2>/dev/null
	wait "$PID_d1" 2>/dev/null
fi

# =====================================================================
# d2: ownership=off, drift detection and repair
# =====================================================================
ns_add own && ns_add fresh || { not_ok "drift: namespaces"; live_finish; }
cp "$T/p1.yaml" "$T/own.yaml"
if fd_start d2 own "$T/own.yaml" "$EXTAGS" --set ownership=off; then
	nsx fresh "$FILTERCTL" apply "$T/own.yaml" --direct --tags "$EXTAGS" >/dev/null 2>&1
	table fresh >"$T/fresh.table"
	drift0=$(nlines d2 'event=drift')
	out=$(nsx own nft add rule inet filterd inbound accept 2>&1); rc=$?
	[ $rc -eq 0 ] && ok "drift: ownership=off lets 'nft add rule' from outside through" ||
		not_ok "drift: ownership=off lets 'nft add rule' from outside through" "exit $rc" "$out"
	t0=$(now_ms)
	if wait_until 1.5 more_lines d2 'event=drift' "$drift0"; then
		ok "drift: event=drift logged $(($(now_ms) - t0)) ms after the change"
	else
		not_ok "drift: event=drift logged within 1.5 s" "$(tail -3 "$(flog d2)")"
	fi
	wait_until 1 sh -c "! ip netns exec $(ns_name own) nft list chain inet filterd inbound | grep -qx '[[:space:]]*accept'"
	table own >"$T/own.table"
	same_files "drift: repaired, the table equals a fresh filterctl apply" "$T/fresh.table" "$T/own.table"
	# the policy file broken afterwards (the reload it causes is rejected):
	# drift is repaired from the ruleset in force, twice -- a repair from the
	# file failed and left drift unwatched from then on
	rj0=$(nlines d2 'event=rejected')
	printf 'version: [\n' >"$T/own.yaml"
	wait_until 3 more_lines d2 'event=rejected' "$rj0"
	for n in 1 2; do
		drift1=$(nlines d2 'event=drift')
		nsx own nft add rule inet filterd inbound accept
		if wait_until 2 more_lines d2 'event=drift' "$drift1" &&
			wait_until 2 sh -c "! ip netns exec $(ns_name own) nft list chain inet filterd inbound | grep -qx '[[:space:]]*accept'"; then
			table own >"$T/own.table"
			same_files "drift $n with a broken policy file: repaired from the ruleset in force" "$T/fresh.table" "$T/own.table"
		else
			not_ok "drift $n with a broken policy file: detected and repaired" "$(tail -4 "$(flog d2)")"
		fi
	done
	cp "$T/p1.yaml" "$T/own.yaml"
	# a change whose event the kernel dropped (the monitor socket overran
	# while filterd was busy: stopped here, behind a flood of another
	# table's events) is still found: ENOBUFS means "check the table"
	"$PY" -c '
print("add table inet junk\nadd set inet junk s { type ipv4_addr; }")
for b in range(1200):
    print("add element inet junk s { " + ", ".join("10.%d.%d.%d" % (1 + b // 250, b % 250, i) for i in range(250)) + " }")' >"$T/flood.nft"
	sleep 0.5
	drift1=$(nlines d2 'event=drift')
	kill -STOP "$PID_d2"
	nsx own nft -f "$T/flood.nft"
	nsx own nft add rule inet filterd inbound accept
	kill -CONT "$PID_d2"
	if wait_until 5 more_lines d2 'event=drift' "$drift1" &&
		wait_until 2 sh -c "! ip netns exec $(ns_name own) nft list chain inet filterd inbound | grep -qx '[[:space:]]*accept'" &&
		grep -q 'event=warning what=monitor error="No buffer space available"' "$(flog d2)"; then
		ok "drift: a change whose event was lost (monitor overrun, ENOBUFS) is found and repaired"
	else
		not_ok "drift: lost monitor events" "$(grep -E 'monitor|drift' "$(flog d2)" | tail -3)"
	fi
	nsx own nft delete table inet junk
else
	not_ok "drift: filterd with ownership=off"
fi

# =====================================================================
# d3: --fail-mode open: the kernel removes the owned table with its owner
# =====================================================================
ns_add open || { not_ok "fail open: namespace"; live_finish; }
cp "$T/p1.yaml" "$T/open.yaml"
if fd_start d3 open "$T/open.yaml" "$EXTAGS" --fail-mode open && nft_table open >/dev/null 2>&1; then
	ok "fail open: table present while filterd runs"
	kill -9 "$PID_d3"
	wait "$PID_d3" 2>/dev/null
	if wait_until 1 sh -c "! ip netns exec $(ns_name open) nft list table inet filterd"; then
		ok "fail open: after kill -9 the table is gone"
	else
		not_ok "fail open: after kill -9 the table is gone" "$(nft_table open | head -3)"
	fi
else
	not_ok "fail open: table present while filterd runs" "$(tail -3 "$(flog d3)")"
fi

# =====================================================================
# d6: the isolation latch -- Azure's managed network cannot lower its
# isolation; filterd refuses a lower isolation_mode unless an owner forces it
# =====================================================================
ns_add iso || { not_ok "isolation latch: namespace"; live_finish; }
iso_pol() { pol_text live-iso false | sed "s/isolation_mode: disabled/isolation_mode: $1/"; }
iso_pol allow_only_approved_outbound >"$T/iso-approved.yaml"
iso_pol allow_internet_outbound >"$T/iso-internet.yaml"
iso_pol disabled >"$T/iso-disabled.yaml"
cp "$T/iso-approved.yaml" "$T/iso.yaml"
cp "$EXTAGS" "$T/iso-tags.json"
# a lower mode with a warning (outbound rules under 'disabled' approve nothing):
# the refusal's reason must still be said, not only the warning
sed 's/^  isolation_mode: disabled$/  isolation_mode: disabled\n  outbound_rules:\n    - {name: partner, type: service_tag, destination: {address_prefixes: ["203.0.113.128\/25"], protocol: TCP, port_ranges: "443"}}/' \
	"$T/iso-disabled.yaml" >"$T/iso-disabled-warn.yaml"
chmod 644 "$T"/iso*.yaml "$T/iso-tags.json"
if grep -q "isolation_mode: allow_only_approved_outbound" "$T/iso-approved.yaml" &&
	fd_start d6 iso "$T/iso.yaml" "$T/iso-tags.json"; then
	out=$(ctl d6 apply "$T/iso-disabled.yaml" 2>&1); rc=$?
	out2=$(ctl d6 apply "$T/iso-internet.yaml" 2>&1); rc2=$?
	if [ $rc = 1 ] && grep -q "isolation_mode disabled is lower than allow_only_approved_outbound" <<<"$out" &&
		[ $rc2 = 1 ] && grep -q "isolation_mode allow_internet_outbound is lower" <<<"$out2" &&
		grep -q "isolation_mode: allow_only_approved_outbound" "$T/iso.yaml" &&
		grep -q '"isolation_mode": "allow_only_approved_outbound"' "$T/d6/state/isolation.json" &&
		[ "$(ctl d6 status --json | json_get /dev/stdin isolation_latched)" = allow_only_approved_outbound ]; then
		ok "isolation latch: approved-only in force, a lower isolation_mode is refused (exit 1, says why)"
	else
		not_ok "isolation latch: a lower isolation_mode refused" "disabled: exit $rc: $out" \
			"internet: exit $rc2: $out2" "$(cat "$T/d6/state/isolation.json" 2>&1)"
	fi
	if ctl d6 apply --force "$T/iso-disabled.yaml" >/dev/null 2>&1 &&
		grep -q 'event=isolation-latched isolation_mode=disabled workspace="live-iso" forced=lower' "$(flog d6)" &&
		ctl d6 apply "$T/iso-internet.yaml" >/dev/null 2>&1; then
		ok "isolation latch: an owner's --force lowers it (logged), a stricter mode raises it again"
	else
		not_ok "isolation latch: --force lowers it" "$(grep -E 'isolation|rejected' "$(flog d6)" | tail -3)"
	fi
	# a rollback is no way around it: the previous policy (disabled) is lower
	# than the latch (allow_internet_outbound)
	out=$(ctl d6 rollback 2>&1); rc=$?
	if [ $rc != 0 ] && grep -q "isolation_mode disabled is lower than allow_internet_outbound" <<<"$out" &&
		grep -q "isolation_mode: allow_internet_outbound" "$T/iso.yaml"; then
		ok "isolation latch: a rollback to a lower isolation_mode is refused too"
	else
		not_ok "isolation latch: rollback refused" "exit $rc" "$out"
	fi
	out=$(ctl d6 apply "$T/iso-disabled-warn.yaml" 2>&1); rc=$?
	if [ $rc = 1 ] && grep -q "warning: outbound_rules have no effect" <<<"$out" &&
		grep -q "filterctl: .*isolation_mode disabled is lower than allow_internet_outbound" <<<"$out"; then
		ok "refusals: a policy refused for the latch with only warnings says the reason too"
	else
		not_ok "refusals: the reason with only warnings" "exit $rc" "$out"
	fi
	# a FIFO in the policy's place: the reload refuses it, filterd answers on
	cp "$T/iso.yaml" "$T/iso.yaml.keep"
	rej0=$(nlines d6 'not a regular file')
	rm -f "$T/iso.yaml"; mkfifo "$T/iso.yaml"
	if wait_until 5 more_lines d6 'not a regular file' "${rej0:-0}" && timeout 5 env FILTERD_SOCKET="$T/d6/sock" "$FILTERCTL" status >/dev/null; then
		ok "bad input: a FIFO in the policy's place is refused (not a regular file), filterd answers on"
	else
		not_ok "bad input: a FIFO in the policy's place" "$(tail -3 "$(flog d6)")"
	fi
	rm -f "$T/iso.yaml"; cp "$T/iso.yaml.keep" "$T/iso.yaml"
	# a restart while the tags file is broken, with the table still there:
	# the last policy and tags in force come back, owned and watched again
	kill -9 "$PID_d6"; wait "$PID_d6" 2>/dev/null
	echo '{' >"$T/iso-tags.json"
	fb0=$(nlines d6 'event=fallback-applied')
	if fd_start d6 iso "$T/iso.yaml" "$T/iso-tags.json" &&
		more_lines d6 'event=fallback-applied .*in place of the table found' "${fb0:-0}" &&
		ctl d6 status --json | json_get /dev/stdin ownership | grep -q "^owner" &&
		! nsx iso nft delete table inet filterd 2>/dev/null; then
		ok "restart with a broken tags file and the table there: the last policy in force is back, owned (a foreign delete fails)"
	else
		not_ok "restart with a broken tags file: fallback over the table" "$(grep -E 'fallback|kept-existing|rejected' "$(flog d6)" | tail -3)" \
			"ownership: $(ctl d6 status --json | json_get /dev/stdin ownership)"
	fi
	kill -TERM "$PID_d6"; wait "$PID_d6" 2>/dev/null
else
	not_ok "isolation latch: filterd with an approved-only policy" "$(tail -5 "$(flog d6)" 2>&1)"
fi

# =====================================================================
# d5: a start after a reboot with files it refuses: the last policy and tags
# in force come back (a deny rule's tag emptied by the tags file)
# =====================================================================
ns_add boot || { not_ok "fallback: namespace"; live_finish; }
{ pol_text live-boot false 8090; printf '%s\n' '  - name: DenyKeyVaultOut' '    priority: 300' \
	'    direction: outbound' '    access: deny' '    protocol: tcp' '    destination: AzureKeyVault'; } >"$T/boot.yaml"
cp "$EXTAGS" "$T/boot-tags.json"
chmod 644 "$T/boot.yaml" "$T/boot-tags.json"
if fd_start d5 boot "$T/boot.yaml" "$T/boot-tags.json"; then
	table boot >"$T/boot-before.table"
	kill -TERM "$PID_d5"; wait "$PID_d5" 2>/dev/null
	nsx boot nft delete table inet filterd	# what a reboot leaves: no table
	"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1])); d["changeNumber"] += 1
for v in d["values"]:
    if v["name"] == "AzureKeyVault": v["properties"]["addressPrefixes"] = []
json.dump(d, open(sys.argv[1], "w"))' "$T/boot-tags.json"
	fb0=$(nlines d5 'event=fallback-applied')
	if fd_start d5 boot "$T/boot.yaml" "$T/boot-tags.json" &&
		more_lines d5 'event=fallback-applied' "${fb0:-0}" && nlines d5 'it would deny nothing' >/dev/null &&
		table boot >"$T/boot-after.table" && cmp -s "$T/boot-before.table" "$T/boot-after.table" &&
		grep -q '"op":"startup-fallback","result":"applied"' "$(faudit d5)"; then
		ok "fallback: files refused at start and no table: the last policy and tags in force are back (the same table, audited)"
	else
		not_ok "fallback: last policy and tags in force" "$(grep -E 'fallback|rejected|no-policy' "$(flog d5)" | tail -3)" \
			"$(diff "$T/boot-before.table" "$T/boot-after.table" 2>&1 | head -5)"
	fi
	cp "$EXTAGS" "$T/boot-tags.json.new" && mv "$T/boot-tags.json.new" "$T/boot-tags.json"
	if wait_until 5 sh -c "grep -q 'event=tags-loaded file=$T/boot-tags.json' '$(flog d5)'" &&
		ctl d5 status --json | json_get /dev/stdin tags_loaded_change_number | grep -qx 1; then
		ok "fallback: fixed files are read again on the next change (tags file back, change number 1)"
	else
		not_ok "fallback: files read again" "$(tail -3 "$(flog d5)")"
	fi
	kill -TERM "$PID_d5"; wait "$PID_d5" 2>/dev/null
else
	not_ok "fallback: first start" "$(tail -3 "$(flog d5)")"
fi

# =====================================================================
# d4: real service tags, swapped 20240415 -> 20240506 -> back
# =====================================================================
if [ ! -f "$REAL1" ] || [ ! -f "$REAL2" ]; then
	skip "tags swap" "no ServiceTags_Public_20240415/0506.json under $SHARED/data/servicetags (set FILTERD_SHARED)"
else
	ns_add real && ns_add realfresh || { not_ok "tags swap: namespaces"; live_finish; }
	mkdir -p "$T/d4"
	cat >"$T/d4/policy.yaml" <<'EOF'
# t_daemon.sh: real service tags (compiled and loaded only; no traffic)
version: 1
workspace: live-tags
region: eastus
virtual_network:
  address_space: [10.0.0.0/16, "fd00:10::/48"]
security_rules:
  - name: AllowAzureMachineLearning
    priority: 110
    direction: inbound
    access: allow
    protocol: tcp
    source: AzureMachineLearning
    destination_ports: "44224"
  - name: DenyAzureCloudSmb
    priority: 200
    direction: outbound
    access: deny
    protocol: tcp
    destination: AzureCloud
    destination_ports: "445"
  - name: AllowMonitor
    priority: 210
    direction: outbound
    access: allow
    protocol: tcp
    destination: AzureMonitor
    destination_ports: "443"
managed_network:
  isolation_mode: allow_only_approved_outbound
  outbound_rules:
    - name: storage
      type: service_tag
      destination: {service_tag: Storage, protocol: TCP, port_ranges: "443"}
EOF
	cp "$REAL1" "$T/d4/tags.json"
	if fd_start d4 real "$T/d4/policy.yaml" "$T/d4/tags.json"; then
		ok "tags swap: filterd up with ServiceTags_Public_20240415.json"
		inc0=$(nlines d4 'mode=incremental')
		cp "$REAL2" "$T/d4/.tags.json.new" && mv "$T/d4/.tags.json.new" "$T/d4/tags.json"
		if wait_until 10 more_lines d4 'mode=incremental' "$inc0"; then
			line=$(grep 'mode=incremental' "$(flog d4)" | tail -1)
			add=$(printf '%s\n' "$line" | sed -n 's/.*elements_added=\([0-9]*\).*/\1/p')
			del=$(printf '%s\n' "$line" | sed -n 's/.*elements_deleted=\([0-9]*\).*/\1/p')
			if [ "${add:-0}" -gt 0 ] && [ "${del:-0}" -gt 0 ]; then
				ok "tags swap 0415 -> 0506: mode=incremental, elements_added=$add elements_deleted=$del"
			else
				not_ok "tags swap 0415 -> 0506: mode=incremental with element counts > 0" "$line"
			fi
		else
			not_ok "tags swap 0415 -> 0506: mode=incremental" "$(tail -4 "$(flog d4)")"
		fi
		nsx realfresh "$FILTERCTL" apply "$T/d4/policy.yaml" --direct --tags "$REAL2" >/dev/null 2>"$T/err" ||
			echo "# $(cat "$T/err")"
		table real >"$T/real.table"
		table realfresh >"$T/realfresh.table"
		same_files "tags swap: nft list table equals a fresh apply --direct with 0506" \
			"$T/realfresh.table" "$T/real.table"
		rej0=$(nlines d4 'event=rejected')
		cp "$REAL1" "$T/d4/.tags.json.new" && mv "$T/d4/.tags.json.new" "$T/d4/tags.json"
		if wait_until 10 more_lines d4 'event=rejected' "$rej0" &&
			grep 'event=rejected' "$(flog d4)" | tail -1 | grep -q 'rollback protection'; then
			ok "tags swap back to 0415: refused (rollback protection, logged)"
		else
			not_ok "tags swap back to 0415: refused (rollback protection, logged)" "$(tail -3 "$(flog d4)")"
		fi
		table real >"$T/real2.table"
		same_files "tags swap back: table unchanged (still 0506)" "$T/realfresh.table" "$T/real2.table"
		out=$(ctl d4 reload --force 2>&1); rc=$?
		nsx realfresh "$FILTERCTL" apply "$T/d4/policy.yaml" --direct --tags "$REAL1" >/dev/null 2>&1
		table real >"$T/real3.table"
		table realfresh >"$T/realfresh3.table"
		if [ $rc -eq 0 ] && cmp -s "$T/real3.table" "$T/realfresh3.table"; then
			ok "tags swap back: filterctl reload --force (root) accepts 0415"
		else
			not_ok "tags swap back: filterctl reload --force (root) accepts 0415" "exit $rc" "$out" \
				"$(diff "$T/realfresh3.table" "$T/real3.table" | head -10)"
		fi
	else
		not_ok "tags swap: filterd up with ServiceTags_Public_20240415.json"
	fi
fi

# =====================================================================
# d7: the state on disk across crashes and faults (a review's findings): a
# restart never finds an unconfirmed policy in force without its window, nor
# a rolled-back one as the rollback target; a confirmation that cannot be
# recorded is no confirmation; damaged latch files are latches at their
# strictest; a wall clock stepped back does not stretch a window
# =====================================================================
ns_add st || { not_ok "state faults: namespace"; live_finish; }
cp "$T/p1.yaml" "$T/st.yaml"
pol_text live-st-hbi true >"$T/st-hbi.yaml"
cp "$EXTAGS" "$T/st-tags.json"
chmod 644 "$T/st.yaml" "$T/st-tags.json"
st_restart() {	# [FAULT]: stops d7 (SIGKILL) if it runs, starts it again
	[ -n "${PID_d7:-}" ] && kill -9 "$PID_d7" 2>/dev/null && wait "$PID_d7" 2>/dev/null
	if [ -n "${1:-}" ]; then export FILTERD_FAULT=$1; fi
	fd_start d7 st "$T/st.yaml" "$T/st-tags.json"
	local rc=$?
	unset FILTERD_FAULT
	return $rc
}
st_pending() { ctl d7 status --json | json_get /dev/stdin pending_confirmation.seconds_left; }
# st_confirm_locked POLICY: applies POLICY with a window, then confirms it
# while the state directory takes no write (out, rc: the confirmation's
# answer; left: the window's seconds left after it)
st_confirm_locked() {
	ctl d7 apply "$1" --confirm-within 60 >/dev/null 2>&1 || return 1
	chattr +i "$T/d7/state"
	out=$(ctl d7 confirm 2>&1); rc=$?
	left=$(st_pending)
	chattr -i "$T/d7/state"
}
if st_restart kill-between-writes; then
	# 1. killed between the window's record and the policy file
	out=$(ctl d7 apply "$T/p2.yaml" --confirm-within 60 2>&1); rc=$?
	wait "$PID_d7" 2>/dev/null
	if [ $rc != 0 ] && cmp -s "$T/st.yaml" "$T/p1.yaml" && st_restart &&
		grep -q 'event=pending-dropped' "$(flog d7)" && wait_until 2 no_rule st AllowInet8080 &&
		[ "$(st_pending)" = null ]; then
		ok "state: killed between the window's record and the policy file, a restart puts the confirmed policy back (no unconfirmed one without its window)"
	else
		not_ok "state: killed between the window's record and the policy file" "apply: exit $rc: $out" \
			"$(diff "$T/p1.yaml" "$T/st.yaml" | head -3)" "$(grep -E 'pending|applied' "$(flog d7)" | tail -3)" \
			"pending: $(st_pending)"
	fi
	# 2. killed between the rollback's policy file and its record
	out=$(ctl d7 apply "$T/p2.yaml" --confirm-within 60 2>&1) &&
		sha_b=$(ctl d7 status --json | json_get /dev/stdin policy_sha256) &&
		st_restart kill-between-writes && [ "$(st_pending)" != null ] || out="$out (setup failed)"
	ctl d7 rollback >/dev/null 2>&1
	wait "$PID_d7" 2>/dev/null
	if cmp -s "$T/st.yaml" "$T/p1.yaml" && st_restart && wait_until 2 no_rule st AllowInet8080 &&
		[ "$(ctl d7 status --json | json_get /dev/stdin previous_policy_sha256)" != "$sha_b" ] &&
		{ ctl d7 rollback >/dev/null 2>&1; sleep 0.3; no_rule st AllowInet8080; }; then
		ok "state: killed inside a rollback, a restart keeps the rolled-back policy out (not in force, not the rollback target)"
	else
		not_ok "state: killed inside a rollback" "$out" "$(ctl d7 status 2>&1 | head -8)"
	fi
	# 3. a confirmation that cannot be recorded is refused; the window stays
	if st_confirm_locked "$T/p2.yaml"; then
		out2=$(ctl d7 confirm 2>&1); rc2=$?
		if [ $rc != 0 ] && grep -q "could not be recorded" <<<"$out" && [ "$left" != null ] &&
			[ $rc2 = 0 ] && [ "$(st_pending)" = null ]; then
			ok "state: a confirmation the state directory cannot take is refused, the window stays open; confirmed once it can"
		else
			not_ok "state: an unrecordable confirmation" "exit $rc: $out" "left: $left" "then: exit $rc2: $out2"
		fi
	else
		not_ok "state: apply with a window for the confirmation case"
	fi
	# 4. a wall clock stepped back while filterd was down: the window keeps
	# what was left of it, not the years the clock says
	ctl d7 rollback >/dev/null 2>&1
	ctl d7 apply "$T/p2.yaml" --confirm-within 30 >/dev/null 2>&1
	kill -9 "$PID_d7" 2>/dev/null; wait "$PID_d7" 2>/dev/null; PID_d7=
	"$PY" - "$T/d7/state/state.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
j["pending_until"] += 3 * 365 * 86400
json.dump(j, open(p, "w"))
PYEOF
	if st_restart && left=$(st_pending) && [ "$left" != null ] && [ "$left" -le 30 ]; then
		ok "state: a window resumed after the wall clock stepped back keeps its 30 s ($left s left)"
	else
		not_ok "state: a window resumed after a clock step" "seconds_left: $left"
	fi
	ctl d7 confirm >/dev/null 2>&1
	# 5. damaged latch files are taken as the policy in force sets them: no
	# lower policy gets in, and a reboot is never left without a table
	ctl d7 apply "$T/iso-approved.yaml" >/dev/null 2>&1
	printf '' >"$T/d7/state/isolation.json"
	out=$(ctl d7 apply "$T/iso-internet.yaml" 2>&1); rc=$?
	if [ $rc = 1 ] && grep -q "is lower than allow_only_approved_outbound.*isolation.json unreadable" <<<"$out" &&
		grep -q "event=state-unreadable file=$T/d7/state/isolation.json" "$(flog d7)"; then
		ok "state: a damaged isolation.json refuses a mode lower than the one in force (logged)"
	else
		not_ok "state: a damaged isolation.json" "exit $rc: $out"
	fi
	kill -9 "$PID_d7" 2>/dev/null; wait "$PID_d7" 2>/dev/null; PID_d7=
	nsx st nft delete table inet filterd 2>/dev/null
	cp "$T/iso-internet.yaml" "$T/st.yaml"
	if st_restart && nsx st nft list table inet filterd 2>/dev/null | grep -q 'managed:out:DenyUnapprovedOutbound' &&
		grep -q 'event=fallback-applied' "$(flog d7)"; then
		ok "state: a reboot with a damaged isolation.json and a lower policy file puts the policy last in force back (not no table)"
	else
		not_ok "state: a reboot with a damaged isolation.json" "$(grep -E 'fallback|no-policy|rejected' "$(flog d7)" | tail -3)"
	fi
	rm -f "$T/d7/state/isolation.json"
	cp "$T/p1.yaml" "$T/st.yaml"
	wait_until 5 no_rule st DenyUnapprovedOutbound
	ctl d7 apply "$T/st-hbi.yaml" >/dev/null 2>&1 || not_ok "state: apply st-hbi.yaml"
	printf '{"workspaces": [' >"$T/d7/state/hbi.json"
	out=$(ctl d7 apply "$T/p1.yaml" 2>&1); rc=$?
	rm -f "$T/d7/state/hbi.json"
	out3=$(ctl d7 apply "$T/p1.yaml" 2>&1); rc3=$?
	if [ $rc = 1 ] && grep -q "hbi.json cannot be read: the hbi latch is taken as set" <<<"$out" &&
		[ $rc3 = 0 ] && grep -q "event=state-unreadable file=$T/d7/state/hbi.json" "$(flog d7)"; then
		ok "state: a damaged hbi.json with an hbi policy in force refuses a policy without hbi (logged); repaired, it lets it in"
	else
		not_ok "state: damaged hbi.json" "hbi: exit $rc: $out" "after: exit $rc3: $out3"
	fi
	# a confirmation refused for the state latches nothing (it latched hbi,
	# and the window's rollback was then refused forever)
	if st_confirm_locked "$T/st-hbi.yaml"; then
		out2=$(ctl d7 rollback 2>&1); rc2=$?
		if [ $rc != 0 ] && [ ! -e "$T/d7/state/hbi.json" ] && [ $rc2 = 0 ] && cmp -s "$T/st.yaml" "$T/p1.yaml"; then
			ok "state: a refused confirmation latches nothing; the window's rollback goes through"
		else
			not_ok "state: a refused confirmation latches nothing" "confirm: exit $rc: $out" \
				"rollback: exit $rc2: $out2" "$(cat "$T/d7/state/hbi.json" 2>&1)"
		fi
	else
		not_ok "state: an hbi policy with a window for the refused confirmation"
	fi
	# a window whose record could not be written keeps the previous policy in
	# the file; its confirmation writes the window's policy there
	chattr +i "$T/d7/state"
	out=$(ctl d7 apply "$T/p2.yaml" --confirm-within 60 2>&1); rc=$?
	chattr -i "$T/d7/state"
	same_before=$(cmp -s "$T/st.yaml" "$T/p1.yaml" && echo yes)
	out2=$(ctl d7 confirm 2>&1); rc2=$?
	if [ $rc = 0 ] && grep -q "warning: the state could not be recorded.*a restart rolls back" <<<"$out" &&
		[ "$same_before" = yes ] && [ $rc2 = 0 ] && cmp -s "$T/st.yaml" "$T/p2.yaml"; then
		ok "state: a window the state cannot record warns and keeps the file; its confirmation writes the file"
	else
		not_ok "state: an unrecorded window's confirmation" "apply: exit $rc: $out" "file kept: $same_before" \
			"confirm: exit $rc2: $out2" "$(diff "$T/p2.yaml" "$T/st.yaml" | head -3)" \
			"$(grep -E 'policy-write|confirmed|pending|state-|applied|rolled' "$(flog d7)" | tail -8)"
	fi
	# 6. a damaged roles.json gives no user but root a role
	printf 'garbage' >"$T/d7/state/roles.json"
	if st_restart && grep -q "event=state-unreadable file=$T/d7/state/roles.json .*no user has a role but root" "$(flog d7)"; then
		ok "state: a damaged roles.json is said at start (no user but root gets a role)"
	else
		not_ok "state: a damaged roles.json" "$(grep roles "$(flog d7)" | tail -3)"
	fi
	# 7. an hbi policy whose latch cannot be written says so to the client
	chattr +i "$T/d7/state"
	out=$(ctl d7 apply "$T/st-hbi.yaml" 2>&1); rc=$?
	chattr -i "$T/d7/state"
	if [ $rc = 0 ] && grep -q "filterctl: warning: the hbi latch could not be recorded.*; the state could not be recorded" <<<"$out"; then
		ok "state: an hbi latch and a state the directory cannot take are both a warning to the client, not silence"
	else
		not_ok "state: an unrecordable hbi latch" "exit $rc: $out"
	fi
	# 9. an audit record a full disk cuts short is taken back (the next one
	# used to be glued onto it: a line that is no JSON) and logged instead
	kill -9 "$PID_d7" 2>/dev/null; wait "$PID_d7" 2>/dev/null; PID_d7=
	A=$T/d7audit
	mkdir -p "$A"
	unshare -m --propagation private bash -c "mount -t tmpfs -o size=16k tmpfs '$A' &&
		head -c 12000 /dev/zero >'$A/fill' &&
		exec ip netns exec '$(ns_name st)' '$FILTERD' --policy '$T/st.yaml' --tags '$T/st-tags.json' \
		--state-dir '$T/d7/state' --socket '$T/d7/sock' --set audit_log='$A/audit.log'" >>"$T/d7/log" 2>&1 &
	PID_d7=$!
	_live_pids+=("$PID_d7")
	if wait_until 10 ctl d7 status; then
		for i in $(seq 40); do ctl d7 apply "$T/st.yaml" >/dev/null 2>&1; done
		nsenter -t "$PID_d7" -m cat "$A/audit.log" >"$T/d7audit.copy" 2>/dev/null
		if grep -q 'event=audit-write-failed .*No space left on device' "$(flog d7)" &&
			[ -s "$T/d7audit.copy" ] && "$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    json.loads(l)
' "$T/d7audit.copy" 2>"$T/d7audit.err"; then
			ok "state: audit records a full disk cuts short are taken back: every line of the audit log is JSON ($(wc -l <"$T/d7audit.copy") records), the rest logged"
		else
			not_ok "state: audit log on a full disk" "$(grep audit-write "$(flog d7)" | tail -2)" \
				"$(cat "$T/d7audit.err")" "$(tail -c 300 "$T/d7audit.copy")"
		fi
	else
		not_ok "state: filterd with its audit log on a small tmpfs" "$(tail -3 "$T/d7/log")"
	fi
	kill -9 "$PID_d7" 2>/dev/null; wait "$PID_d7" 2>/dev/null; PID_d7=
	# 8. an emptied previous.yaml is no rollback target (it was restored,
	# and every rollback failed blaming the policy file)
	emptied=$(json_get "$T/d7/state/state.json" previous.sha256)
	: >"$T/d7/state/previous.yaml"
	# (and temporaries a kill left behind, of a process that is gone)
	echo stale >"$T/d7/state/tags.json.tmp.3999999"
	echo stale >"$T/st.yaml.tmp.3999998"
	if [ -n "$emptied" ] && [ "$emptied" != null ] && st_restart &&
		grep -q "event=state-unreadable file=$T/d7/state/previous.yaml error=\"its sha256 .* is not the" "$(flog d7)" &&
		[ "$(ctl d7 status --json | json_get /dev/stdin previous_policy_sha256)" != "$emptied" ]; then
		ok "state: an emptied previous.yaml is said at start and is no rollback target"
		if [ ! -e "$T/d7/state/tags.json.tmp.3999999" ] && [ ! -e "$T/st.yaml.tmp.3999998" ] &&
			[ "$(grep -c 'event=stale-temporary-removed' "$(flog d7)")" = 2 ]; then
			ok "state: temporaries a killed filterd left are removed at start (logged)"
		else
			not_ok "state: stale temporaries removed" "$(ls "$T/d7/state" "$T" | grep tmp)"
		fi
	else
		not_ok "state: an emptied previous.yaml" "$(grep previous "$(flog d7)" | tail -2)" \
			"emptied: $emptied; previous now: $(ctl d7 status --json | json_get /dev/stdin previous_policy_sha256)"
	fi
else
	not_ok "state faults: filterd d7 up"
fi

# ---- every stderr line of every daemon is one event ------------------------------
bad=$(cat "$T"/d*/log | grep -Ev '^[0-9T:.-]+Z filterd\[[0-9]+\]: event=[a-z-]+( |$)' | head -5)
if [ -z "$bad" ]; then ok "log: every stderr line of filterd is one 'event=...' line"
else not_ok "log: every stderr line of filterd is one 'event=...' line" "$bad"; fi

live_finish
