#!/bin/bash
# Hostile input and faults (issue 8; docs/bad-inputs.md lists every case).
#
#   1. regression inputs of the fuzzers (tests/fuzz/regress) through the parsers
#   2. bounded resources, offline: policy and tags size limits, YAML aliases and
#      nesting, a million-prefix tags file, malformed captures, ten million flows
#   3. sanitizers: `make check-asan` (unit tests, regression inputs, t_replay.sh
#      and the daemon's live tests under ASan+UBSan, leaks at exit included)
#      and a short libFuzzer pass (`make fuzz`)
#   4. live (root, network namespaces): kernel refusal, filterd/filterctl killed
#      at every step of an apply, state directory read-only or full, control
#      socket abuse (oversized, unfinished, hundreds of clients)
#
# Knobs: HOSTILE_FUZZ_SECONDS (20 per harness; 0 skips the fuzz pass),
# HOSTILE_ASAN=0 skips the sanitizer build, HOSTILE_FLOWS (10000000).
# Cases that cannot run say "skip - NAME: reason".  Everything created here
# (temp files, namespaces, mounts in private mount namespaces, processes) goes
# away on exit.
. "$(dirname "$0")/lib.sh"
HDATA=$ROOT/tests/data/hostile
GEN="$PY $HDATA/gen.py"
ABUSE="$PY $HDATA/ctl_abuse.py"
REPLAY=$O/pcap-replay
FILTERD=$O/filterd
EXTAGS=$ROOT/examples/servicetags.json
EXPOL=$ROOT/examples/policy.yaml
FUZZ_SECONDS=${HOSTILE_FUZZ_SECONDS:-20}
FLOWS=${HOSTILE_FLOWS:-10000000}
H=$(mktemp -d /tmp/filterd-hostile.XXXXXX)
trap 'rm -rf "$H"' EXIT
trap 'rm -rf "$H"; exit 130' INT
trap 'rm -rf "$H"; exit 143' TERM
cd "$ROOT" || exit 2

# Our own counters until live_init (root part) takes over lib.sh's.
fails=0
hok() { echo "ok - $1"; }
hnot() { local n=$1 l; shift; for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done
	 echo "not ok - $n"; fails=$((fails + 1)); }
# expect_msg NAME WANT_RC PATTERN COMMAND...: exit status and a message on stderr/stdout.
expect_msg() {
	local name=$1 want=$2 pat=$3 out rc
	shift 3
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" = "$want" ] && printf '%s\n' "$out" | grep -qF -- "$pat"; then
		hok "$name"
	else
		hnot "$name" "command: $*" "exit $rc (want $want), want message: $pat" "$(printf '%s\n' "$out" | tail -5)"
	fi
}
# rss_of OUTFILE COMMAND...: runs COMMAND; "RC MAXRSS_KB SECONDS" into OUTFILE.
rss_of() {
	local f=$1
	shift
	"$PY" -c 'import resource,subprocess,sys,time
t=time.time(); r=subprocess.run(sys.argv[2:])
open(sys.argv[1],"w").write("%d %d %.1f\n"%(r.returncode,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,time.time()-t))' "$f" "$@"
}

for b in "$FILTERCTL" "$REPLAY"; do
	if [ ! -x "$b" ]; then
		hnot "t_hostile: $b missing (make O=$O all)"
		exit 1
	fi
done

# ===================================================================== 1 ===
# The fuzzers' findings, replayed through the harnesses built without
# libFuzzer (with whatever SAN this tree was built with).
if out=$(make --no-print-directory O="$O" fuzz-regress 2>&1); then
	for d in tests/fuzz/regress/*/; do
		[ -d "$d" ] || continue
		hok "fuzz regress $(basename "$d"): $(ls "$d" | wc -l) inputs replayed"
	done
else
	hnot "fuzz regress" "$(printf '%s\n' "$out" | tail -15)"
fi

# ===================================================================== 2 ===
# ---- policy file ----
{ cat "$EXPOL"; head -c $((4 * 1024 * 1024)) /dev/zero | tr '\0' '#'; } >"$H/big.yaml"
expect_msg "policy over 4 MiB refused with the limit named" 1 \
	"larger than the limit of 4194304 bytes (4 MiB)" "$FILTERCTL" check "$H/big.yaml" --tags "$EXTAGS"
expect_msg "policy YAML anchor refused" 1 "YAML anchors are not allowed ('&rule')" \
	"$FILTERCTL" check tests/data/policy/bad/alias.yaml --tags "$EXTAGS"
expect_msg "policy YAML alias refused" 1 "YAML aliases are not allowed ('*rule')" \
	"$FILTERCTL" check tests/data/policy/bad/alias.yaml --tags "$EXTAGS"
{ printf 'version: 1\nworkspace: deep\nx: '; for i in $(seq 5000); do printf '['; done; echo; } >"$H/deep.yaml"
expect_msg "policy nested 5000 deep refused at 64 levels" 1 "nesting is deeper than 64 levels" \
	"$FILTERCTL" check "$H/deep.yaml" --tags "$EXTAGS"

# ---- tags file ----
truncate -s $((64 * 1024 * 1024 + 1)) "$H/huge-tags.json"
expect_msg "tags file over 64 MiB refused with the limit named" 1 \
	"larger than the limit of 67108864 bytes (64 MiB)" "$FILTERCTL" check "$EXPOL" --tags "$H/huge-tags.json"
$GEN tags-million "$H/tags1m.json"
cat >"$H/bulk.yaml" <<'EOF'
version: 1
workspace: bulk
virtual_network:
  address_space: [10.0.0.0/16]
security_rules:
  - name: AllowBulk
    priority: 100
    direction: outbound
    access: allow
    protocol: tcp
    destination: Bulk7
    destination_ports: "443"
EOF
rss_of "$H/rss.tags" "$FILTERCTL" check "$H/bulk.yaml" --tags "$H/tags1m.json" >"$H/tags1m.out" 2>&1
read -r rc rss secs <"$H/rss.tags"
if [ "$rc" = 0 ] && [ "$rss" -lt $((1024 * 1024)) ] && awk "BEGIN { exit !($secs < 60) }"; then
	hok "a million-prefix tags file ($(($(stat -c %s "$H/tags1m.json") / 1048576)) MiB) loads in ${secs} s, max RSS $((rss / 1024)) MiB (bound 1 GiB, 60 s)"
else
	hnot "a million-prefix tags file loads within 1 GiB and 60 s" "exit $rc, max RSS ${rss} KiB, ${secs} s" "$(tail -5 "$H/tags1m.out")"
fi

# ---- captures ----
rp() { "$REPLAY" --policy "$EXPOL" --tags "$EXTAGS" --local 10.0.1.4 "$@"; }
for g in zero-len giant snaplen0 caplen-over-len pcapng-lying pcapng-short pcapng-mismatch; do
	$GEN "$g" "$H/$g.pcap"
done
expect_msg "capture: zero-length frame classified per packet" 0 "frame 2 truncated (truncated Ethernet header)" rp "$H/zero-len.pcap"
expect_msg "capture: caplen 300000 (> 256 KiB) is a file-level error, exit 2" 2 \
	"read error after frame 1: invalid packet capture length 300000" rp "$H/giant.pcap"
expect_msg "capture: snaplen 0, frames cut at every length classified per packet" 0 \
	"frame 5 truncated (truncated IPv4 header)" rp "$H/snaplen0.pcap"
expect_msg "capture: caplen larger than the wire length judged" 0 "totals: 2 packets" rp "$H/caplen-over-len.pcap"
expect_msg "pcapng: block length past the end of the file, exit 2" 2 "truncated pcapng dump file" rp "$H/pcapng-lying.pcap"
expect_msg "pcapng: block length below its header, exit 2" 2 "has a length of 8 < 12" rp "$H/pcapng-short.pcap"
expect_msg "pcapng: leading and trailing block lengths differ, exit 2" 2 \
	"block total length in header and trailer don't match" rp "$H/pcapng-mismatch.pcap"
expect_msg "capture: not a capture at all, exit 2" 2 "cannot read capture" rp "$HDATA/gen.py"

# ---- ten million flows, conntrack capped ----
flows_run() { # N -> "RC RSS SECS" in $H/rss.N, warnings in $H/flows.N.err
	$GEN flows "$1" - | rss_of "$H/rss.$1" "$REPLAY" --policy "$HDATA/policy.yaml" --tags "$EXTAGS" \
		--local 10.0.1.4 --max-flows 100000 --max-listed-flows 100000 - >"$H/flows.$1.out" 2>"$H/flows.$1.err"
}
flows_run 1000000
flows_run "$FLOWS"
read -r rc1 rss1 secs1 <"$H/rss.1000000"
read -r rc2 rss2 secs2 <"$H/rss.$FLOWS"
if [ "$rc2" = 0 ] && grep -qF "conntrack table full (--max-flows 100000)" "$H/flows.$FLOWS.err" &&
   grep -qF "more than --max-listed-flows 100000 flows" "$H/flows.$FLOWS.err" &&
   [ "$rss2" -lt $((rss1 * 5 / 4 + 16384)) ] && [ "$rss2" -lt $((512 * 1024)) ]; then
	hok "$FLOWS distinct flows with --max-flows and --max-listed-flows 100000: warned, max RSS $((rss2 / 1024)) MiB (1M flows: $((rss1 / 1024)) MiB), ${secs2} s"
else
	hnot "$FLOWS distinct flows: table capped with a warning, memory flat" \
		"1M: exit $rc1 rss ${rss1} KiB ${secs1} s; ${FLOWS}: exit $rc2 rss ${rss2} KiB ${secs2} s" \
		"$(head -5 "$H/flows.$FLOWS.err")"
fi

# ===================================================================== 3 ===
if [ "${HOSTILE_ASAN:-1}" = 0 ]; then
	echo "skip - sanitizers: HOSTILE_ASAN=0"
else
	t0=$(date +%s)
	if out=$(make --no-print-directory O="$O" check-asan 2>&1); then
		hok "sanitizers: unit tests, fuzz regressions, t_replay.sh and the daemon's live tests ($(make -s --no-print-directory -f Makefile print-asan-live 2>/dev/null)) under ASan+UBSan, no report ($(( $(date +%s) - t0 )) s)"
	else
		hnot "sanitizers: make check-asan" "$(printf '%s\n' "$out" | grep -E 'ERROR|runtime error|SUMMARY|not ok|FAILED|failed' | head -20)" \
			"$(printf '%s\n' "$out" | tail -5)"
	fi
fi
if [ "$FUZZ_SECONDS" = 0 ]; then
	echo "skip - fuzz: HOSTILE_FUZZ_SECONDS=0"
elif ! command -v clang >/dev/null 2>&1; then
	echo "skip - fuzz: clang not installed (scripts/deps.sh installs it)"
elif ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
	clang -x c -fsanitize=fuzzer -o "$H/fz" - >/dev/null 2>&1; then
	echo "skip - fuzz: clang cannot link libFuzzer (libclang-rt-14-dev)"
else
	if ! out=$(make --no-print-directory O="$O" fuzz-build 2>&1); then
		hnot "fuzz: build" "$(printf '%s\n' "$out" | tail -10)"
	else
		while IFS= read -r line; do
			case "$line" in
			"not ok - "*) echo "$line"; fails=$((fails + 1)) ;;
			*) echo "$line" ;;
			esac
		done < <(FUZZ_O="$O/fuzz" FUZZ_SECONDS="$FUZZ_SECONDS" tests/fuzz/run.sh 2>&1)
	fi
fi

# ===================================================================== 4 ===
if [ "$(id -u)" != 0 ]; then
	echo "skip - t_hostile live cases: not root"
	[ "$fails" -eq 0 ]
	exit $?
fi
live_init t_hostile
_live_failed=$fails
trap 'live_cleanup; rm -rf "$H"' EXIT
trap 'live_cleanup; rm -rf "$H"; exit 130' INT
trap 'live_cleanup; rm -rf "$H"; exit 143' TERM
T=$(live_tmp)

# table NS: the listing without what differs by construction between a
# daemon's table and a direct apply (flags, progname) and without counters.
table() {
	nsx "$1" nft -s list table inet filterd 2>&1 |
		sed -e 's/ # progname .*$//' -e '/^\tflags/d' -e '/^[[:space:]]*$/d'
}
pol_ports() { # WORKSPACE PORT...: allow inbound tcp PORT from 203.0.113.0/24
	local p prio=200
	printf 'version: 1\nworkspace: %s\nregion: eastus\nvirtual_network:\n  address_space: [10.0.0.0/16, "fd00:10::/48"]\nmanaged_network:\n  isolation_mode: disabled\nsecurity_rules:\n' "$1"
	shift
	for p in "$@"; do
		prio=$((prio + 1))
		printf '  - name: AllowInet%s\n    priority: %s\n    direction: inbound\n    access: allow\n    protocol: tcp\n    source: 203.0.113.0/24\n    destination_ports: "%s"\n' "$p" "$prio" "$p"
	done
}
pol_ports hostile-a 8080 >"$T/a.yaml"
pol_ports hostile-b 8080 5000 443 >"$T/b.yaml"
direct() { local n=$1; shift; nsx "$n" "$FILTERCTL" apply "$@" --tags "$EXTAGS" --direct --quiet; }

# ---- expected listings: A and B each applied cleanly in a scratch namespace ----
ns_add ref
direct ref "$T/a.yaml" && table ref >"$T/A.nft"
direct ref "$T/b.yaml" && table ref >"$T/B.nft"
if [ ! -s "$T/A.nft" ] || [ ! -s "$T/B.nft" ] || cmp -s "$T/A.nft" "$T/B.nft"; then
	not_ok "fault reference listings" "$(head -5 "$T/A.nft")"
fi

# ---- the kernel refuses the batch ----
ns_add kr
direct kr "$T/a.yaml"
out=$(FILTERD_FAULT=kernel-reject direct kr "$T/b.yaml" 2>&1); rc=$?
table kr >"$T/kr.nft"
if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -qF "kernel refused injected fault: rule in chain inbound jumping to chain no-such-chain" &&
   printf '%s' "$out" | grep -qF "the table in force is unchanged" && cmp -s "$T/kr.nft" "$T/A.nft"; then
	ok "kernel refuses the batch: previous table stays, message names the cause"
else
	not_ok "kernel refuses the batch" "exit $rc: $out" "$(diff "$T/A.nft" "$T/kr.nft" | head -10)"
fi

# ---- filterctl killed at every step of an apply ----
for f in kill-before-send kill-mid-send kill-after-send; do
	ns_add "k$f"
	direct "k$f" "$T/a.yaml"
	FILTERD_FAULT=$f direct "k$f" "$T/b.yaml" >/dev/null 2>&1; rc=$?
	table "k$f" >"$T/k$f.nft"
	want=A
	[ "$f" = kill-after-send ] && want=B
	got=mixture
	cmp -s "$T/k$f.nft" "$T/A.nft" && got=A
	cmp -s "$T/k$f.nft" "$T/B.nft" && got=B
	if [ "$rc" = 137 ] && [ "$got" = "$want" ]; then
		ok "filterctl killed ($f): kernel holds table $got, no mixture"
	else
		not_ok "filterctl killed ($f): old or new table, never a mixture" "exit $rc (137 = SIGKILL), kernel holds: $got, expected $want" \
			"$(diff "$T/$want.nft" "$T/k$f.nft" | head -10)"
	fi
	ip netns del "$(ns_name "k$f")" 2>/dev/null
done

# ---- filterd killed at every step of its apply ----
# The kernel holds A (applied directly); filterd starts on B with the fault and
# dies in its startup apply.  Its table is owner+persist: it outlives the socket.
for f in kill-before-send kill-mid-send kill-after-send; do
	n=d$f
	ns_add "$n"
	direct "$n" "$T/a.yaml"
	mkdir -p "$T/$n"
	# (in a command substitution: bash's "Killed" job report goes to /dev/null)
	rc=$( (FILTERD_FAULT=$f ip netns exec "$(ns_name "$n")" timeout 20 "$FILTERD" --policy "$T/b.yaml" \
		--tags "$EXTAGS" --state-dir "$T/$n/state" --socket "$T/$n/sock" \
		--set audit_log="$T/$n/audit.log" >"$T/$n/log" 2>&1); echo $?) 2>/dev/null
	table "$n" >"$T/$n.nft"
	want=A
	[ "$f" = kill-after-send ] && want=B
	got=mixture
	[ -s "$T/$n.nft" ] || got="no table"
	cmp -s "$T/$n.nft" "$T/A.nft" && got=A
	cmp -s "$T/$n.nft" "$T/B.nft" && got=B
	if [ "$rc" = 137 ] && [ "$got" = "$want" ]; then
		ok "filterd killed ($f): kernel holds table $got, no mixture"
	else
		not_ok "filterd killed ($f): old or new table, never a mixture" "exit $rc, kernel holds: $got, expected $want" \
			"$(tail -5 "$T/$n/log")" "$(diff "$T/$want.nft" "$T/$n.nft" | head -10)"
	fi
	ip netns del "$(ns_name "$n")" 2>/dev/null
done

# ---- state directory read-only / full ----
# filterd runs in a private mount namespace where its state directory is a
# read-only bind mount, or a 64 KiB tmpfs that is then filled.
ctl() { local d=$1; shift; FILTERD_SOCKET="$T/$d/sock" "$FILTERCTL" "$@"; }
state_case() { # NAME MODE(ro|full)
	local n=$1 mode=$2 pid S
	S=$T/$n/state
	mkdir -p "$S"
	ns_add "$n"
	cp "$T/a.yaml" "$T/$n/policy.yaml"
	if [ "$mode" = ro ]; then
		unshare -m --propagation private bash -c '
			mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 97
			shift; exec "$@"' _ "$S" \
			ip netns exec "$(ns_name "$n")" "$FILTERD" --policy "$T/$n/policy.yaml" --tags "$EXTAGS" \
			--state-dir "$S" --socket "$T/$n/sock" --set audit_log="$T/$n/audit.log" >"$T/$n/log" 2>&1 &
	else
		unshare -m --propagation private bash -c '
			mount -t tmpfs -o size=64k,mode=0700 fdstate "$1" || exit 97
			shift; exec "$@"' _ "$S" \
			ip netns exec "$(ns_name "$n")" "$FILTERD" --policy "$T/$n/policy.yaml" --tags "$EXTAGS" \
			--state-dir "$S" --socket "$T/$n/sock" --set audit_log="$T/$n/audit.log" >"$T/$n/log" 2>&1 &
	fi
	pid=$!
	_live_pids+=("$pid")
	if ! wait_until 10 ctl "$n" status; then
		not_ok "state directory $mode: filterd starts" "$(tail -5 "$T/$n/log")"
		return
	fi
	if [ "$mode" = full ]; then
		# fill the tmpfs as seen from filterd's mount namespace
		dd if=/dev/zero of="/proc/$pid/root$S/filler" bs=4k >/dev/null 2>&1
	fi
	out=$(ctl "$n" apply "$T/b.yaml" 2>&1); rc=$?
	table "$n" >"$T/$n.nft"
	if grep -q "event=state-write-failed" "$T/$n/log" && kill -0 "$pid" 2>/dev/null &&
	   ctl "$n" status >/dev/null 2>&1 && cmp -s "$T/$n.nft" "$T/B.nft"; then
		ok "state directory $mode: apply $( [ $rc = 0 ] && echo succeeds || echo "exits $rc"), rules in force kept, event=state-write-failed logged, filterd serving"
	else
		not_ok "state directory $mode: ruleset stays, error logged" "apply: exit $rc: $out" \
			"$(grep -E 'state-write|error' "$T/$n/log" | tail -3)" "$(diff "$T/B.nft" "$T/$n.nft" | head -5)"
	fi
	kill "$pid" 2>/dev/null
}
state_case sro ro
state_case sfull full

# ---- control socket abuse, with traffic ----
if ! topo_setup; then
	not_ok "topology"
	live_finish
fi
mkdir -p "$T/d1"
cp "$T/b.yaml" "$T/d1/policy.yaml"
ip netns exec "$(ns_name host)" "$FILTERD" --policy "$T/d1/policy.yaml" --tags "$EXTAGS" \
	--state-dir "$T/d1/state" --socket "$T/d1/sock" --set audit_log="$T/d1/audit.log" \
	--set socket_mode=0666 >"$T/d1/log" 2>&1 &
PID_d1=$!
_live_pids+=("$PID_d1")
if ! wait_until 10 ctl d1 status; then
	not_ok "filterd d1 starts" "$(tail -5 "$T/d1/log")"
	live_finish
fi
SOCK=$T/d1/sock
out=$($ABUSE oversize "$SOCK" $((9 * 1024 * 1024)) 2>&1)
if printf '%s' "$out" | grep -qF '"error":"request larger than 8 MiB"' && ctl d1 status >/dev/null 2>&1; then
	ok "control socket: 9 MiB request answered \"request larger than 8 MiB\", daemon serving"
else
	not_ok "control socket: oversized request" "answer: $out"
fi

# a request without its newline, then the write side closed: an answer
out=$("$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"{\"op\":\"status\"}")
s.shutdown(socket.SHUT_WR)
s.settimeout(5)
print(s.recv(4096).decode())
' "$SOCK" 2>&1)
if printf '%s' "$out" | grep -qF '"error":"request ended without a newline (one JSON object per line)"'; then
	ok "control socket: a request half-closed without its newline is answered so"
else
	not_ok "control socket: a request half-closed without its newline" "answer: $out"
fi

$ABUSE slow "$SOCK" >"$T/slow.out" 2>&1 &
slowpid=$!
_live_pids+=("$slowpid")
sleep 1
t0=$(date +%s%N)
st=$(ctl d1 status 2>&1); src=$?
t1=$(date +%s%N)
wait "$slowpid"
slow=$(cat "$T/slow.out")
secs=$(printf '%s' "$slow" | sed -n 's/^closed after \([0-9.]*\) s.*/\1/p')
if [ "$src" = 0 ] && [ $(( (t1 - t0) / 1000000 )) -lt 2000 ] && [ -n "$secs" ] &&
   awk "BEGIN { exit !($secs >= 8 && $secs <= 13) }" && grep -q "event=client-timeout" "$T/d1/log"; then
	ok "control socket: an unfinished request is timed out after ${secs} s; status answered meanwhile"
else
	not_ok "control socket: unfinished request timed out after 10 s, others served" "slow client: $slow" \
		"status (exit $src, $(( (t1 - t0) / 1000000 )) ms): $(printf '%s' "$st" | head -3)"
fi

$ABUSE flood "$SOCK" 300 12 >"$T/flood.out" 2>&1 &
floodpid=$!
_live_pids+=("$floodpid")
wait_until 5 grep -q accepted "$T/flood.out"
flood=$(head -1 "$T/flood.out")
st=$(ctl d1 status 2>&1); src=$?
expect_allowed "during a client flood: inbound tcp 8080 from 203.0.113.10 still allowed" peers tcp $HOST4 8080 $INET4
expect_denied "during a client flood: inbound tcp 22 from 203.0.113.10 still denied" peers tcp $HOST4 22 $INET4
checks_wait
if [[ "$flood" =~ ^accepted\ ([0-9]+)\ refused\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -le 64 ] &&
   [ "${BASH_REMATCH[2]}" -ge 200 ]; then
	ok "control socket: 300 clients at once: at most 64 held, the rest answered \"too many clients\" ($flood)"
else
	not_ok "control socket: hundreds of clients refused beyond 64" "flood: $flood"
fi
if [ "$src" = 0 ] || printf '%s' "$st" | grep -qF "too many clients"; then
	ok "control socket: status during the flood answers at once ($( [ $src = 0 ] && echo served || echo 'refused: too many clients'))"
else
	not_ok "control socket: status during the flood" "exit $src: $st"
fi
if wait_until 13 ctl d1 status; then
	ok "control socket: status served again once the idle flood clients time out (flood still connected)"
else
	not_ok "control socket: status after the flood's idle timeout" "$(ctl d1 status 2>&1 | head -3)"
fi
if kill -0 "$PID_d1" 2>/dev/null; then ok "filterd survived every abusive client"; else not_ok "filterd survived every abusive client" "$(tail -5 "$T/d1/log")"; fi
kill "$floodpid" 2>/dev/null

# A local non-root user cannot lock the operators out: 8 connections per user,
# and the last slots are root's.
if [ -x /usr/bin/python3 ] && id nobody >/dev/null 2>&1; then
	wait_until 5 sh -c "! pgrep -f 'ctl_abuse.py flood' >/dev/null"
	cp "$HDATA/ctl_abuse.py" "$T/ctl_abuse.py"
	chmod 0755 "$T" "$T/d1" "$T/ctl_abuse.py"
	runuser -u nobody -- /usr/bin/python3 "$T/ctl_abuse.py" flood "$SOCK" 40 8 >"$T/uflood.out" 2>&1 &
	ufpid=$!
	_live_pids+=("$ufpid")
	wait_until 5 grep -q accepted "$T/uflood.out"
	uflood=$(head -1 "$T/uflood.out")
	st=$(ctl d1 status 2>&1); src=$?
	if [[ "$uflood" =~ ^accepted\ ([0-9]+)\ refused\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -eq 8 ] &&
	   [ "${BASH_REMATCH[2]}" -ge 30 ] && [ "$src" = 0 ] && grep -q "reason=per-user-limit" "$T/d1/log"; then
		ok "control socket: a non-root user flooding gets 8 connections, root's status is served at once ($uflood)"
	else
		not_ok "control socket: per-user limit keeps root served" "flood as nobody: $uflood" "status: exit $src $st"
	fi
	kill "$ufpid" 2>/dev/null
else
	echo "skip - control socket per-user limit: no /usr/bin/python3 or no user nobody"
fi

live_finish
