#!/bin/bash
# Runs libFuzzer harnesses built by `make fuzz` (in $FUZZ_O/fuzzers) for
# $FUZZ_SECONDS each: `tests/fuzz/run.sh [NAME...]` (default: every harness).
#
# Corpus per harness: $FUZZ_O/corpus/NAME (kept between runs, not in git),
# seeded from the project's own files (tests/data, examples, tests/fuzz/seeds,
# tests/fuzz/regress) and from ../shared/data when it is there (skipped, with a
# note, when it is not).  A crash, leak, sanitizer report or timeout is written
# to $FUZZ_O/crashes/NAME/ and makes the run fail; turn it into a regression
# test by copying it to tests/fuzz/regress/NAME/ (replayed by `make
# fuzz-regress` and `make check-asan`).
#
# Prints one line per harness, in the protocol of scripts/run-tests.sh:
#   ok - fuzz NAME: 123456 runs in 60 s (123400 mutated after 56 seed inputs), corpus 345, no crash
#   not ok - fuzz NAME: crash, see build/fuzz/crashes/NAME/crash-...
set -u
cd "$(dirname "$0")/../.." || exit 2
FUZZ_O=${FUZZ_O:-build/fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
SHARED=${SHARED:-../shared/data}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do n=${f##*/fuzz_}; names+=("${n%.c}"); done
fi

# seed SRC... : hard links (or copies) into the seed dir, files <= 1 MiB
seed() {
	local f
	for f in "$@"; do
		[ -f "$f" ] || continue
		[ "$(stat -c %s "$f")" -le 1048576 ] || continue
		cp -f "$f" "$seeds/$(echo "$f" | tr '/' '_')" 2>/dev/null
	done
}

make_seeds() {
	local n=$1
	rm -rf "$seeds"; mkdir -p "$seeds"
	seed tests/fuzz/seeds/"$n"/* tests/fuzz/regress/"$n"/*
	case "$n" in
	policy)
		seed examples/policy.yaml tests/data/policy/*/*.yaml tests/data/compile/*.yaml \
			tests/data/replay/policy.yaml tests/live/data/*.yaml ;;
	servicetags)
		seed examples/servicetags.json tests/data/servicetags/*.json
		if [ -d "$SHARED/servicetags" ]; then
			# the real files are 3.5 MB: a slice of each keeps executions fast
			for f in "$SHARED"/servicetags/*.json; do
				python3 - "$f" "$seeds/real-$(basename "$f")" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["values"] = d["values"][:40:3] + [v for v in d["values"] if v["name"].startswith("Storage.EastUS")]
json.dump(d, open(sys.argv[2], "w"), indent=2)
PY
			done
		else
			echo "# fuzz servicetags: $SHARED/servicetags absent, project seeds only"
		fi ;;
	expect)
		seed tests/data/replay/expect.txt ;;
	replay)
		seed tests/data/replay/*.pcap
		if [ -d "$SHARED/pcaps/tcpdump" ]; then
			if [ "$FUZZ_SECONDS" -lt 60 ]; then
				# the 415 captures take ~20 s to run once: a short
				# run would never get past them to mutate anything
				# (every capture runs whole through pcap-replay under
				# the sanitizers anyway: t_replay.sh in make check-asan)
				local all=("$SHARED"/pcaps/tcpdump/*) i
				for ((i = 0; i < ${#all[@]}; i += 8)); do seed "${all[$i]}"; done
				echo "# fuzz replay: FUZZ_SECONDS=$FUZZ_SECONDS < 60: every 8th of the tcpdump captures as seeds"
			else
				seed "$SHARED"/pcaps/tcpdump/*
			fi
		else
			echo "# fuzz replay: $SHARED/pcaps absent, project captures only"
		fi ;;
	dump)
		seed tests/data/vm/*.frs ;;
	reader)
		# the pcapng captures (the pcapng reader is compared with libpcap on them)
		if [ -d "$SHARED/pcaps/tcpdump" ]; then
			seed "$SHARED"/pcaps/tcpdump/*.pcapng
		else
			echo "# fuzz reader: $SHARED/pcaps absent, project seeds only"
		fi ;;
	ctl) ;;
	esac
}

fail=0
for n in "${names[@]}"; do
	bin=$FUZZ_O/fuzzers/fuzz_$n
	if [ ! -x "$bin" ]; then
		echo "not ok - fuzz $n: $bin not built (make fuzz)"
		fail=1
		continue
	fi
	seeds=$FUZZ_O/seeds/$n
	corpus=$FUZZ_O/corpus/$n
	crashes=$FUZZ_O/crashes/$n
	log=$FUZZ_O/logs/$n.log
	mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
	make_seeds "$n"
	# the corpus directory comes first: new inputs are written there
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2560 \
		-max_len=262144 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$corpus" "$seeds" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
	# libFuzzer runs every seed input once before it mutates ("INITED")
	inited=$(sed -n 's/^#\([0-9]*\)[[:space:]]*INITED.*/\1/p' "$log" | tail -1)
	if [ -n "$inited" ]; then
		how="$((${runs:-0} - inited)) mutated after $inited seed inputs"
	else
		how="seed inputs only: the time ran out before mutation began"
	fi
	if [ "$rc" -eq 0 ] && [ -z "$art" ]; then
		echo "ok - fuzz $n: ${runs:-?} runs in ${FUZZ_SECONDS} s ($how), corpus $(ls "$corpus" | wc -l), no crash"
	else
		echo "not ok - fuzz $n: exit $rc${art:+, input $art} (log $log)"
		grep -m3 -E 'ERROR: |runtime error|SUMMARY' "$log" | sed 's/^/#   /'
		fail=1
	fi
done
exit $fail
