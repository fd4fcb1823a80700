#!/bin/bash
# pcap-replay throughput (issue 3): figures, never pass/fail.
#
# One generated capture (bench/gencap.c: >= 1M packets, TCP with handshakes,
# UDP, ICMP, v4 and v6, remote ends in the REAL service-tag prefixes and in
# 203.0.113.0/24; offline only), replayed side by side, RUNS times in
# rotation, medians quoted:
#   - bench/pcaploop: a bare libpcap read loop over the file (the ceiling)
#   - pcap-replay with the Azure ML policy over the full real tags file: as it
#     runs by default (a reader thread when there are two CPUs, the flow memo),
#     with --single-thread, and with --no-flow-cache (every packet evaluated)
#   - tcpdump -r with a BPF filter "src net A or src net B ..." over every IPv4
#     prefix of AzureMachineLearning (238), Storage (493) and AzureMonitor
#     (1,225) (BPF evaluates such a list linearly) vs pcap-replay with the same
#     tag as an inbound source.  tcpdump's own set-up (compiling and optimising
#     the filter: most of its time for the longer lists) is measured the same
#     way as pcap-replay's, on the one-packet capture, so the "filtering only"
#     ratio compares like with like; "end to end" compares whole runs.
#   - pcap-replay with an inbound source of 10 .. 70,000 prefixes (a synthetic
#     tag of disjoint blocks of the real tag space, bench/data/gen_scale.py)
#     and with every tag of the file (75,356 listed prefixes)
#   - peak memory (max RSS) of pcap-replay
# "replay" figures subtract the set-up (tags load + compile, measured with a
# one-packet capture and the same policy); "end to end" ones do not.
#
#   O=build bench/replay.sh        (make bench runs it; REPLAY_RUNS, REPLAY_PACKETS,
#                                   REPLAY_BPF_TAGS="TAG ..." override)
set -u
cd "$(dirname "$0")/.." || exit 2
O=${O:-build}
RUNS=${REPLAY_RUNS:-5}
PACKETS=${REPLAY_PACKETS:-1200000}
SHARED=${FILTERD_SHARED:-../shared/data}
T1=$SHARED/servicetags/ServiceTags_Public_20240415.json
SIZES="10 100 1000 10000 70000"
LOCAL=10.0.1.4,fd00:10::4

if [ ! -f "$T1" ]; then echo "replay bench: skipped: $T1 not found"; exit 0; fi
for b in "$O/pcap-replay" "$O/bench/gencap" "$O/bench/pcaploop"; do
	if [ ! -x "$b" ]; then echo "replay bench: skipped: $b not built (make O=$O bench)"; exit 0; fi
done
W=$(mktemp -d /tmp/fdreplay.XXXXXX)
trap 'rm -rf "$W"' EXIT
CAP=$W/bench.pcap

echo "== pcap-replay throughput (issue 3)"
"$O/bench/gencap" "$T1" "$CAP" "$PACKETS" 1 2>"$W/gen.txt" || { cat "$W/gen.txt"; exit 1; }
"$O/bench/gencap" "$T1" "$W/one.pcap" 1 1 2>/dev/null
echo "   capture: $(sed 's/^gencap: //' "$W/gen.txt"), $(($(stat -c %s "$CAP") / 1048576)) MiB"
echo "      made by: $O/bench/gencap $T1 FILE $PACKETS 1"
# the tags whose IPv4 prefixes tcpdump filters by (REPLAY_BPF_TAGS overrides)
BPF_TAGS=${REPLAY_BPF_TAGS:-AzureMachineLearning Storage AzureMonitor}
python3 bench/data/gen_scale.py "$T1" "$W" $SIZES --in $BPF_TAGS >/dev/null || exit 1
python3 bench/data/gen_alltags.py "$T1" >"$W/alltags.yaml" || exit 1
for tag in $BPF_TAGS; do
	python3 - "$T1" "$tag" >"$W/$tag.bpf" <<'EOF' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
v4 = [p for t in d["values"] if t["name"] == sys.argv[2] for p in t["properties"]["addressPrefixes"] if ":" not in p]
print(" or ".join("src net " + p for p in v4))
EOF
done
declare -A NBPF
for tag in $BPF_TAGS; do NBPF[$tag]=$(grep -o "src net" "$W/$tag.bpf" | wc -l); done
HAVE_TCPDUMP=$(command -v tcpdump >/dev/null && echo 1 || echo 0)

# label -> command (policy runs also get a set-up run on one packet)
declare -A CMD POL TAGS
order=()
add() { order+=("$1"); CMD[$1]=$2; }
addp() {	# label policy tags
	add "$1" "$O/pcap-replay --policy $2 --tags $3 --local $LOCAL"
	POL[$1]=$2
	TAGS[$1]=$3
}
add ceiling "$O/bench/pcaploop"
# the same loop with a 64 KiB stdio buffer (pcap-replay's reader opens the
# file so: libpcap reads a pcapng file, and a pcap file's records it hands over)
add ceiling64 "$O/bench/pcaploop"
# the bare loop of how pcap-replay reads a pcap file's records (block reads)
add ceilingblk "$O/bench/pcaploop"
addp azureml bench/data/azureml.yaml "$T1"
addp azureml_st bench/data/azureml.yaml "$T1"
CMD[azureml_st]="${CMD[azureml_st]} --single-thread"
addp azureml_nc bench/data/azureml.yaml "$T1"
CMD[azureml_nc]="${CMD[azureml_nc]} --no-flow-cache"
addp azureml_js bench/data/azureml.yaml "$T1"
CMD[azureml_js]="${CMD[azureml_js]} --format json"
addp azureml_lp bench/data/azureml.yaml "$T1"
CMD[azureml_lp]="${CMD[azureml_lp]} --read-with-libpcap"
# Each tcpdump run is followed at once by the pcap-replay run it is compared
# with (the per-rotation ratios pair neighbours; the Storage replay used to
# follow the 16 s AzureMonitor tcpdump and ran slowest of the policies).
[ "$HAVE_TCPDUMP" = 1 ] && add tcpdump "tcpdump -r"
for tag in $BPF_TAGS; do
	# tcpdump runs with a filter get a set-up run on one packet too
	[ "$HAVE_TCPDUMP" = 1 ] && add "tcpdump_$tag" "tcpdump -F $W/$tag.bpf -r"
	addp "in_$tag" "$W/in-$tag.yaml" "$T1"
done
for n in $SIZES; do addp "s$n" "$W/scale-$n.yaml" "$W/scaletags.json"; done
# Every tag of the file as one inbound source list: one union set per family
# (a rule naming more than eight tags gets one, see README "How it is built").
addp alltags "$W/alltags.yaml" "$T1"

now_us() { echo $(($(date +%s%N) / 1000)); }
# run LABEL FILE: appends the wall time in microseconds to $W/LABEL.FILEBASE
run() {
	local l=$1 f=$2 t0 t1 out=/dev/null
	t0=$(now_us)
	case $l in
	tcpdump*) ${CMD[$l]} "$f" -w /dev/null >/dev/null 2>&1 ;;
	ceiling64) ${CMD[$l]} "$f" 65536 >$out 2>&1 ;;
	ceilingblk) ${CMD[$l]} "$f" blocks >$out 2>&1 ;;
	*) ${CMD[$l]} "$f" >$out 2>&1 ;;
	esac
	t1=$(now_us)
	echo $((t1 - t0)) >>"$W/$l.$(basename "$f" .pcap)"
}
median() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : int((v[NR/2] + v[NR/2+1]) / 2)}'; }

for ((i = 1; i <= RUNS; i++)); do
	for l in "${order[@]}"; do
		run "$l" "$CAP"
		case $l in tcpdump_*) run "$l" "$W/one.pcap" ;; esac
		[ -n "${POL[$l]:-}" ] && run "$l" "$W/one.pcap"
	done
done

med() { median "$W/$1.bench"; }
setup() { median "$W/$1.one"; }
pps() { awk -v n="$PACKETS" -v us="$1" 'BEGIN {printf "%.2f", (us > 0 ? n / us : 0)}'; }	# Mpps
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
CEIL=$(med ceiling)
# Each rotation ran the ceiling, pcap-replay and tcpdump seconds apart: the
# median of per-rotation ratios is steadier on a noisy machine (whose speed
# drifts over minutes) than the ratio of the medians.
# pair_ratio NUM DEN [SETUP [NUM_SETUP]]: median (min-max) of
# (NUM_i - NUM_SETUP_i) / (DEN_i - SETUP_i) (SETUP, NUM_SETUP: labels whose
# one-packet runs are subtracted; none: 0)
pair_ratio() {
	zeros() { sed 's/.*/0/' "$W/$1.bench"; }
	paste "$W/$1.bench" "$W/$2.bench" \
		<(if [ -n "${3:-}" ]; then cat "$W/$3.one"; else zeros "$2"; fi) \
		<(if [ -n "${4:-}" ]; then cat "$W/$4.one"; else zeros "$1"; fi) |
		awk '{ d = $2 - $3; if (d > 0) print ($1 - $4) / d }' | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) { print "n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.2f (%.2f-%.2f, %d rotations)", m, v[1], v[NR], NR }'
}
row() {	# what us_total us_setup
	local rep=$(($2 - $3))
	printf '   %-44s %8.3f %8.3f   %6s %6s   %5s\n' "$1" "$(awk -v u="$2" 'BEGIN{print u/1e6}')" \
		"$(awk -v u="$rep" 'BEGIN{print u/1e6}')" "$(pps "$2")" "$(pps "$rep")" "$(ratio "$CEIL" "$rep")"
}

echo "   median of $RUNS runs, wall clock; Mpps = packets / seconds; 'x ceil' = ceiling time / replay time"
printf '   %-44s %8s %8s   %6s %6s   %5s\n' "" "total s" "replay s" "Mpps" "Mpps" "x ceil"
printf '   %-44s %8s %8s   %6s %6s\n' "" "" "" "total" "replay"
row "libpcap read loop (ceiling)" "$CEIL" 0
row "  same, 64 KiB stdio buffer" "$(med ceiling64)" 0
row "bare block-read loop (pcap-replay's way)" "$(med ceilingblk)" 0
row "pcap-replay, azureml.yaml (real tags)" "$(med azureml)" "$(setup azureml)"
row "  same, --single-thread" "$(med azureml_st)" "$(setup azureml_st)"
row "  same, --no-flow-cache" "$(med azureml_nc)" "$(setup azureml_nc)"
row "  same, --format json" "$(med azureml_js)" "$(setup azureml_js)"
row "  same, --read-with-libpcap" "$(med azureml_lp)" "$(setup azureml_lp)"
echo "      $O/pcap-replay --policy bench/data/azureml.yaml --tags $T1 --local $LOCAL FILE"
echo "      $O/bench/pcaploop FILE; $O/bench/pcaploop FILE 65536; $O/bench/pcaploop FILE blocks"
echo "   x ceil, median of per-rotation ratios: $(pair_ratio ceiling azureml azureml)"
echo "      with --read-with-libpcap: $(pair_ratio ceiling azureml_lp azureml_lp)"
echo "   (pcap-replay reads a pcap file's records in blocks, faster than libpcap: the libpcap loop"
echo "   is the ceiling of a tool that reads through libpcap, the block-read loop pcap-replay's own)"
echo "   set-up (tags load + compile, one-packet capture): $(awk -v u="$(setup azureml)" 'BEGIN{printf "%.3f", u/1e6}') s"
"$O/pcap-replay" --policy bench/data/azureml.yaml --tags "$T1" --local "$LOCAL" --format json "$CAP" 2>/dev/null |
	python3 -c 'import json, sys; t = json.load(sys.stdin)["totals"]; n = t["bytecode_runs"] + t["flow_cache_hits"]; print("   flow memo: %d of %d hook evaluations decided by it (%.0f %%), %d bytecode runs" % (t["flow_cache_hits"], n, 100.0 * t["flow_cache_hits"] / max(n, 1), t["bytecode_runs"]))' ||
	echo "   flow memo: could not read the JSON totals"
echo "   reader thread: $(nproc) CPUs online ($( [ "$(nproc)" -gt 1 ] && echo used || echo 'not used: one CPU'))"
# where the time goes: each thread's CPU time (one more run, --stats)
"$O/pcap-replay" --policy bench/data/azureml.yaml --tags "$T1" --local "$LOCAL" --stats "$CAP" 2>&1 >/dev/null |
	sed -n 's/^pcap-replay: stats: /   one run with --stats: /p' | fold -s -w 100 | sed '2,$s/^/      /'

echo "== pcap-replay vs tcpdump/BPF: a service tag's IPv4 prefixes as the source list"
echo "   'set-up' = the same command on a one-packet capture (tcpdump: compiling and optimising"
echo "   the filter; pcap-replay: tags load + compile); 'filtering' = total - set-up"
printf '   %-58s %8s %8s %8s   %6s\n' "" "total s" "set-up s" "filter s" "Mpps"
if [ "$HAVE_TCPDUMP" = 1 ]; then
	row2() {	# what label
		local t=$(med "$2") su=$(setup "$2")
		printf '   %-58s %8.3f %8.3f %8.3f   %6s\n' "$1" "$(awk -v u="$t" 'BEGIN{print u/1e6}')" \
			"$(awk -v u="$su" 'BEGIN{print u/1e6}')" "$(awk -v u=$((t - su)) 'BEGIN{print u/1e6}')" \
			"$(pps $((t - su)))"
	}
	printf '   %-58s %8.3f\n' "tcpdump -r FILE -w /dev/null (no filter)" "$(awk -v u="$(med tcpdump)" 'BEGIN{print u/1e6}')"
	for tag in $BPF_TAGS; do
		row2 "tcpdump, 'src net' x${NBPF[$tag]} ($tag v4)" "tcpdump_$tag"
		row2 "pcap-replay, inbound allow from $tag" "in_$tag"
	done
	echo "      tcpdump -r FILE -w /dev/null -F FILTER   (FILTER: \"src net A or src net B or ...\")"
	echo "      $O/pcap-replay --policy in-TAG.yaml --tags $T1 --local $LOCAL FILE"
	echo "      (in-TAG.yaml: bench/data/gen_scale.py TAGS DIR 10: azureml.yaml + 'allow in tcp 443 from TAG')"
	echo "   tcpdump's time / pcap-replay's, medians of per-rotation ratios (min-max):"
	for tag in $BPF_TAGS; do
		echo "   $tag (${NBPF[$tag]} prefixes): filtering only $(pair_ratio "tcpdump_$tag" "in_$tag" "in_$tag" "tcpdump_$tag"),"
		echo "      end to end $(pair_ratio "tcpdump_$tag" "in_$tag")"
	done
	echo "   bound: tcpdump's filtering time / the bare libpcap loop (default buffer; no tool that"
	echo "   reads through libpcap can be faster than that loop), and / the bare block-read loop:"
	for tag in $BPF_TAGS; do
		echo "      $tag: $(pair_ratio "tcpdump_$tag" ceiling "" "tcpdump_$tag"); $(pair_ratio "tcpdump_$tag" ceilingblk "" "tcpdump_$tag")"
	done
	echo "   (BPF only tests one address list; pcap-replay also decodes, tracks connections, runs every rule, reports flows)"
else
	echo "   tcpdump: not installed"
fi

echo "== scaling: inbound source list of N prefixes (disjoint: the interval set holds N elements)"
printf '   %-44s %8s %8s   %6s %6s   %5s\n' "" "total s" "replay s" "Mpps" "Mpps" "x ceil"
for n in $SIZES; do
	row "N = $n" "$(med "s$n")" "$(setup "s$n")"
done
row "every tag of the file (75,356 listed prefixes)" "$(med alltags)" "$(setup alltags)"
echo "      $O/pcap-replay --policy scale-N.yaml --tags scaletags.json --local $LOCAL FILE"
echo "      (python3 bench/data/gen_scale.py $T1 DIR $SIZES; alltags: bench/data/gen_alltags.py)"

echo "== pcap-replay peak memory (max RSS, /usr/bin/time)"
if [ -x /usr/bin/time ]; then
	rss_labels="azureml azureml_js s70000 alltags"
	for l in $rss_labels; do
		/usr/bin/time -f "%M" -o "$W/rss" ${CMD[$l]} "$CAP" >/dev/null 2>&1
		/usr/bin/time -f "%M" -o "$W/rss1" ${CMD[$l]} "$W/one.pcap" >/dev/null 2>&1
		lab=$(basename "${POL[$l]}")
		[ "$l" = azureml_js ] && lab="$lab, --format json"
		printf '   %-44s %7d KiB   (one-packet capture: %d KiB)\n' "$lab" \
			"$(tail -1 "$W/rss")" "$(tail -1 "$W/rss1")"
	done
	echo "      /usr/bin/time -f %M $O/pcap-replay --policy POLICY --tags TAGS --local $LOCAL FILE"
else
	echo "   /usr/bin/time not installed"
fi
