#!/bin/bash
# Live: a policy over the real Azure service tags (../shared/data, or
# $FILTERD_SHARED) compiles, loads into a namespace with filterctl apply, and the
# kernel's sets hold exactly the tags' prefixes.  No traffic at all is sent here
# (the namespaces have no interface but lo): real service-tag addresses are never
# used as live traffic addresses.
. "$(dirname "$0")/lib.sh"
live_init t_realdata
T=$(live_tmp)

SHARED=${FILTERD_SHARED:-$ROOT/../shared}
TDIR=
for d in "$SHARED/data/servicetags" "$SHARED/servicetags"; do
	[ -f "$d/ServiceTags_Public_20240415.json" ] && { TDIR=$d; break; }
done
if [ -z "$TDIR" ]; then
	skip "real service tags" "no ServiceTags_Public_20240415.json under $SHARED (set FILTERD_SHARED)"
	live_finish
fi
REAL=$TDIR/ServiceTags_Public_20240415.json
REAL2=$TDIR/ServiceTags_Public_20240506.json
POL=$DATA/realdata.yaml

check "realdata: check realdata.yaml with ServiceTags_Public_20240415.json" \
	"$FILTERCTL" check "$POL" --tags "$REAL"
if "$FILTERCTL" compile "$POL" --tags "$REAL" --format nft >"$T/real.nft" 2>"$T/err"; then
	ok "realdata: compile --format nft"
else
	not_ok "realdata: compile --format nft" "$(cat "$T/err")"
fi

ns_add real && ns_add realnft || { not_ok "realdata: namespaces"; live_finish; }
if apply real "$POL" "$REAL"; then ok "realdata: filterctl apply ($(printf '%s' "$APPLY_OUT" | head -1 | sed 's/.*filterd: //'))"
else not_ok "realdata: filterctl apply"; fi

for tag in AzureMachineLearning BatchNodeManagement Storage.EastUS AzureCloud.eastus AzureFrontDoor.FirstParty; do
	for fam in 4 6; do
		set=tag_${tag}_v$fam
		if ! nsx real nft -j list set inet filterd "$set" >"$T/set.json" 2>"$T/err"; then
			not_ok "realdata: set $set loaded" "$(cat "$T/err")"
			continue
		fi
		if res=$("$PY" "$LIVE_DIR/setcmp.py" "$REAL" "$tag" $fam <"$T/set.json"); then
			ok "realdata: set $set holds exactly the tag's v$fam prefixes (${res#equal } elements)"
		else
			not_ok "realdata: set $set holds exactly the tag's v$fam prefixes" "$res"
		fi
	done
done
n=$(nsx real nft list set inet filterd tag_AzureMachineLearning_v4 | grep -c '/')
if [ "${n:-0}" -gt 0 ]; then ok "realdata: nft list set tag_AzureMachineLearning_v4 shows elements"
else not_ok "realdata: nft list set tag_AzureMachineLearning_v4 shows elements" \
	"$(nsx real nft list set inet filterd tag_AzureMachineLearning_v4 | head)"; fi

if nsx realnft nft -f "$T/real.nft" 2>"$T/err"; then
	nft_table real >"$T/l.ctl"
	nft_table realnft >"$T/l.nft"
	if cmp -s "$T/l.ctl" "$T/l.nft"; then
		ok "realdata: nft -f of the compiled text lists exactly as filterctl apply"
	else
		not_ok "realdata: nft -f of the compiled text lists exactly as filterctl apply" "$(diff -u "$T/l.nft" "$T/l.ctl" | head -30)"
	fi
else
	not_ok "realdata: nft -f of the compiled text lists exactly as filterctl apply" "$(head -20 "$T/err")"
fi

# the weekly update: 20240506 applied over 20240415 equals a fresh 20240506
if [ -f "$REAL2" ]; then
	ns_add real2
	if apply real "$POL" "$REAL2" && apply real2 "$POL" "$REAL2"; then
		nft_table real >"$T/u1"
		nft_table real2 >"$T/u2"
		if cmp -s "$T/u1" "$T/u2"; then ok "realdata: 20240506 over 20240415 lists exactly as a fresh 20240506"
		else not_ok "realdata: 20240506 over 20240415 lists exactly as a fresh 20240506" "$(diff -u "$T/u2" "$T/u1" | head -30)"; fi
		nsx real nft -j list set inet filterd tag_AzureCloud.eastus_v4 >"$T/set.json"
		if res=$("$PY" "$LIVE_DIR/setcmp.py" "$REAL2" AzureCloud.eastus 4 <"$T/set.json"); then
			ok "realdata: after the update, tag_AzureCloud.eastus_v4 holds the 20240506 prefixes"
		else
			not_ok "realdata: after the update, tag_AzureCloud.eastus_v4 holds the 20240506 prefixes" "$res"
		fi
	else
		not_ok "realdata: apply ServiceTags_Public_20240506.json"
	fi
else
	skip "realdata: weekly update" "$REAL2 absent"
fi

# valgrind over the big batch (real tags, ~200 KB of netlink)
if command -v valgrind >/dev/null 2>&1; then
	ns_add realvg
	nsx realvg valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--error-exitcode=9 "$FILTERCTL" apply "$POL" --tags "$REAL" >"$T/vg" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then ok "realdata: valgrind: filterctl apply with real tags, no leak, no error"
	else not_ok "realdata: valgrind: filterctl apply with real tags, no leak, no error" "exit $rc" "$(head -60 "$T/vg")"; fi
else
	skip "realdata: valgrind" "valgrind not installed"
fi

live_finish
