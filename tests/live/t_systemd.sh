#!/bin/bash
# Live (no namespaces needed): the systemd unit passes `systemd-analyze verify`,
# the default configuration documents every key and passes --check-config, the
# man pages render without warnings, and `make install DESTDIR=... PREFIX=/usr`
# installs the expected files (unit with ExecStart substituted, configuration not
# overwritten).
LIVE_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$LIVE_DIR/../.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O="$ROOT/$O" ;; esac
T=$(mktemp -d /tmp/filterd-systemd.XXXXXX)
trap 'rm -rf "$T"' EXIT
trap 'rm -rf "$T"; exit 130' INT
trap 'rm -rf "$T"; exit 143' TERM
failed=0
ok() { echo "ok - $1"; }
not_ok() { local n=$1 l; shift; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done; echo "not ok - $n"; failed=$((failed + 1)); }
skip() { echo "skip - $1: $2"; }
cd "$ROOT" || exit 1

# ---- make install -------------------------------------------------------------
if out=$(make --no-print-directory O="$O" install DESTDIR="$T/inst" PREFIX=/usr 2>&1); then
	(cd "$T/inst" && find . -type f | sort) >"$T/files"
	cat >"$T/want" <<'W'
./etc/filterd/filterd.conf
./usr/bin/pcap-replay
./usr/lib/systemd/system/filterd.service
./usr/lib/sysusers.d/filterd.conf
./usr/lib/tmpfiles.d/filterd.conf
./usr/sbin/filterctl
./usr/sbin/filterd
./usr/share/filterd/filterd.conf
./usr/share/filterd/policy.yaml
./usr/share/filterd/servicetags.json
./usr/share/man/man1/pcap-replay.1
./usr/share/man/man5/filterd-policy.5
./usr/share/man/man8/filterctl.8
./usr/share/man/man8/filterd.8
W
	[ -x "$O/pcap-replay" ] || sed -i '/pcap-replay/d' "$T/want"
	if cmp -s "$T/want" "$T/files"; then ok "make install DESTDIR PREFIX=/usr: the expected files"
	else not_ok "make install DESTDIR PREFIX=/usr: the expected files" "$(diff "$T/want" "$T/files")"; fi
	unit=$T/inst/usr/lib/systemd/system/filterd.service
	if grep -qx 'ExecStart=/usr/sbin/filterd --config /etc/filterd/filterd.conf' "$unit" && ! grep -q '@SBINDIR@' "$unit"; then
		ok "make install: ExecStart= points at PREFIX/sbin/filterd"
	else
		not_ok "make install: ExecStart= points at PREFIX/sbin/filterd" "$(grep ExecStart "$unit")"
	fi
	echo "# edited" >>"$T/inst/etc/filterd/filterd.conf"
	make --no-print-directory O="$O" install DESTDIR="$T/inst" PREFIX=/usr >/dev/null 2>&1
	if tail -1 "$T/inst/etc/filterd/filterd.conf" | grep -q '# edited'; then
		ok "make install: an existing /etc/filterd/filterd.conf is not overwritten"
	else
		not_ok "make install: an existing /etc/filterd/filterd.conf is not overwritten"
	fi
else
	not_ok "make install DESTDIR PREFIX=/usr" "$out"
fi

# ---- systemd unit -------------------------------------------------------------
if ! command -v systemd-analyze >/dev/null 2>&1; then
	skip "systemd-analyze verify scripts/filterd.service" "systemd-analyze not found (apt-get install systemd)"
elif [ ! -x "$O/filterd" ]; then
	not_ok "systemd-analyze verify scripts/filterd.service" "$O/filterd not built"
else
	# ExecStart= must name an existing binary, and Documentation= man pages must
	# be found: the built binary and the man pages of this tree.
	mkdir -p "$T/unit" "$T/man/man5" "$T/man/man8"
	sed "s|@SBINDIR@|$O|g" scripts/filterd.service >"$T/unit/filterd.service"
	cp man/*.5 "$T/man/man5/"; cp man/*.8 "$T/man/man8/"
	out=$(MANPATH="$T/man" systemd-analyze verify "$T/unit/filterd.service" 2>&1); rc=$?
	# verify exits 0 on unknown keys and other warnings: any output is a failure
	if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify scripts/filterd.service (no warning)"
	else not_ok "systemd-analyze verify scripts/filterd.service (no warning)" "exit $rc" "$out"; fi
	for k in 'Type=notify' 'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=always' 'NoNewPrivileges=yes' \
		'ProtectSystem=strict' 'RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6' \
		'User=filterd' 'AmbientCapabilities=CAP_NET_ADMIN CAP_CHOWN' \
		'SystemCallFilter=@system-service' 'StateDirectory=filterd' 'RuntimeDirectory=filterd' 'LogsDirectory=filterd'; do
		grep -qxF "$k" scripts/filterd.service || not_ok "unit: $k" "missing in scripts/filterd.service"
	done
	if grep -q '^CapabilityBoundingSet=CAP_NET_ADMIN' scripts/filterd.service; then ok "unit: hardening settings present"
	else not_ok "unit: CapabilityBoundingSet=CAP_NET_ADMIN..."; fi
	if sec=$(systemd-analyze security --offline=yes "$T/unit/filterd.service" 2>/dev/null | tail -1); then
		echo "# ${sec#→ }"
	fi
fi

# ---- the user of the unit (sysusers.d) and /etc/filterd's owner (tmpfiles.d) ----
if command -v systemd-sysusers >/dev/null 2>&1 && command -v systemd-tmpfiles >/dev/null 2>&1; then
	R=$T/root
	mkdir -p "$R/etc"
	if systemd-sysusers --root="$R" "$ROOT/scripts/filterd.sysusers" >/dev/null 2>&1 &&
		pw=$(grep '^filterd:' "$R/etc/passwd") && gid=$(awk -F: '$1 == "filterd" { print $3 }' "$R/etc/group") &&
		uid=$(echo "$pw" | cut -d: -f3) &&
		[ "$(echo "$pw" | cut -d: -f6-7)" = /var/lib/filterd:/usr/sbin/nologin ] && [ "$(echo "$pw" | cut -d: -f3)" != 0 ] &&
		systemd-tmpfiles --root="$R" --create "$ROOT/scripts/filterd.tmpfiles" >/dev/null 2>&1 &&
		[ "$(stat -c '%u %g %a' "$R/etc/filterd")" = "$uid $gid 755" ] &&
		grep -q '^ConfigurationDirectoryMode=0755$' "$ROOT/scripts/filterd.service"; then
		ok "sysusers.d makes the system user filterd (nologin); tmpfiles.d gives /etc/filterd to that user, not to its group (0755: the group is the socket's)"
	else
		not_ok "sysusers.d / tmpfiles.d" "$(cat "$R/etc/passwd" "$R/etc/group" 2>&1)" "$(stat -c '%u %g %a' "$R/etc/filterd" 2>&1)"
	fi
else
	skip "sysusers.d / tmpfiles.d" "systemd-sysusers or systemd-tmpfiles not found"
fi

# ---- configuration --------------------------------------------------------------
if out=$("$O/filterd" --config "$ROOT/scripts/filterd.conf" --check-config 2>&1); then
	ok "filterd --config scripts/filterd.conf --check-config"
else
	not_ok "filterd --config scripts/filterd.conf --check-config" "$out"
fi
# every key of rules/config.c keys[] is documented (as "key =" line) in the default file
missing=
for k in $(sed -n '/^static const struct key keys\[\]/,/^};/s/^[[:space:]]*{ "\([a-z_.]*\)".*/\1/p' rules/config.c); do
	grep -qE "^#? ?$k =" scripts/filterd.conf || missing="$missing $k"
	grep -qF "$k" man/filterd.8 || missing="$missing $k(man)"
done
if [ -z "$missing" ]; then ok "scripts/filterd.conf and filterd(8) document every configuration key"
else not_ok "scripts/filterd.conf and filterd(8) document every configuration key" "missing:$missing"; fi
printf 'policy = /etc/filterd/policy.yaml\nfail_mode = sometimes\n  bogus = 1\n' >"$T/bad.conf"
out=$("$O/filterd" --config "$T/bad.conf" --check-config 2>&1); rc=$?
if [ $rc -eq 2 ] && printf '%s\n' "$out" | grep -q "bad.conf:2:13: .*fail_mode" &&
   printf '%s\n' "$out" | grep -q "bad.conf:3:3: error: unknown key 'bogus'"; then
	ok "filterd --check-config: exits 2; a bad value at the value's column, an unknown key at the key's"
else
	not_ok "filterd --check-config: a bad value exits 2 with file:line:col" "exit $rc" "$out"
fi
# values that used to pass --check-config and then fail or do nothing at run
# time: a role list in no known form (its users silently without a role), a
# resolver that is no address (FQDN resolution dead), a verify pair without
# its colon, a user this host does not have; an unknown role member warns
printf 'role.reader = usr:nobody\ndns_servers = 10.0.0.1, 10.0.0.300\nverify_captures = /a.pcap:/a.txt, nocolon.pcap\nsocket_mode = 1000\n' >"$T/bad2.conf"
out=$("$O/filterd" --config "$T/bad2.conf" --check-config 2>&1); rc=$?
out2=$("$O/filterd" --config /dev/null --set user=fdnosuch$$ --check-config 2>&1); rc2=$?
out3=$("$O/filterd" --config /dev/null --set role.owner=user:fdnosuch$$,uid:0 --check-config 2>&1); rc3=$?
if [ $rc -eq 2 ] && grep -q "bad2.conf:1:15: error: role.reader must list user:NAME, group:NAME, uid:N or gid:N" <<<"$out" &&
	grep -q "bad2.conf:2:15: error: dns_servers: '10.0.0.300' is not an address" <<<"$out" &&
	grep -q "bad2.conf:3:19: error: verify_captures: 'nocolon.pcap' is not CAPTURE:EXPECTATIONS" <<<"$out" &&
	grep -q "bad2.conf:4:15: error: socket_mode must be an octal number up to 777, not '1000'" <<<"$out" &&
	[ $rc2 -eq 2 ] && grep -q "user fdnosuch$$: no such user" <<<"$out2" &&
	[ $rc3 -eq 0 ] && grep -q "warning: role.owner: not known on this host, so granting nobody until they are: user:fdnosuch$$" <<<"$out3"; then
	ok "filterd --check-config: role lists, resolvers, verify pairs, socket_mode and the user are checked (file:line:col); an unknown role member warns"
else
	not_ok "filterd --check-config checks every value" "exit $rc: $out" "exit $rc2: $out2" "exit $rc3: $out3"
fi

# ---- man pages ------------------------------------------------------------------
for m in man/filterd.8 man/filterctl.8 man/filterd-policy.5 man/pcap-replay.1; do
	if ! command -v groff >/dev/null 2>&1; then skip "man: $m renders" "groff not found"; continue; fi
	warn=$(groff -man -Tutf8 -t -ww "$m" 2>&1 >/dev/null)
	lines=$(groff -man -Tutf8 -t "$m" 2>/dev/null | wc -l)
	if [ -z "$warn" ] && [ "$lines" -gt 50 ]; then ok "man: $m renders without warnings ($lines lines)"
	else not_ok "man: $m renders without warnings" "$warn" "$lines lines"; fi
done

[ $failed -eq 0 ]
