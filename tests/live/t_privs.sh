#!/bin/bash
# t_privs — filterd without uid 0: CAP_NET_ADMIN and nothing else, as a user of
# its own, both ways it can get there:
#
#   - started as root with `user = NAME`: it becomes NAME before it touches
#     any file (ids, groups, capabilities and bounding set read back from
#     /proc/PID/status; every file it makes is NAME's), and it still does its
#     whole job: apply through the socket (the kernel's table changes, the
#     policy file is stored), the confirmation window's rollback, reload on a
#     file change, drop logs from NFLOG, the audit log;
#   - started as NAME itself with CAP_NET_ADMIN ambient (what the systemd unit
#     does: User=filterd, AmbientCapabilities=CAP_NET_ADMIN CAP_CHOWN);
#
# and what goes wrong says so: an unknown user stops the start before anything
# is applied (the table in force untouched), a non-root start that names
# another user likewise, a policy directory NAME cannot write is named at start
# and an apply puts the policy in force without storing it, the files a run as
# root left are named, not taken over; and links NAME plants where filterd
# writes (state, audit log, socket) lead nowhere: a review had a root start
# follow them into a root-only directory.
# Namespaces "host" and "peers" (lib.sh topo_setup): one denied probe for the
# drop log; test users and groups are removed on exit.
. "$(dirname "$0")/lib.sh"
live_init t_privs
FILTERD=$O/filterd
T=$(live_tmp)
chmod 755 "$T"
U=fdp_u$$ U2=fdp_v$$ G=fdp_g$$

if [ ! -x "$FILTERD" ]; then not_ok "t_privs: $FILTERD missing (make O=... all)"; live_finish; fi
command -v setpriv >/dev/null 2>&1 || { skip "t_privs" "setpriv not found (util-linux)"; live_finish; }
groupadd "$G" && _groups+=("$G") || { skip "t_privs" "cannot create test groups"; live_finish; }
for u in "$U" "$U2"; do
	useradd -M -N -g "$G" -s /usr/sbin/nologin "$u" && _users+=("$u") ||
		{ skip "t_privs" "cannot create test users"; live_finish; }
done
UID_U=$(id -u "$U") GID_G=$(getent group "$G" | cut -d: -f3)

ctl() { FILTERD_SOCKET="$1/sock" "$FILTERCTL" "${@:2}"; }	# DIR ARGS...
log_has() { grep -q -- "$2" "$1/out"; }				# DIR PATTERN
st() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }	# PID KEY
pol() {	# WORKSPACE [PORT]: lib.sh's live_policy and an inbound ssh deny (drop log)
	live_policy "$1" false ${2:+"$2"}
	printf '%s\n' '  - name: DenySshFromInternet' '    priority: 150' '    direction: inbound' \
		'    access: deny' '    protocol: tcp' '    source: Internet' '    destination_ports: "22"'
}
in_force() { nft_table host | grep -qF "AllowInet$1\""; }
not_in_force() { ! in_force "$1"; }
# fd DIR [PRE...] -- [ARGS...]: filterd in host with DIR's files, run through
# PRE (e.g. setpriv ...); PID in FDPID
fd() {
	local dir=$1 pre=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do pre+=("$1"); shift; done
	shift
	ip netns exec "$(ns_name host)" "${pre[@]}" "$FILTERD" --policy "$dir/etc/policy.yaml" --tags "$dir/etc/tags.json" \
		--state-dir "$dir/state" --socket "$dir/run/sock" --set audit_log="$dir/log/audit.log" \
		--set socket_group="$G" "$@" >>"$dir/out" 2>&1 &
	FDPID=$!
	_live_pids+=("$FDPID")
}
up() { wait_until 10 env FILTERD_SOCKET="$1/run/sock" "$FILTERCTL" status; }
stop() { kill -TERM "$1" 2>/dev/null; wait_until 10 sh -c "! kill -0 $1 2>/dev/null"; }
mkfiles() {	# DIR OWNER-OF-DIRS
	mkdir -p "$1/etc" "$1/run" "$1/log"
	pol ws >"$1/etc/policy.yaml"
	cp "$TAGS" "$1/etc/tags.json"
	chmod 755 "$1" "$1/etc" "$1/run" "$1/log"
	chmod 644 "$1/etc/policy.yaml" "$1/etc/tags.json"
	chown "$2" "$1/etc" "$1/run" "$1/log"
}

topo_setup || { not_ok "privs: topology"; live_finish; }

# ---- started as root with user = U ------------------------------------------
# U's directories made beforehand, as systemd (or the operator) makes them
A=$T/a
mkfiles "$A" "$U"
mkdir -m 0700 "$A/state" && chown "$U:$G" "$A/state"
fd "$A" -- --set user="$U"
if up "$A"; then ok "privs: filterd with user=$U is up"
else not_ok "privs: filterd with user=$U is up" "$(tail -5 "$A/out")"; live_finish; fi
P=$FDPID
want_ids="$UID_U $UID_U $UID_U $UID_U"
want_g="$GID_G $GID_G $GID_G $GID_G"
if [ "$(st "$P" Uid)" = "$want_ids" ] && [ "$(st "$P" Gid)" = "$want_g" ] &&
	[ "$(st "$P" Groups)" = "$GID_G" ]; then
	ok "privs: real, effective, saved and fs uid and gid are $U's, groups $G only"
else
	not_ok "privs: ids are $U's" "Uid: $(st "$P" Uid)" "Gid: $(st "$P" Gid)" "Groups: $(st "$P" Groups)"
fi
# CAP_NET_ADMIN is bit 12
if [ "$(st "$P" CapEff)" = 0000000000001000 ] && [ "$(st "$P" CapPrm)" = 0000000000001000 ] &&
	[ "$(st "$P" CapBnd)" = 0000000000001000 ] && [ "$(st "$P" CapInh)" = 0000000000000000 ] &&
	[ "$(st "$P" CapAmb)" = 0000000000000000 ]; then
	ok "privs: CAP_NET_ADMIN alone: effective, permitted, bounding set; nothing inheritable or ambient"
else
	not_ok "privs: CAP_NET_ADMIN alone" "$(grep ^Cap "/proc/$P/status")"
fi
if log_has "$A" "event=user user=$U uid=$UID_U gid=$GID_G note=\"became this user before touching any file\"" &&
	log_has "$A" "event=capabilities kept=cap_net_admin bounding_set=cap_net_admin" &&
	! log_has "$A" "what=privileges"; then
	ok "privs: event=user and event=capabilities logged, no path it cannot write"
else
	not_ok "privs: start-up log" "$(grep -E 'event=(user|capabilities|warning|error)' "$A/out")"
fi
ra=$(ctl "$A/run" status --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("runs_as"))')
if [ "$ra" = "$U (uid $UID_U), cap_net_admin" ]; then
	ok "privs: filterctl status says whom filterd runs as ($ra)"
else
	not_ok "privs: filterctl status runs_as" "got: $ra"
fi
bad=$(find "$A/state" "$A/log/audit.log" ! -user "$U" 2>&1)
if [ -z "$bad" ] && [ -s "$A/state/state.json" ] && [ -s "$A/log/audit.log" ] &&
	[ "$(stat -c '%U %G %a' "$A/run/sock")" = "$U $G 660" ]; then
	ok "privs: every file it made is $U's (state, audit log: made as $U); the socket $U:$G 0660"
else
	not_ok "privs: files made as $U" "not $U's: $bad" "$(ls -la "$A/state" "$A/run" "$A/log")"
fi
# the job, as U: an apply through the socket changes the kernel's table and is stored
pol ws 8080 >"$T/B.yaml"
pol ws 8081 >"$T/C.yaml"
pol ws 8082 >"$T/D.yaml"
chmod 644 "$T"/*.yaml
na=$(grep -c . "$A/log/audit.log")
if ctl "$A/run" apply "$T/B.yaml" >"$T/apply.out" 2>&1 && in_force 8080 &&
	cmp -s "$T/B.yaml" "$A/etc/policy.yaml" && [ "$(stat -c %U "$A/etc/policy.yaml")" = "$U" ]; then
	ok "privs: as $U, filterctl apply changes the kernel's table and stores the policy file"
else
	not_ok "privs: apply as $U" "$(cat "$T/apply.out")" "$(tail -5 "$A/out")"
fi
if [ "$(grep -c . "$A/log/audit.log")" -gt "$na" ] && tail -1 "$A/log/audit.log" | grep -q '"op":"apply".*"result":"applied"'; then
	ok "privs: the apply is in the audit log ($U writes it)"
else
	not_ok "privs: audit record of the apply" "$(tail -2 "$A/log/audit.log")"
fi
expect_allowed "privs: the applied rule admits tcp 8080 from the internet" peers tcp $HOST4 8080 $INET4
checks_wait
# the confirmation window rolls back as U (state written, rules restored)
ctl "$A/run" apply "$T/C.yaml" --confirm-within 2 >"$T/c.out" 2>&1
if in_force 8081 && wait_until 8 not_in_force 8081 &&
	in_force 8080 && cmp -s "$T/B.yaml" "$A/etc/policy.yaml" && log_has "$A" "event=rolled-back"; then
	ok "privs: as $U, an apply left unconfirmed is rolled back (table and policy file)"
else
	not_ok "privs: rollback as $U" "$(cat "$T/c.out")" "$(grep -E 'roll|error|warning' "$A/log" | tail -5)"
fi
# reload on a change of the policy file (inotify)
cp "$T/D.yaml" "$A/etc/policy.yaml.tmp" && mv "$A/etc/policy.yaml.tmp" "$A/etc/policy.yaml"
if wait_until 10 in_force 8082; then ok "privs: as $U, an edit of the policy file is applied (inotify)"
else not_ok "privs: reload as $U" "$(tail -5 "$A/out")"; fi
# drop logs come from NFLOG, which U binds with CAP_NET_ADMIN alone
expect_denied "privs: ssh from the internet is denied" peers tcp $HOST4 22 $INET4
checks_wait
if wait_until 5 grep -qE "event=drop direction=in proto=tcp src=203\.0\.113\.10:[0-9]+ dst=10\.0\.1\.4:22 " "$A/out"; then
	ok "privs: as $U, the denied connection is in the drop log (NFLOG)"
else
	not_ok "privs: drop log as $U" "$(grep -E 'drop|nflog|warning' "$A/log" | tail -5)"
fi
if [ "$(st "$P" Uid)" = "$want_ids" ] && [ "$(st "$P" CapEff)" = 0000000000001000 ]; then
	ok "privs: still $U with CAP_NET_ADMIN alone after all that"
else
	not_ok "privs: ids after the work" "$(grep -E '^(Uid|Cap)' "/proc/$P/status")"
fi
stop "$P"

# ---- links U plants where filterd writes lead nowhere ---------------------------
# (as a compromised filterd could leave them for its next start as root)
mkdir -m 0700 "$T/rootonly"
ln -sfn "$T/rootonly/audit-target" "$A/log/audit.log"
for i in $(seq 0 400); do
	ln -sfn "$T/rootonly/state-target" "$A/state/state.json.tmp.$(($$ + i))"
	ln -sfn "$T/rootonly/state-target" "$A/state/current.yaml.tmp.$(($$ + i))"
done
chown -h "$U:$G" "$A/log/audit.log" "$A"/state/*.tmp.*
fd "$A" -- --set user="$U"
P=$FDPID
if up "$A" && ctl "$A/run" apply "$T/D.yaml" >/dev/null 2>&1 && [ -z "$(ls -A "$T/rootonly")" ] &&
	log_has "$A" "event=audit-write-failed file=$A/log/audit.log error=\"Too many levels of symbolic links\""; then
	ok "privs: links $U planted at the audit log and the state files' names lead nowhere (nothing made in a root-only directory)"
else
	not_ok "privs: planted links" "$(ls -la "$T/rootonly")" "$(grep -E 'audit-write|state-write|error' "$A/out" | tail -3)"
fi
stop "$P"
rm -f "$A/log/audit.log"

# ---- what a run as root left stops the start, and is not taken over ----------------
# (a state it cannot read would be taken for none: the hbi latch gone)
E=$T/e
mkfiles "$E" "$U"
fd "$E" -- && up "$E" && stop "$FDPID"
nft_table host -s >"$T/e-before.nft"
fd "$E" -- --set user="$U"
wait "$FDPID" 2>/dev/null
rc=$?
nft_table host -s >"$T/e-after.nft"
if [ $rc = 1 ] && log_has "$E" "event=error what=state_dir dir=$E/state error=\"$E/state: Permission denied (uid $UID_U; a state directory left by a run as root must be chowned" &&
	[ "$(stat -c %U "$E/state")" = root ] && cmp -s "$T/e-before.nft" "$T/e-after.nft"; then
	ok "privs: a state directory a run as root left stops a start as $U (exit 1, says to chown it), stays root's, the table untouched"
else
	not_ok "privs: root's leftovers" "exit $rc" "$(grep -E 'warning|error' "$E/out" | tail -4)"
fi
chown -R "$U:$G" "$E/state" "$E/log/audit.log"
nl0=$(wc -l <"$E/out")
fd "$E" -- --set user="$U"
P=$FDPID
if up "$E" && ! tail -n +"$((nl0 + 1))" "$E/out" | grep -q "what=privileges"; then
	ok "privs: chowned to $U, the same state starts"
else
	not_ok "privs: chowned state starts" "$(tail -4 "$E/out")"
fi
stop "$P"

# ---- a configuration the user could rewrite: a root start refuses user = ----------
F=$T/f
mkfiles "$F" "$U"
mkdir -m 0700 "$F/state" && chown "$U:$G" "$F/state"
printf 'user = %s\n' "$U" >"$F/etc/filterd.conf"	# in U's etc directory
fd "$F" -- --config "$F/etc/filterd.conf"
wait "$FDPID" 2>/dev/null
rc=$?
if [ $rc = 1 ] && log_has "$F" "event=error what=user error=\"user = needs a configuration only root can change, and $F/etc is not root's"; then
	ok "privs: a root start refuses user = when $U could rewrite filterd.conf (its directory is $U's)"
else
	not_ok "privs: config in the user's directory" "exit $rc" "$(tail -3 "$F/out")"
fi
mkdir -m 0755 "$T/rootetc" && mv "$F/etc/filterd.conf" "$T/rootetc/" && chmod 644 "$T/rootetc/filterd.conf"
fd "$F" -- --config "$T/rootetc/filterd.conf"
P=$FDPID
if up "$F" && [ "$(st "$P" Uid)" = "$want_ids" ]; then
	ok "privs: the same configuration in a root-only directory: started, $U"
else
	not_ok "privs: root-only config" "$(tail -3 "$F/out")"
fi
stop "$P"

# ---- an unknown user: nothing applied, the table in force untouched ----------
nft_table host -s >"$T/before.nft"
pol other 9090 >"$A/etc/policy.yaml"
fd "$A" -- --set user=fdp_nosuchuser$$
wait "$FDPID" 2>/dev/null
rc=$?
nft_table host -s >"$T/after.nft"
if [ $rc = 1 ] && log_has "$A" "event=error what=user error=\"user fdp_nosuchuser$$: no such user\"" &&
	cmp -s "$T/before.nft" "$T/after.nft" && [ -s "$T/after.nft" ]; then
	ok "privs: user=<unknown>: exit 1 before anything is applied, the table in force unchanged"
else
	not_ok "privs: unknown user" "exit $rc" "$(tail -3 "$A/out")" "$(diff "$T/before.nft" "$T/after.nft" | head)"
fi

# ---- started as U itself with CAP_NET_ADMIN ambient (as the systemd unit) ----
B=$T/b
mkfiles "$B" "$U"
mkdir -m 0700 "$B/state" && chown "$U:$G" "$B/state"
touch "$B/log/audit.log" && chown "$U:$G" "$B/log/audit.log" && chmod 600 "$B/log/audit.log"
amb=(setpriv --reuid="$U" --regid="$G" --init-groups --inh-caps=+net_admin,+chown --ambient-caps=+net_admin,+chown)
fd "$B" "${amb[@]}" -- --set user="$U"
P=$FDPID
if up "$B" && [ "$(st "$P" Uid)" = "$want_ids" ] && [ "$(st "$P" CapEff)" = 0000000000001000 ] &&
	[ "$(st "$P" CapPrm)" = 0000000000001000 ] && [ "$(st "$P" CapAmb)" = 0000000000000000 ] &&
	log_has "$B" "event=user user=$U uid=$UID_U gid=$GID_G note=\"started as this user\""; then
	ok "privs: started as $U with CAP_NET_ADMIN and CAP_CHOWN ambient: up, CAP_NET_ADMIN alone kept"
else
	not_ok "privs: started as $U (ambient)" "$(tail -5 "$B/out")" "$(grep -E '^(Uid|Cap)' "/proc/$P/status" 2>&1)"
fi
if ctl "$B/run" apply "$T/B.yaml" >"$T/b.out" 2>&1 && in_force 8080 && cmp -s "$T/B.yaml" "$B/etc/policy.yaml" &&
	[ "$(stat -c '%U %G' "$B/run/sock")" = "$U $G" ]; then
	ok "privs: started as $U: apply changes the table and stores the policy; socket $U:$G"
else
	not_ok "privs: apply, started as $U" "$(cat "$T/b.out")" "$(tail -5 "$B/out")"
fi
stop "$P"

# ---- a non-root start naming another user -------------------------------------
fd "$B" "${amb[@]}" -- --set user="$U2"
wait "$FDPID" 2>/dev/null
rc=$?
if [ $rc = 1 ] && log_has "$B" "event=error what=user error=\"user $U2: started as uid $UID_U, which cannot become uid $(id -u "$U2")"; then
	ok "privs: started as $U with user=$U2: exit 1, says why"
else
	not_ok "privs: non-root start naming another user" "exit $rc" "$(tail -3 "$B/out")"
fi

# ---- a policy directory U cannot write ------------------------------------------
C=$T/c
mkfiles "$C" "$U"
mkdir -m 0700 "$C/state" && chown "$U:$G" "$C/state"
chown root "$C/etc"	# 0755 root: U reads the policy, cannot store one
cp "$C/etc/policy.yaml" "$T/c-orig.yaml"
fd "$C" -- --set user="$U"
P=$FDPID
if up "$C" && log_has "$C" "event=warning what=privileges policy=$C/etc/policy.yaml dir=$C/etc uid=$UID_U error=\"Permission denied\" note=\"filterctl apply and rollback put a policy in force but cannot store it in the policy file\""; then
	ok "privs: a policy directory $U cannot write is named at start"
else
	not_ok "privs: unwritable policy directory warned" "$(grep -E 'warning|error' "$C/out")"
fi
if ctl "$C/run" apply "$T/C.yaml" >"$T/cc.out" 2>&1 && in_force 8081 &&
	log_has "$C" "event=policy-write-failed file=$C/etc/policy.yaml" && cmp -s "$T/c-orig.yaml" "$C/etc/policy.yaml"; then
	ok "privs: there an apply puts the policy in force and logs that the file could not be stored"
else
	not_ok "privs: apply with an unwritable policy directory" "$(cat "$T/cc.out")" "$(tail -4 "$C/out")"
fi
stop "$P"

live_finish
