#!/bin/bash
# Would splitting the replay over the CPUs by flow make pcap-replay faster?
# Figures, never pass/fail.
#
# The bound of any such split: the bench capture cut in two halves by address
# (the low bit of each IPv4/IPv6 address: both directions of a connection, its
# fragments and the ICMP errors about it land in one half), each half replayed
# by its own pcap-replay process --single-thread, both at once.  No split
# inside one process can beat two processes that share nothing and read only
# their own packets.  Printed beside pcap-replay as it runs (a reader thread
# and the replay thread), the bare libpcap loop and tcpdump's 238-prefix
# AzureMachineLearning filter, RUNS rotations, medians.
#
#   O=build bench/shard_bound.sh      (SHARD_RUNS, SHARD_PACKETS override)
set -u
cd "$(dirname "$0")/.." || exit 2
O=${O:-build}
RUNS=${SHARD_RUNS:-5}
PACKETS=${SHARD_PACKETS:-1200000}
SHARED=${FILTERD_SHARED:-../shared/data}
T1=$SHARED/servicetags/ServiceTags_Public_20240415.json
if [ ! -f "$T1" ]; then echo "shard bench: skipped: $T1 not found"; exit 0; fi
for b in "$O/pcap-replay" "$O/bench/gencap" "$O/bench/pcaploop"; do
	if [ ! -x "$b" ]; then echo "shard bench: skipped: $b not built (make O=$O all)"; exit 0; fi
done
if ! command -v tcpdump >/dev/null; then echo "shard bench: skipped: no tcpdump to split the capture"; exit 0; fi
W=$(mktemp -d /tmp/fdshard.XXXXXX)
trap 'rm -rf "$W"' EXIT

"$O/bench/gencap" "$T1" "$W/all.pcap" "$PACKETS" 1 2>/dev/null || { echo "shard bench: gencap failed"; exit 1; }
F='(ip and (ip[15] & 1 = 1 or ip[19] & 1 = 1)) or (ip6 and (ip6[23] & 1 = 1 or ip6[39] & 1 = 1))'
tcpdump -r "$W/all.pcap" -w "$W/a.pcap" "$F" 2>/dev/null
tcpdump -r "$W/all.pcap" -w "$W/b.pcap" "not ($F)" 2>/dev/null
python3 - "$T1" AzureMachineLearning >"$W/aml.bpf" <<'EOF' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
v4 = [p for t in d["values"] if t["name"] == sys.argv[2] for p in t["properties"]["addressPrefixes"] if ":" not in p]
print(" or ".join("src net " + p for p in v4))
EOF
P="$O/pcap-replay --policy bench/data/azureml.yaml --tags $T1 --local 10.0.1.4,fd00:10::4"
echo "== splitting the replay by flow over $(nproc) CPUs: the bound (issue 3)"
echo "   capture: $PACKETS packets ($O/bench/gencap $T1 FILE $PACKETS 1), halves of" \
	"$(($(stat -c %s "$W/a.pcap") / 1048576)) and $(($(stat -c %s "$W/b.pcap") / 1048576)) MiB"
echo "   reproduce: O=$O bench/shard_bound.sh   (SHARD_RUNS=$RUNS)"

ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
for _ in $(seq "$RUNS"); do
	s=$(date +%s%N); $P "$W/all.pcap" >/dev/null 2>&1; echo "$(ms "$s")" >>"$W/whole"
	s=$(date +%s%N); $P --single-thread "$W/all.pcap" >/dev/null 2>&1; echo "$(ms "$s")" >>"$W/single"
	s=$(date +%s%N)
	$P --single-thread "$W/a.pcap" >/dev/null 2>&1 &
	$P --single-thread "$W/b.pcap" >/dev/null 2>&1
	wait
	echo "$(ms "$s")" >>"$W/halves"
	s=$(date +%s%N); "$O/bench/pcaploop" "$W/all.pcap" >/dev/null 2>&1; echo "$(ms "$s")" >>"$W/loop"
	s=$(date +%s%N); tcpdump -F "$W/aml.bpf" -r "$W/all.pcap" -w /dev/null 2>/dev/null; echo "$(ms "$s")" >>"$W/tcpdump"
done
med() { sort -n "$W/$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
printf '   %-62s %6s ms\n' "pcap-replay, whole capture (reader thread + replay thread)" "$(med whole)"
printf '   %-62s %6s ms\n' "pcap-replay --single-thread, whole capture" "$(med single)"
printf '   %-62s %6s ms\n' "two pcap-replay --single-thread at once, one half each" "$(med halves)"
printf '   %-62s %6s ms\n' "bare libpcap read loop (bench/pcaploop), whole capture" "$(med loop)"
printf '   %-62s %6s ms\n' "tcpdump -r, BPF filter of AzureMachineLearning's 238 prefixes" "$(med tcpdump)"
awk -v w="$(med whole)" -v h="$(med halves)" -v t="$(med tcpdump)" 'BEGIN {
	printf "   split bound / pcap-replay as it runs: %.2f; tcpdump / pcap-replay %.1fx, / split bound %.1fx (end to end)\n", h / w, t / w, t / h }'
