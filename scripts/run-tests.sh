#!/bin/bash
# Runs every test of `make test` and ends with ONE summary line of its own:
#   "N passed, N failed, N skipped"
# Unit tests are cmocka binaries ($O/tests/test_*): their "[  PASSED  ] N",
# "[  FAILED  ] N" and "[  SKIPPED ] N" lines are counted.  Live tests are
# tests/live/t_*.sh: each prints "ok - NAME", "not ok - NAME" or
# "skip - NAME: reason" per case and exits non-zero on failure.
# ONLY=unit|live restricts the run; a script that cannot run (no root, no
# ../shared) reports "skip" with the reason, never a silent pass.
set -u
O=${O:-build}
ONLY=${ONLY:-}
cd "$(dirname "$0")/.." || exit 2
passed=0 failed=0 skipped=0
failed_names=()

run_unit() {
	local bin out rc p f s
	for bin in "$O"/tests/test_*; do
		[ -x "$bin" ] || continue
		echo "== unit: $(basename "$bin")"
		out=$("$bin" 2>&1); rc=$?
		printf '%s\n' "$out"
		p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
		f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
		s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | tail -1)
		p=${p:-0}; f=${f:-0}; s=${s:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			# crashed or exited early: count it as a failure of its own
			f=1
		fi
		passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
		[ "$f" -gt 0 ] && failed_names+=("$(basename "$bin")")
	done
}

run_live() {
	local t out rc line n_ok n_fail n_skip limit t0
	for t in tests/live/t_*.sh; do
		[ -f "$t" ] || continue
		echo "== live: $(basename "$t")"
		n_ok=0 n_fail=0 n_skip=0 rc=
		# t_hostile builds and runs everything again under ASan+UBSan and
		# fuzzes each harness (~11 min here): more room than the others
		limit=900
		[ "$(basename "$t")" = t_hostile.sh ] && limit=1800
		t0=$SECONDS
		while IFS= read -r line; do
			case "$line" in __rc=*) rc=${line#__rc=}; continue ;; esac
			printf '%s\n' "$line"
			case "$line" in
			"ok - "*) n_ok=$((n_ok + 1)) ;;
			"not ok - "*) n_fail=$((n_fail + 1)); failed_names+=("$(basename "$t"): ${line#not ok - }") ;;
			"skip - "*) n_skip=$((n_skip + 1)) ;;
			esac
		done < <(O="$O" timeout "$limit" bash "$t" 2>&1; echo "__rc=$?")
		echo "# $(basename "$t"): $((SECONDS - t0)) s (limit $limit s)"
		if [ "${rc:-1}" != 0 ] && [ "$n_fail" -eq 0 ]; then
			n_fail=1; failed_names+=("$(basename "$t"): exited $rc")
		fi
		passed=$((passed + n_ok)); failed=$((failed + n_fail)); skipped=$((skipped + n_skip))
	done
}

[ "$ONLY" = live ] || run_unit
[ "$ONLY" = unit ] || run_live

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failures:"
	for n in "${failed_names[@]}"; do echo "  $n"; done
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
