#!/bin/bash
# Long test (`make check-long`): filterd under valgrind in a network namespace,
# N reloads (default 1000) alternating SIGHUP and `filterctl reload`, alternating
# good and broken policies, with tags swaps (incremental updates, a refused
# older changeNumber, a forced one), safe applies with rollback and confirm,
# status requests and the inotify path; then SIGTERM.  Passes when valgrind
# reports no error and no definite or indirect leak, and every reload was
# answered as expected.  Prints a summary.
#
#   O=build N=1000 tests/long/reloads.sh
# Needs root, ip netns and valgrind.  No traffic: the namespace has only lo.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O="$ROOT/$O" ;; esac
N=${N:-1000}
FILTERD=$O/filterd
FILTERCTL=$O/filterctl
SHARED=${FILTERD_SHARED:-$ROOT/../shared}
REAL1=$SHARED/data/servicetags/ServiceTags_Public_20240415.json
REAL2=$SHARED/data/servicetags/ServiceTags_Public_20240506.json

if [ "$(id -u)" != 0 ]; then echo "reloads: skipped: not root"; exit 0; fi
for t in ip valgrind python3; do
	command -v "$t" >/dev/null || { echo "reloads: skipped: $t not found"; exit 0; }
done
[ -x "$FILTERD" ] && [ -x "$FILTERCTL" ] || { echo "reloads: $FILTERD or $FILTERCTL not built"; exit 2; }

NS=fdlong$$
T=$(mktemp -d /tmp/filterd-long.XXXXXX)
VPID=
cleanup() {
	[ -n "$VPID" ] && kill -KILL "$VPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$NS" || { echo "reloads: cannot create a network namespace"; exit 2; }
ip -n "$NS" link set lo up

# ---- inputs ------------------------------------------------------------------
pol() { # PORT: a good policy; its rules differ with PORT
	cat <<EOF
version: 1
workspace: long-reloads
region: eastus
virtual_network:
  address_space: [10.0.0.0/16, "fd00:10::/48"]
private_endpoints:
  - name: workspace
    addresses: [10.0.2.5]
security_rules:
  - name: AllowAzureMachineLearning
    priority: 110
    direction: inbound
    access: allow
    protocol: tcp
    source: AzureMachineLearning
    destination_ports: "44224"
  - name: AllowPartner
    priority: 120
    direction: inbound
    access: allow
    protocol: tcp
    source: [203.0.113.0/24, "2001:db8:ffff::/48"]
    destination_ports: "$1"
  - name: DenyCloudSmb
    priority: 200
    direction: outbound
    access: deny
    protocol: tcp
    destination: AzureCloud.eastus
    destination_ports: "445"
managed_network:
  isolation_mode: allow_only_approved_outbound
  outbound_rules:
    - name: storage
      type: service_tag
      destination: {service_tag: Storage.region, protocol: TCP, port_ranges: "443,445"}
    - name: pypi
      type: fqdn
      destination: pypi.org
EOF
}
pol 8080 >"$T/good-a.yaml"
pol 8443 >"$T/good-b.yaml"
{ pol 8080 | sed 's/direction: inbound/direction: sideways/'; } >"$T/broken-1.yaml"
{ pol 8080 | sed 's/address_space: \[10.0.0.0\/16/address_space: [10.0.0.0\/16/; s/"fd00:10::\/48"\]/"fd00:10::\/48"/'; } >"$T/broken-2.yaml"
cp "$T/good-a.yaml" "$T/policy.yaml"
# synthetic tags variants: changeNumber K, one prefix more or less
mktags() { # CHANGE OUT
	python3 - "$ROOT/examples/servicetags.json" "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
d["changeNumber"] = n
for v in d["values"]:
    if v["name"] == "AzureMachineLearning" and n % 2:
        v["properties"]["addressPrefixes"].append("198.51.100.%d/32" % (n % 250))
json.dump(d, open(sys.argv[3], "w"))
EOF
}
mktags 1 "$T/tags.json"
swap_tags() { cp "$1" "$T/.tags.new" && mv "$T/.tags.new" "$T/tags.json"; }

# ---- filterd under valgrind ------------------------------------------------------
LOG=$T/filterd.log VG=$T/valgrind.log SOCK=$T/sock
ip netns exec "$NS" valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--error-exitcode=9 --track-fds=no --num-callers=30 --log-file="$VG" \
	"$FILTERD" --policy "$T/policy.yaml" --tags "$T/tags.json" --state-dir "$T/state" \
	--socket "$SOCK" --set audit_log="$T/audit.log" >"$LOG" 2>&1 &
VPID=$!
ctl() { FILTERD_SOCKET=$SOCK "$FILTERCTL" "$@"; }
count() { grep -c -- "$1" "$LOG" 2>/dev/null; }
up=0
for _ in $(seq 300); do
	ctl status >/dev/null 2>&1 && { up=1; break; }
	sleep 0.1
done
if [ $up = 0 ]; then
	echo "reloads: filterd did not come up under valgrind"; cat "$LOG" "$VG"; exit 1
fi

t0=$(date +%s)
bad=0 hups=0 ctlreloads=0 good=0 broken=0 swaps=0 safe=0
note_bad() { bad=$((bad + 1)); [ $bad -le 10 ] && echo "reloads: $*"; }
change=1
for ((i = 1; i <= N; i++)); do
	# odd: a good policy (a and b alternate so that something changes); even: broken
	if ((i % 2)); then
		if (((i / 2) % 2)); then cp "$T/good-b.yaml" "$T/policy.yaml.new"; else cp "$T/good-a.yaml" "$T/policy.yaml.new"; fi
		want=0; good=$((good + 1))
	else
		cp "$T/broken-$(((i / 2) % 2 + 1)).yaml" "$T/policy.yaml.new"
		want=1; broken=$((broken + 1))
	fi
	mv "$T/policy.yaml.new" "$T/policy.yaml"
	if (((i / 2) % 2)); then
		# SIGHUP, then wait until filterd logged it and finished the reload
		n0=$(count 'event=signal signal=HUP')
		kill -HUP "$VPID"
		hups=$((hups + 1))
		for _ in $(seq 400); do
			[ "$(count 'event=signal signal=HUP')" -gt "$n0" ] && break
			sleep 0.025
		done
		ctl status >/dev/null 2>&1 || note_bad "status failed after SIGHUP $i"
	else
		ctl reload >/dev/null 2>&1
		rc=$?
		ctlreloads=$((ctlreloads + 1))
		[ $rc -eq $want ] || note_bad "reload $i: exit $rc, want $want"
	fi
	# every 100: a tags swap (incremental update)
	if ((i % 100 == 50)); then
		cp "$T/good-a.yaml" "$T/policy.yaml.new" && mv "$T/policy.yaml.new" "$T/policy.yaml"
		change=$((change + 1))
		mktags $change "$T/tags.next"
		swap_tags "$T/tags.next"
		swaps=$((swaps + 1))
		ctl reload >/dev/null 2>&1 || note_bad "reload after tags swap $change failed"
	fi
	# every 250: an older changeNumber is refused, then forced; a safe apply rolled back, one confirmed
	if ((i % 250 == 125)); then
		mktags $((change - 1)) "$T/tags.old"
		swap_tags "$T/tags.old"
		ctl reload >/dev/null 2>&1 && note_bad "older tags changeNumber accepted at $i"
		ctl reload --force >/dev/null 2>&1 || note_bad "reload --force failed at $i"
		mktags $((change + 1)) "$T/tags.next"; change=$((change + 1))
		swap_tags "$T/tags.next"
		ctl reload >/dev/null 2>&1 || note_bad "reload after the forced tags failed at $i"
		ctl apply "$T/good-b.yaml" --confirm-within 60 >/dev/null 2>&1 || note_bad "safe apply failed at $i"
		ctl rollback >/dev/null 2>&1 || note_bad "rollback failed at $i"
		ctl apply "$T/good-a.yaml" --confirm-within 60 >/dev/null 2>&1 && ctl confirm >/dev/null 2>&1 ||
			note_bad "safe apply + confirm failed at $i"
		ctl apply "$T/broken-1.yaml" >/dev/null 2>&1 && note_bad "broken apply accepted at $i"
		safe=$((safe + 1))
	fi
done
# the real service tags, when present: a big incremental update, under valgrind
real=skipped
if [ -f "$REAL1" ] && [ -f "$REAL2" ]; then
	cp "$T/good-a.yaml" "$T/policy.yaml.new" && mv "$T/policy.yaml.new" "$T/policy.yaml"
	swap_tags "$REAL1"
	ctl reload >/dev/null 2>&1 || note_bad "reload with $REAL1 failed"
	swap_tags "$REAL2"
	ctl reload >/dev/null 2>&1 || note_bad "reload with $REAL2 failed"
	swap_tags "$REAL1"
	ctl reload >/dev/null 2>&1 && note_bad "older real tags accepted"
	ctl reload --force >/dev/null 2>&1 || note_bad "reload --force with $REAL1 failed"
	real="0415 -> 0506 -> 0415 (refused, forced)"
fi
sleep 0.5	# let a pending inotify reload run
ctl status --json >"$T/status.json" 2>&1 || note_bad "final status failed"
kill -TERM "$VPID"
wait "$VPID"
vrc=$?
VPID=
t1=$(date +%s)

errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$VG" | tail -1)
def=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$VG" | tail -1)
ind=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$VG" | tail -1)
applied=$(count 'event=applied')
incr=$(count 'mode=incremental')
rejected=$(count 'event=rejected')
echo "reloads: $N reloads in $((t1 - t0)) s ($hups SIGHUP, $ctlreloads filterctl reload; $good good, $broken broken)," \
	"$swaps tags swaps, $safe safe-apply rounds, real tags: $real"
echo "reloads: filterd logged $applied applied ($incr incremental), $rejected rejected; $bad unexpected answers"
echo "reloads: valgrind: exit $vrc, ${errs:-?} errors, definitely lost ${def:-0} bytes, indirectly lost ${ind:-0} bytes (log: kept below on failure)"
if [ "$vrc" -ne 0 ] || [ "${errs:-1}" != 0 ] || [ "$bad" -ne 0 ]; then
	sed -n '/definitely lost in\|indirectly lost in\|Invalid\|uninitialised\|Mismatched/,/^==[0-9]*== $/p' "$VG" | head -150
	tail -5 "$LOG"
	echo "reloads: FAILED"
	exit 1
fi
echo "reloads: ok"
