#!/bin/bash
# Live: filterctl apply against the kernel — agreement with `nft -f` of the compiled
# text, atomic replacement, kernel refusal, other tables, rejected policies,
# hbi checks, and a valgrind run.
. "$(dirname "$0")/lib.sh"
live_init t_apply
T=$(live_tmp)
EX=$ROOT/examples/policy.yaml

# canon: a listing without the lines that differ by construction (none expected:
# both sides are fresh namespaces with no traffic, so counters are all zero).
same_files() { # NAME FILE1 FILE2 (both non-empty and equal)
	if [ ! -s "$2" ] || [ ! -s "$3" ]; then not_ok "$1" "empty listing: $(wc -c "$2" "$3" | head -2)"
	elif cmp -s "$2" "$3"; then ok "$1"
	else not_ok "$1" "$(diff -u "$2" "$3" | head -40)"; fi
}
# rules FILE: number of rules in a listing made with -a (rules carry "# handle").
nrules() { grep -cE '^[[:space:]]+[^[:space:]].* # handle [0-9]+$' "$1" | tr -d ' '; }

# ---- hbi_workspace: inbound allow from the Internet is a compile error
out=$("$FILTERCTL" check "$DATA/hbi-internet.yaml" --tags "$TAGS" 2>&1); rc=$?
if [ $rc -eq 1 ] && printf '%s\n' "$out" | grep -Eq 'hbi-internet\.yaml:[0-9]+:[0-9]+: .*AllowInternetHttps'; then
	ok "hbi: check rejects inbound allow from Internet (exit 1, file:line:col, rule named)"
else
	not_ok "hbi: check rejects inbound allow from Internet (exit 1, file:line:col, rule named)" "exit $rc" "$out"
fi
if printf '%s\n' "$out" | grep -q 'AllowAzureMachineLearning'; then
	not_ok "hbi: the allowed AzureMachineLearning rule is not blamed" "$out"
else
	ok "hbi: the allowed AzureMachineLearning rule is not blamed"
fi
check "hbi: examples/policy.yaml (hbi, tag sources only) passes check" \
	"$FILTERCTL" check "$EX" --tags "$TAGS"

# ---- compile --format nft | nft -f  ==  filterctl apply
ns_add nft && ns_add ctl && ns_add b || { not_ok "apply: namespaces"; live_finish; }
if "$FILTERCTL" compile "$EX" --tags "$TAGS" --format nft >"$T/ex.nft" 2>"$T/err" &&
	nsx nft nft -f "$T/ex.nft" 2>>"$T/err"; then
	ok "compile --format nft loads with nft -f in a fresh namespace"
else
	not_ok "compile --format nft loads with nft -f in a fresh namespace" "$(cat "$T/err")"
fi
check_apply "filterctl apply examples/policy.yaml in a fresh namespace" ctl "$EX"
if printf '%s\n' "$APPLY_OUT" | grep -q 'one batch'; then ok "apply reports one batch"
else not_ok "apply reports one batch" "$APPLY_OUT"; fi
nft_table nft >"$T/list.nft"
nft_table ctl >"$T/list.ctl"
if [ -s "$T/list.ctl" ]; then
	same_files "nft list table inet filterd: nft -f and filterctl apply agree" "$T/list.nft" "$T/list.ctl"
else
	not_ok "nft list table inet filterd: nft -f and filterctl apply agree" "empty listing"
fi

# ---- apply again: atomic replacement, no duplicates
nft_table ctl -a >"$T/a1"
check_apply "apply examples/policy.yaml a second time" ctl "$EX"
nft_table ctl -a >"$T/a2"
nft_table ctl >"$T/list.ctl2"
n1=$(nrules "$T/a1") n2=$(nrules "$T/a2")
if [ "$n1" -gt 0 ] && [ "$n1" = "$n2" ]; then ok "re-apply: same rule count ($n2)"
else not_ok "re-apply: same rule count" "before $n1, after $n2"; fi
same_files "re-apply: listing identical to the first apply" "$T/list.ctl" "$T/list.ctl2"
n=$(nsx ctl nft list tables | grep -c 'table inet filterd')
if [ "$n" = 1 ]; then ok "re-apply: exactly one table inet filterd"
else not_ok "re-apply: exactly one table inet filterd" "$(nsx ctl nft list tables)"; fi
t1=$(sed -n '1s/.*# handle //p' "$T/a1") t2=$(sed -n '1s/.*# handle //p' "$T/a2")
if [ -n "$t1" ] && [ "$t1" != "$t2" ]; then ok "re-apply: the table was replaced (handle $t1 -> $t2)"
else not_ok "re-apply: the table was replaced" "table handle before '$t1' after '$t2'"; fi

# policy B after policy A == fresh B
B=$DATA/out-approved.yaml
check_apply "apply policy B (out-approved.yaml) over policy A" ctl "$B"
check_apply "apply policy B in a fresh namespace" b "$B"
nft_table ctl >"$T/ab"
nft_table b >"$T/b"
same_files "B applied over A lists exactly as a fresh B" "$T/ab" "$T/b"
if grep -q 'DenyInternetSmb\|AllowAzureMachineLearning' "$T/ab"; then
	not_ok "nothing of A is left after B" "$(grep 'DenyInternetSmb\|AllowAzureMachineLearning' "$T/ab")"
else ok "nothing of A is left after B"; fi

# ---- other tables are never touched
nsx ctl nft -f - <<'EOF'
table inet other {
	set keep { type ipv4_addr; elements = { 192.0.2.99 } }
	chain c { type filter hook input priority 10; policy accept; ip saddr @keep counter accept; }
}
table ip filterd {
	chain c { type filter hook output priority 10; policy accept; counter comment "same name, other family"; }
}
EOF
nsx ctl nft -a list table inet other >"$T/o1"; nsx ctl nft -a list table ip filterd >>"$T/o1"
apply ctl "$EX" && apply ctl "$EX"
nsx ctl nft -a list table inet other >"$T/o2"; nsx ctl nft -a list table ip filterd >>"$T/o2"
if grep -q 'table inet other' "$T/o2"; then
	same_files "apply + re-apply leave table inet other and table ip filterd untouched" "$T/o1" "$T/o2"
else
	not_ok "apply + re-apply leave table inet other and table ip filterd untouched" "$(cat "$T/o2")"
fi

# ---- a broken policy: exit 1, file:line:col, kernel unchanged
nft_table ctl -a >"$T/k1"
err=$(nsx ctl "$FILTERCTL" apply "$DATA/broken.yaml" --tags "$TAGS" 2>&1 >/dev/null); rc=$?
if [ $rc -eq 1 ] && printf '%s\n' "$err" | grep -Eq 'broken\.yaml:[0-9]+:[0-9]+: '; then
	ok "syntax error: apply exits 1 with file:line:col"
else
	not_ok "syntax error: apply exits 1 with file:line:col" "exit $rc" "$err"
fi
nft_table ctl -a >"$T/k2"
same_files "syntax error: table inet filterd unchanged (same handles)" "$T/k1" "$T/k2"
err=$(nsx ctl "$FILTERCTL" apply "$DATA/hbi-internet.yaml" --tags "$TAGS" 2>&1 >/dev/null); rc=$?
nft_table ctl -a >"$T/k3"
if [ $rc -eq 1 ] && cmp -s "$T/k1" "$T/k3"; then ok "hbi violation: apply exits 1, table unchanged"
else not_ok "hbi violation: apply exits 1, table unchanged" "exit $rc" "$err" "$(diff "$T/k1" "$T/k3" | head)"; fi
nsx b nft delete table inet filterd
err=$(nsx b "$FILTERCTL" apply "$DATA/broken.yaml" --tags "$TAGS" 2>&1); rc=$?
if [ $rc -eq 1 ] && ! nsx b nft list table inet filterd >/dev/null 2>&1; then
	ok "syntax error: no table created in a namespace without one"
else
	not_ok "syntax error: no table created in a namespace without one" "exit $rc" "$err"
fi

# ---- the kernel refuses the batch: exit 3, object named, table and traffic intact
topo_setup || { not_ok "apply: topology"; live_finish; }
check_apply "kernel-reject: apply inbound.yaml (the table in force)" host "$DATA/inbound.yaml"
expect_allowed "kernel-reject: before: AzureMachineLearning -> host:44224 allowed" peers tcp $HOST4 44224 $AML4
expect_denied  "kernel-reject: before: internet -> host:44224 denied" peers tcp $HOST4 44224 $INET4
expect_allowed "kernel-reject: before: host -> internet:80 allowed" host tcp $INET4 80
checks_wait
nft_table host -a -s >"$T/r1"
err=$(FILTERD_FAULT=kernel-reject nsx host "$FILTERCTL" apply "$DATA/out-approved.yaml" --tags "$TAGS" 2>&1); rc=$?
if [ $rc -eq 3 ]; then ok "kernel-reject: apply exits 3"
else not_ok "kernel-reject: apply exits 3" "exit $rc" "$err"; fi
if printf '%s\n' "$err" | grep -q 'chain inbound' && printf '%s\n' "$err" | grep -q 'no-such-chain'; then
	ok "kernel-reject: message names the refused object"
else
	not_ok "kernel-reject: message names the refused object" "$err"
fi
nft_table host -a -s >"$T/r2"
same_files "kernel-reject: previous table intact (same listing, same handles)" "$T/r1" "$T/r2"
expect_allowed "kernel-reject: after: AzureMachineLearning -> host:44224 still allowed" peers tcp $HOST4 44224 $AML4
expect_denied  "kernel-reject: after: internet -> host:44224 still denied" peers tcp $HOST4 44224 $INET4
expect_allowed "kernel-reject: after: host -> internet:80 still allowed (B not in force)" host tcp $INET4 80
checks_wait

# ---- valgrind
if command -v valgrind >/dev/null 2>&1; then
	ns_add vg
	nsx vg valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=9 "$FILTERCTL" apply "$EX" --tags "$TAGS" >"$T/vg" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && nsx vg nft list table inet filterd >/dev/null 2>&1; then
		ok "valgrind: filterctl apply, no leak, no error"
	else
		not_ok "valgrind: filterctl apply, no leak, no error" "exit $rc" "$(head -60 "$T/vg")"
	fi
	FILTERD_FAULT=kernel-reject nsx vg valgrind -q --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=9 \
		"$FILTERCTL" apply "$DATA/inbound.yaml" --tags "$TAGS" >"$T/vg" 2>&1
	rc=$?
	if [ $rc -eq 3 ]; then ok "valgrind: filterctl apply refused by the kernel, no leak, no error"
	else not_ok "valgrind: filterctl apply refused by the kernel, no leak, no error" "exit $rc" "$(head -60 "$T/vg")"; fi
	nsx vg valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=9 "$FILTERCTL" apply "$DATA/broken.yaml" --tags "$TAGS" >"$T/vg" 2>&1
	rc=$?
	if [ $rc -eq 1 ]; then ok "valgrind: filterctl apply of a broken policy, no leak, no error"
	else not_ok "valgrind: filterctl apply of a broken policy, no leak, no error" "exit $rc" "$(head -60 "$T/vg")"; fi
else
	skip "valgrind: filterctl apply" "valgrind not installed"
fi

live_finish
