#!/bin/bash
# Benchmarks: figures with the command that reproduces them (`make bench`).
# Never pass/fail on time.  Needs root (network namespaces) and ../shared/data.
set -u
cd "$(dirname "$0")/.."
O=${O:-build}
RUNS=${RUNS:-11}
SHARED=${FILTERD_SHARED:-../shared/data}
T1=$SHARED/servicetags/ServiceTags_Public_20240415.json
T2=$SHARED/servicetags/ServiceTags_Public_20240506.json
if [ "$(id -u)" != 0 ]; then echo "bench: skipped: needs root for network namespaces"; exit 0; fi
if [ ! -f "$T1" ]; then echo "bench: skipped: $T1 not found"; exit 0; fi
NS=fdbench$$
ip netns add $NS
trap 'pkill -f "filterd --policy /tmp/fdbench$$" 2>/dev/null; ip netns del $NS 2>/dev/null; rm -rf /tmp/fdbench$$' EXIT
mkdir -p /tmp/fdbench$$
python3 bench/data/gen_alltags.py "$T1" > /tmp/fdbench$$/alltags.yaml

echo "== apply: filterd (compile + one netlink batch, tags in memory) vs nft -f (same ruleset), median of $RUNS"
echo "   reproduce: make bench   (or: ip netns exec NS $O/bench/apply_bench LABEL POLICY TAGS RUNS [NEW_TAGS])"
ip netns exec $NS $O/bench/apply_bench small examples/policy.yaml examples/servicetags.json "$RUNS" 2>/dev/null
ip netns exec $NS $O/bench/apply_bench azureml bench/data/azureml.yaml "$T1" "$RUNS" "$T2" 2>/dev/null
ip netns exec $NS $O/bench/apply_bench stress bench/data/stress.yaml "$T1" "$RUNS" "$T2" 2>/dev/null
ip netns exec $NS $O/bench/apply_bench alltags /tmp/fdbench$$/alltags.yaml "$T1" 5 "$T2" 2>/dev/null

echo "== filterd resident memory (VmRSS / VmHWM after start-up apply)"
for p in bench/data/azureml.yaml bench/data/stress.yaml /tmp/fdbench$$/alltags.yaml; do
	W=/tmp/fdbench$$/d
	rm -rf $W; mkdir -p $W
	cp "$p" $W/policy.yaml
	cp "$T1" $W/tags.json
	ip netns exec $NS $O/filterd --policy $W/policy.yaml --tags $W/tags.json --state-dir $W/state \
		--socket $W/sock --set audit_log=$W/audit.log > $W/log 2>&1 &
	pid=$!
	for _ in $(seq 50); do grep -q "event=capabilities" $W/log 2>/dev/null && break; sleep 0.2; done
	rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
	hwm=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
	printf '   %-28s VmRSS %6d KiB   VmHWM %6d KiB\n' "$(basename "$p")" "$rss" "$hwm"
	kill $pid; wait $pid 2>/dev/null
	ip netns exec $NS nft delete table inet filterd 2>/dev/null
done
if [ -x "$O/pcap-replay" ] && [ -x bench/replay.sh ]; then
	bench/replay.sh
fi
