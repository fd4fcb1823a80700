#!/bin/bash
# t_agree — pcap-replay's verdicts equal the kernel's, packet by packet
# (pcap-replay --kernel-check; DESIGN.md "One ruleset, two consumers").
#
#  1. hand-built stateful cases (tests/data/agree/*.pcap, written by
#     tests/live/agree/cases.py): handshakes in and out, established return
#     traffic, invalid packets, related ICMP/ICMPv6 errors, mid-stream pickup,
#     IPv4/IPv6 fragments, SCTP, and the regression cases of the disagreements
#     the check found (regress-*.pcap); timing-*.pcap with
#     --kernel-check-timing (expiry and gap-dependent transitions, ~26 s;
#     timing-timeouts and timing-frag-timeouts with the options in their
#     NAME.args: timeouts set as a host's sysctls would, in both).
#     Each must agree on every packet.
#  2. random policies and traffic (tests/live/agree/gen.py), one per seed:
#     SEEDS (from `make check-live SEEDS=...`: "1-500", "7", "1 5 9") or by
#     default 1-50 with AGREE_PACKETS (240) packets each; the agreement figure
#     over all of them is printed.
#  3. the same with SCTP associations as the larger part of the traffic
#     (gen.py --sctp 100: random faults in the handshake, tags, bundling,
#     shutdown and abort), SCTP_SEEDS (default 1-20; none when only SEEDS is
#     given, "none" for none).
#  4. every capture of tcpdump's regression suite (../shared/data, skipped
#     when absent; AGREE_CORPUS=0 skips it), addresses moved into the test
#     ranges by tests/tools/remap_addrs.py; and no namespace left behind.
# Besides verdicts, rule paths and ct state, the check compares each packet's
# conntrack entry with the host's conntrack table: its time left, its
# SEEN_REPLY and ASSURED bits, and for TCP and SCTP the tracker state
# (SYN_SENT, COOKIE_WAIT, ...).
# Prints "ok - NAME", "not ok - NAME" or "skip - NAME: reason" per case; every
# namespace it makes (pcap-replay --netns-prefix kca<pid>-*) is deleted on exit.
set -u
cd "$(dirname "$0")/../.." || exit 2
O=${O:-build}
REPLAY=$O/pcap-replay
FILTERCTL=$O/filterctl
TAGS=examples/servicetags.json
DATA=tests/data/agree
GEN=tests/live/agree/gen.py
PACKETS=${AGREE_PACKETS:-240}
JOBS=${AGREE_JOBS:-2}
PREFIX=kca$$
failures=0
tmp=$(mktemp -d /tmp/t_agree.XXXXXX)

cleanup() {
	local p n
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	# pcap-replay removes its namespaces itself; this catches a killed one
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX-"); do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ok() { echo "ok - $1"; }
not_ok() { local n=$1; shift; printf '%s\n' "$@" | sed 's/^/# /'; echo "not ok - $n"; failures=$((failures + 1)); }
skip() { echo "skip - $1: $2"; }

if [ "$(id -u)" != 0 ]; then skip "t_agree" "not root"; exit 0; fi
for t in ip nft python3; do
	command -v "$t" >/dev/null 2>&1 || { skip "t_agree" "$t not found"; exit 0; }
done
if ! ip netns add "$PREFIX-probe" 2>/dev/null; then
	skip "t_agree" "cannot create network namespaces"; exit 0
fi
ip netns del "$PREFIX-probe"
if [ ! -x "$REPLAY" ]; then
	not_ok "pcap-replay built" "$REPLAY missing: make O=$O all"; exit 1
fi

# kcheck NAME POLICY LOCAL CAPTURE [ARG...]: runs the check, output in $tmp/NAME.out
kcheck() {
	local n=$1 pol=$2 loc=$3 cap=$4
	shift 4
	"$REPLAY" --kernel-check --netns-prefix "$PREFIX-$n" --policy "$pol" --tags "$TAGS" \
		--local "$loc" "$@" "$cap" >"$tmp/$n.out" 2>"$tmp/$n.err"
}

# ---- 1. hand-built cases -----------------------------------------------------
for cap in "$DATA"/*.pcap; do
	[ -f "$cap" ] || continue
	name=$(basename "$cap" .pcap)
	pol=$DATA/policy.yaml
	[ -f "$DATA/$name.policy.yaml" ] && pol=$DATA/$name.policy.yaml
	# timing-*: the capture's gaps matter (expiry, UDP streams): played in
	# real time
	timing=()
	case "$name" in timing-*) timing=(--kernel-check-timing) ;; esac
	# NAME.args: more options (timing-timeouts: tuned conntrack timeouts,
	# which the check also sets in the kernel's scratch namespace)
	extra=()
	[ -f "$DATA/$name.args" ] && read -r -a extra <"$DATA/$name.args"
	kcheck "case-$name" "$pol" 10.0.1.4,fd00:10::4 "$cap" "${timing[@]}" "${extra[@]}"
	rc=$?
	line=$(grep '^agreement:' "$tmp/case-$name.out")
	if [ $rc -eq 0 ] && printf '%s' "$line" | grep -q ', 0 undecidable offline, 0 disagreements'; then
		ok "agree: $name ($line)"
	else
		not_ok "agree: $name" "exit $rc: $line" "$(grep -v '^agree ' "$tmp/case-$name.out" | head -40)" \
			"$(head -5 "$tmp/case-$name.err")"
	fi
done

# the tracker-state comparison is live: the kernel's states and timeouts are read back
# (were ctnetlink unreachable, the comparison would be skipped silently)
"$REPLAY" --kernel-check --kernel-check-verbose --netns-prefix "$PREFIX-st" \
	--policy "$DATA/policy.yaml" --tags "$TAGS" --local 10.0.1.4,fd00:10::4 \
	"$DATA/handshake-in.pcap" "$DATA/sctp-assoc.pcap" >"$tmp/states.out" 2>"$tmp/states.err"
missing=""
for st in "new SYN_SENT" "established SYN_RECV" "established TIME_WAIT" "new CLOSED" \
	"established COOKIE_WAIT" "established COOKIE_ECHOED" "established SHUTDOWN_SENT" \
	"established SHUTDOWN_ACK_SENT"; do
	grep -q "^agree .*, ct $st [0-9]*s, " "$tmp/states.out" || missing="$missing '$st'"
done
if [ -z "$missing" ]; then
	ok "agree: the kernel's TCP and SCTP tracker states are read back and compared"
else
	not_ok "agree: tracker states read back" "not seen:$missing" "$(head -20 "$tmp/states.out")" \
		"$(head -5 "$tmp/states.err")"
fi

# ---- 2. random policies --------------------------------------------------------
seeds=()
spec=${SEEDS:-}
[ -z "$spec" ] && spec=1-50
for part in ${spec//,/ }; do
	case "$part" in
	*-*) for s in $(seq "${part%-*}" "${part#*-}"); do seeds+=("$s"); done ;;
	*[!0-9]*) not_ok "SEEDS" "bad seed '$part' in SEEDS='$spec' (N, N-M, lists)"; exit 1 ;;
	*) seeds+=("$part") ;;
	esac
done

sseeds=()
sspec=${SCTP_SEEDS:-}
[ -z "$sspec" ] && { [ -n "$spec" ] && [ -n "${SEEDS:-}" ] && sspec=none || sspec=1-20; }
[ "$sspec" != none ] && for part in ${sspec//,/ }; do
	case "$part" in
	*-*) for s in $(seq "${part%-*}" "${part#*-}"); do sseeds+=("sctp$s"); done ;;
	*[!0-9]*) not_ok "SCTP_SEEDS" "bad seed '$part' in SCTP_SEEDS='$sspec'"; exit 1 ;;
	*) sseeds+=("sctp$part") ;;
	esac
done

# one seed (N, or sctpN: gen.py --sctp 100): generate, check the policy
# compiles, run; prints one status line
run_seed() {
	local s=$1 d="$tmp/seed$1" rc extra=()
	case "$s" in sctp*) extra=(--sctp 100); s=${s#sctp} ;; esac
	if ! python3 "$GEN" --seed "$s" "${extra[@]}" --out "$d" --packets "$PACKETS" 2>"$d.gen.err"; then
		echo "seed $1: GENERATOR $(tail -1 "$d.gen.err")"; return
	fi
	if ! "$FILTERCTL" check "$d/policy.yaml" --tags "$TAGS" >/dev/null 2>"$d.check.err"; then
		echo "seed $1: POLICY $(head -1 "$d.check.err")"; return
	fi
	"$REPLAY" --kernel-check --netns-prefix "$PREFIX-s$1" --policy "$d/policy.yaml" \
		--tags "$TAGS" --local "$(cat "$d/local")" "$d/capture.pcap" >"$d.out" 2>"$d.err"
	rc=$?
	echo "seed $1: rc=$rc $(grep '^agreement:' "$d.out" || echo "no agreement line: $(tail -1 "$d.err")")"
}
export -f run_seed
export tmp GEN PACKETS FILTERCTL TAGS REPLAY PREFIX

start=$(date +%s)
printf '%s\n' "${seeds[@]}" "${sseeds[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_seed {}' >"$tmp/seeds.txt"
secs=$(( $(date +%s) - start ))

A=0 N=0 U=0 D=0 P=0 bad=0
while IFS= read -r l; do
	s=${l#seed }; s=${s%%:*}
	if [[ "$l" =~ rc=([0-9]+)\ agreement:\ ([0-9]+)/([0-9]+)\ packets.*,\ ([0-9]+)\ undecidable\ offline,\ ([0-9]+)\ disagreement ]]; then
		A=$((A + BASH_REMATCH[2])); N=$((N + BASH_REMATCH[3]))
		U=$((U + BASH_REMATCH[4])); D=$((D + BASH_REMATCH[5])); P=$((P + 1))
		if [ "${BASH_REMATCH[1]}" != 0 ] || [ "${BASH_REMATCH[5]}" != 0 ]; then
			bad=$((bad + 1))
			ga="--seed ${s#sctp}"
			[ "${s#sctp}" != "$s" ] && ga="$ga --sctp 100"
			not_ok "agree: random policy seed $s" "$l" \
				"reproduce: python3 $GEN $ga --out DIR --packets $PACKETS; $REPLAY --kernel-check --policy DIR/policy.yaml --tags $TAGS --local \$(cat DIR/local) DIR/capture.pcap" \
				"$(grep -v '^agree \|^UNDECIDABLE' "$tmp/seed$s.out" | head -60)"
		fi
	else
		bad=$((bad + 1))
		not_ok "agree: random policy seed $s" "$l" "$(head -5 "$tmp/seed$s.err" 2>/dev/null)"
	fi
done < <(sort -t' ' -k2 -n "$tmp/seeds.txt")

pct=$(awk -v a="$A" -v n="$N" 'BEGIN { printf "%.2f", n ? 100 * a / n : 100 }')
dec=$(awk -v a="$A" -v d="$D" 'BEGIN { printf "%.2f", a + d ? 100 * a / (a + d) : 100 }')
echo "# agreement: $A/$N packets ($pct%), $U undecidable offline, $D disagreements;" \
	"decided packets agree $dec%; $P policies (SEEDS=$spec, SCTP_SEEDS=$sspec," \
	"$PACKETS packets each), ${secs}s"
if [ "$bad" -eq 0 ] && [ "$P" -eq $((${#seeds[@]} + ${#sseeds[@]})) ]; then
	ok "agree: $P random policies, $A/$N packets agree with the kernel, $U undecidable offline, 0 disagreements"
else
	not_ok "agree: random policies" "$bad of $((${#seeds[@]} + ${#sseeds[@]})) seeds failed"
fi
if [ -z "${SEEDS:-}" ] && { [ "$P" -lt 50 ] || [ "$N" -lt 10000 ]; }; then
	not_ok "agree: coverage" "only $P policies and $N packets (want >= 50 and >= 10000)"
fi

# ---- 4. tcpdump's regression captures through the kernel ----------------------
# Real traffic of every kind (routing protocols, tunnels, IPv6 extension
# headers, malformed and truncated frames, BIG TCP), not what gen.py thinks
# of.  Their addresses are moved into the test ranges first
# (tests/tools/remap_addrs.py: no played packet names a host outside the
# namespaces); the host's addresses are inferred.  A capture whose every
# disagreement followed a gap the fast replay did not wait is played again
# with --kernel-check-timing, and that run counts.
CORPUS=${SHARED_DATA:-../shared/data}/pcaps/tcpdump
if [ "${AGREE_CORPUS:-1}" = 0 ]; then
	skip "agree: tcpdump corpus through the kernel" "AGREE_CORPUS=0"
elif [ ! -d "$CORPUS" ]; then
	skip "agree: tcpdump corpus through the kernel" "$CORPUS absent"
else
	mkdir -p "$tmp/corpus"
	if ! python3 tests/tools/remap_addrs.py --dir "$tmp/corpus" "$CORPUS"/*.pcap "$CORPUS"/*.pcapng \
		2>"$tmp/remap.err"; then
		not_ok "agree: tcpdump corpus, addresses remapped" "$(tail -3 "$tmp/remap.err")"
	else
		# corpus_one N FILE: one status line
		corpus_one() {
			local n=$1 f=$2 b o rc gaps dis
			b=$(basename "$f"); o=$tmp/corpus/$b
			"$REPLAY" --kernel-check --netns-prefix "$PREFIX-c$n" --policy "$DATA/policy.yaml" \
				--tags "$TAGS" "$f" >"$o.out" 2>"$o.err"
			rc=$?
			timed=""
			if [ $rc = 1 ]; then
				dis=$(sed -n 's/^agreement: .*, \([0-9]*\) disagreements\{0,1\}$/\1/p' "$o.out")
				gaps=$(sed -n 's/^note: \([0-9]*\) of the disagreements came after gaps.*/\1/p' "$o.out")
				if [ -n "$dis" ] && [ "$dis" = "$gaps" ]; then
					timeout 120 "$REPLAY" --kernel-check --kernel-check-timing \
						--netns-prefix "$PREFIX-c$n" --policy "$DATA/policy.yaml" \
						--tags "$TAGS" "$f" >"$o.out" 2>"$o.err"
					rc=$?
					timed=" (in real time)"
				fi
			fi
			echo "$b: rc=$rc$timed $(grep '^agreement:' "$o.out" || echo "no agreement line: $(tail -1 "$o.err")")"
		}
		export -f corpus_one
		export DATA
		start=$(date +%s)
		i=0
		for f in "$tmp"/corpus/*.pcap "$tmp"/corpus/*.pcapng; do
			i=$((i + 1)); echo "$i $f"
		done | xargs -P "$JOBS" -L 1 bash -c 'corpus_one "$0" "$1"' >"$tmp/corpus.txt"
		secs=$(( $(date +%s) - start ))
		A=0 N=0 U=0 D=0 C=0 T=0 bad=0
		while IFS= read -r l; do
			C=$((C + 1))
			case "$l" in *"(in real time)"*) T=$((T + 1)) ;; esac
			if [[ "$l" =~ rc=([0-9]+).*agreement:\ ([0-9]+)/([0-9]+)\ packets.*,\ ([0-9]+)\ undecidable\ offline,\ ([0-9]+)\ disagreement ]]; then
				A=$((A + BASH_REMATCH[2])); N=$((N + BASH_REMATCH[3]))
				U=$((U + BASH_REMATCH[4])); D=$((D + BASH_REMATCH[5]))
				if [ "${BASH_REMATCH[1]}" != 0 ] || [ "${BASH_REMATCH[5]}" != 0 ]; then
					bad=$((bad + 1))
					b=${l%%:*}
					not_ok "agree: tcpdump capture $b (addresses remapped)" "$l" \
						"reproduce: python3 tests/tools/remap_addrs.py $CORPUS/$b X; $REPLAY --kernel-check --policy $DATA/policy.yaml --tags $TAGS X" \
						"$(grep -v '^agree \|^UNDECIDABLE' "$tmp/corpus/$b.out" | head -40)"
				fi
			else
				bad=$((bad + 1))
				not_ok "agree: tcpdump capture ${l%%:*}" "$l"
			fi
		done <"$tmp/corpus.txt"
		echo "# tcpdump corpus through the kernel: $A/$N packets agree, $U undecidable offline," \
			"$D disagreements; $C captures ($T played in real time), ${secs}s"
		if [ "$bad" = 0 ] && [ "$C" -gt 0 ]; then
			ok "agree: tcpdump corpus, $C captures (addresses remapped): $A/$N packets agree with the kernel, $U undecidable offline, 0 disagreements"
		fi
	fi
fi
leaked=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -c "^$PREFIX-")
if [ "$leaked" = 0 ]; then
	ok "agree: every scratch namespace of the checks is gone"
else
	not_ok "agree: scratch namespaces left behind" "$(ip netns list | grep "^$PREFIX-")"
fi

[ "$failures" -eq 0 ]
