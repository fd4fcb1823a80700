# Shared helpers of the live kernel tests (tests/live/t_*.sh) and scripts/demo.sh.
# Source it from bash:  . "$(dirname "$0")/lib.sh"
#
# Output protocol (scripts/run-tests.sh): one line per case,
#   "ok - NAME" | "not ok - NAME" (diagnostics "# ..." before it) | "skip - NAME: reason"
# and `live_finish` exits non-zero when a case failed.
#
# Namespaces are named "$LIVE_PREFIX-<name>" (LIVE_PREFIX=fdt<pid>), and every one
# created here is deleted by the EXIT/INT/TERM trap, even on failure.  Only the
# addresses of DESIGN.md "Test addresses" are used, all on veth links between
# namespaces created here: no packet leaves them.

LIVE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LIVE_DIR/../.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O="$ROOT/$O" ;; esac
FILTERCTL=${FILTERCTL:-$O/filterctl}
TAGS=$ROOT/examples/servicetags.json
DATA=$LIVE_DIR/data
LIVE_PREFIX=${LIVE_PREFIX:-fdt$$}
LIVE_TIMEOUT=${LIVE_TIMEOUT:-1}              # seconds a denied probe waits
LIVE_TIMEOUT_ALLOWED=${LIVE_TIMEOUT_ALLOWED:-3} # an allowed one answers at once; slack for load
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=$(command -v python3); fi
PROBE="$PY $LIVE_DIR/probe.py"

# Addresses of the standard topology (topo_setup).  The host is in the vnet;
# "peers" holds one address per role on a single interface.
HOST4=10.0.1.4              HOST6=fd00:10::4
VNET4=10.0.1.10             VNET6=fd00:10::10        # vnet peer
PE4=10.0.2.5                                         # private endpoint
AML4=192.0.2.5              AML6=2001:db8:1::5       # AzureMachineLearning
BATCH4=192.0.2.20           BATCH6=2001:db8:2::5     # BatchNodeManagement (.EastUS too)
STORAGE4=198.51.100.10      STORAGE6=2001:db8:3::10  # Storage.EastUS
INET4=203.0.113.10          INET6=2001:db8:ffff::10  # Internet, in no tag
PARTNER4=203.0.113.200                               # Internet, in 203.0.113.128/25
# Ports servers listen on in the host and peers namespaces.
HOST_TCP=22,80,443,5000,8080,29876,44224
HOST_UDP=68,546,5000,5001
PEER_TCP=22,80,443,445,8443,18881
PEER_UDP=5000,5831

_live_ns=()        # namespaces created (full names)
_live_pids=()      # background processes started
_users=()          # test users a script made (useradd ... && _users+=(NAME))
_groups=()         # test groups likewise; both removed by live_cleanup
_live_failed=0
_live_ok=0
_live_tmp=

live_cleanup() {
	local p n
	for p in "${_live_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${_live_pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	_live_pids=()
	for n in "${_live_ns[@]}"; do
		# kill what still runs inside (servers started by ip netns exec)
		for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	_live_ns=()
	for n in "${_users[@]}"; do userdel -f "$n" >/dev/null 2>&1; done
	for n in "${_groups[@]}"; do groupdel "$n" >/dev/null 2>&1; done
	_users=() _groups=()
	[ -n "$_live_tmp" ] && rm -rf "$_live_tmp"
	_live_tmp=
}

# live_init SCRIPTNAME: skips the whole script (exit 0) when it cannot run.
live_init() {
	local name=$1 t
	if [ "$(id -u)" != 0 ]; then
		echo "skip - $name: not root"
		exit 0
	fi
	for t in ip nft ping "$PY"; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "skip - $name: $t not found"
			exit 0
		fi
	done
	if ! ip netns add "$LIVE_PREFIX-probe" 2>/dev/null; then
		echo "skip - $name: cannot create network namespaces"
		exit 0
	fi
	ip netns del "$LIVE_PREFIX-probe"
	if [ ! -x "$FILTERCTL" ]; then
		echo "# $FILTERCTL not built (make O=... all)"
		echo "not ok - $name: filterctl missing"
		exit 1
	fi
	_live_tmp=$(mktemp -d /tmp/filterd-live.XXXXXX)
	trap 'live_cleanup' EXIT
	trap 'live_cleanup; exit 130' INT
	trap 'live_cleanup; exit 143' TERM
}

live_tmp() { echo "$_live_tmp"; }

# wait_until SECONDS COMMAND...: polls COMMAND every 50 ms (SECONDS may be a
# fraction); fails after SECONDS.
wait_until() {
	local n i
	n=$(awk "BEGIN { print int($1 * 20) }")
	shift
	for ((i = 0; i <= n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

ok() { echo "ok - $1"; _live_ok=$((_live_ok + 1)); }
skip() { echo "skip - $1: $2"; }
# not_ok NAME [DIAGNOSTIC...]: every diagnostic line is printed with "# ".
not_ok() {
	local name=$1 l
	shift
	for l in "$@"; do
		printf '%s\n' "$l" | sed 's/^/# /'
	done
	echo "not ok - $name"
	_live_failed=$((_live_failed + 1))
}
# check NAME COMMAND...: ok when COMMAND succeeds (its output shown on failure).
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "command: $*" "$out"; fi
}

live_finish() {
	checks_wait
	live_cleanup
	trap - EXIT INT TERM
	[ "$_live_failed" -eq 0 ]
	exit $?
}

# ---- namespaces ---------------------------------------------------------

ns_name() { echo "$LIVE_PREFIX-$1"; }
nsx() { local n=$1; shift; ip netns exec "$LIVE_PREFIX-$n" "$@"; }

# ns_add NAME: a namespace with lo up, IPv6 enabled and DAD off.
ns_add() {
	local n="$LIVE_PREFIX-$1"
	ip netns add "$n" || return 1
	_live_ns+=("$n")
	ip -n "$n" link set lo up
	nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.forwarding=0 >/dev/null
}

# bg NS COMMAND...: runs COMMAND in namespace NS in the background; killed by the trap.
bg() {
	local n=$1
	shift
	ip netns exec "$LIVE_PREFIX-$n" "$@" &
	_live_pids+=($!)
}

# Connections kept open across policy changes (conn.py), in $_live_tmp/conn:
# conn_server NS PORT starts the echo server and waits until it listens;
# conn_client NS SRC DST PORT NAME STEPS opens connection NAME (its step 0);
# conn_wait N NAME... waits for the outcome of step N of each;
# conn_go N NAME... lets each send its step N and waits for the outcomes;
# step NAME N prints one outcome: ok, timeout or error: ...
conn_server() {
	mkdir -p "$_live_tmp/conn"
	bg "$1" "$PY" "$LIVE_DIR/conn.py" server "$2" >"$_live_tmp/conn/server.out" 2>&1
	wait_until 5 grep -q ready "$_live_tmp/conn/server.out"
}
conn_client() {
	mkdir -p "$_live_tmp/conn/$5"
	bg "$1" "$PY" "$LIVE_DIR/conn.py" client "$2" "$3" "$4" "$_live_tmp/conn/$5" "$6"
}
conn_wait() {
	local n=$1 c files=()
	shift
	for c in "$@"; do files+=("$_live_tmp/conn/$c/step.$n"); done
	wait_until 10 _all_exist "${files[@]}"
}
_all_exist() {
	local f
	for f in "$@"; do [ -e "$f" ] || return 1; done
}
conn_go() {
	local n=$1 c
	shift
	for c in "$@"; do touch "$_live_tmp/conn/$c/go.$n"; done
	conn_wait "$n" "$@"
}
step() { cat "$_live_tmp/conn/$1/step.$2" 2>/dev/null; }

# serve NS TCPPORTS UDPPORTS: starts a probe.py server and waits until it listens.
serve() {
	local n=$1 f
	f="$_live_tmp/serve.$n.$RANDOM"
	bg "$n" $PROBE serve --tcp "$2" --udp "$3" >"$f" 2>&1
	local i
	for i in $(seq 50); do
		grep -q ready "$f" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "# server in $n did not start: $(cat "$f")"
	return 1
}

# topo_setup: namespaces "host" (the pool host, where the filter is applied) and
# "peers" (every other party, one address each), one veth link between them with
# on-link routes; servers listening on both sides.
topo_setup() {
	ns_add host && ns_add peers || return 1
	local h p
	h=$(ns_name host) p=$(ns_name peers)
	ip link add fdtv0 netns "$h" type veth peer name fdtv1 netns "$p" || return 1
	ip -n "$h" link set fdtv0 name eth0
	ip -n "$p" link set fdtv1 name eth0
	ip -n "$h" addr add $HOST4/16 dev eth0
	ip -n "$h" addr add $HOST6/64 dev eth0 nodad
	ip -n "$p" addr add $VNET4/16 dev eth0
	ip -n "$p" addr add $VNET6/64 dev eth0 nodad
	local a
	for a in $PE4 $AML4 $BATCH4 $STORAGE4 $INET4 $PARTNER4; do
		ip -n "$p" addr add $a/32 dev eth0
	done
	for a in $AML6 $BATCH6 $STORAGE6 $INET6; do
		ip -n "$p" addr add $a/128 dev eth0 nodad
	done
	ip -n "$h" link set eth0 up
	ip -n "$p" link set eth0 up
	for a in 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24; do
		ip -n "$h" route add $a dev eth0
	done
	ip -n "$h" -6 route add 2001:db8::/32 dev eth0
	ip -n "$p" -6 route add fd00::/8 dev eth0
	serve host "$HOST_TCP" "$HOST_UDP" && serve peers "$PEER_TCP" "$PEER_UDP"
}

# ---- policy -------------------------------------------------------------

# live_policy WORKSPACE HBI [PORT...]: the daemon tests' small policy (no FQDN):
# the Azure ML inbound rule, and for every PORT an inbound allow of tcp PORT
# from 203.0.113.0/24 (rule AllowInet<PORT>).
live_policy() {
	local ws=$1 hbi=$2 p prio=200
	shift 2 2>/dev/null
	cat <<EOF
# live test policy (lib.sh live_policy)
version: 1
workspace: $ws
region: eastus
hbi_workspace: $hbi

virtual_network:
  address_space: [10.0.0.0/16, "fd00:10::/48"]

managed_network:
  isolation_mode: disabled

security_rules:
  - name: AllowAzureMachineLearning
    priority: 110
    direction: inbound
    access: allow
    protocol: tcp
    source: AzureMachineLearning
    destination_ports: "44224"
EOF
	for p in "$@"; do
		prio=$((prio + 1))
		cat <<EOF
  - name: AllowInet$p
    priority: $prio
    direction: inbound
    access: allow
    protocol: tcp
    source: 203.0.113.0/24
    destination_ports: "$p"
EOF
	done
}


# apply NS POLICY [TAGS]: filterctl apply in NS; output kept in $APPLY_OUT.
APPLY_OUT=
apply() {
	local n=$1 pol=$2 tags=${3:-$TAGS} rc
	checks_wait
	APPLY_OUT=$(nsx "$n" "$FILTERCTL" apply "$pol" --tags "$tags" 2>&1)
	rc=$?
	[ $rc -ne 0 ] && printf '%s\n' "$APPLY_OUT" | sed 's/^/# /'
	return $rc
}

# check_apply NAME NS POLICY: a case of its own ("NAME").
check_apply() {
	if apply "$2" "$3"; then ok "$1"; else not_ok "$1" "filterctl apply $3 failed in $2"; fi
}

# nft_table NS [FLAGS]: `nft FLAGS list table inet filterd` in NS.
nft_table() { local n=$1; shift; nsx "$n" nft "$@" list table inet filterd; }

# rule_counter NS COMMENT: packets counted by the rule with that comment (first one).
rule_counter() {
	nft_table "$1" | grep -F "comment \"$2\"" | head -1 |
		sed -n 's/.*counter packets \([0-9]*\) .*/\1/p'
}

# ---- traffic checks -----------------------------------------------------
# expect_allowed NAME FROMNS PROTO ADDR [PORT] [SRC]
# expect_denied  NAME FROMNS PROTO ADDR [PORT] [SRC]
#   PROTO tcp|udp|icmp (PORT ignored for icmp, give "-"); SRC binds the source address
#   (ADDR#PORT: and the source port).
# Checks run in the background, in parallel; checks_wait (called by apply and
# live_finish) waits for them and prints their lines in the order they were asked.

_chk_n=0
_chk_pids=()
_chk_names=()
_chk_expect=()
_chk_desc=()

probe_cmd() { # NS PROTO ADDR PORT SRC [TIMEOUT]
	local n=$1 proto=$2 addr=$3 port=$4 src=$5 to=${6:-$LIVE_TIMEOUT}
	if [ "$proto" = icmp ]; then
		local fam=-4
		case "$addr" in *:*) fam=-6 ;; esac
		if nsx "$n" ping $fam -n -q -c1 -W"$to" ${src:+-I "$src"} "$addr" >/dev/null 2>&1; then
			echo allowed
		else
			echo denied
		fi
		return
	fi
	nsx "$n" $PROBE "$proto" "$addr" "$port" ${src:+--src "$src"} --timeout "$to" 2>&1
}

_expect() {
	local want=$1 name=$2 n=$3 proto=$4 addr=$5 port=${6:--} src=${7:-}
	local i=$_chk_n
	_chk_n=$((_chk_n + 1))
	_chk_names[$i]=$name
	_chk_expect[$i]=$want
	_chk_desc[$i]="$n${src:+ ($src)} -> $proto $addr${port:+ port $port}"
	local to=$LIVE_TIMEOUT
	[ "$want" = allowed ] && to=$LIVE_TIMEOUT_ALLOWED
	probe_cmd "$n" "$proto" "$addr" "$port" "$src" "$to" >"$_live_tmp/chk.$i" 2>&1 &
	_chk_pids[$i]=$!
}
expect_allowed() { _expect allowed "$@"; }
expect_denied() { _expect denied "$@"; }

# checks_wait: waits for the pending checks and prints their results.
checks_wait() {
	local i got
	for i in "${!_chk_pids[@]}"; do
		wait "${_chk_pids[$i]}" 2>/dev/null
		got=$(tail -1 "$_live_tmp/chk.$i" 2>/dev/null)
		if [ "$got" = "${_chk_expect[$i]}" ]; then
			ok "${_chk_names[$i]}"
		else
			not_ok "${_chk_names[$i]}" "${_chk_desc[$i]}: expected ${_chk_expect[$i]}, got: $(cat "$_live_tmp/chk.$i")"
		fi
	done
	_chk_pids=() _chk_names=() _chk_expect=() _chk_desc=()
}

# result_of FROMNS PROTO ADDR [PORT] [SRC] [TIMEOUT]: prints allowed|denied|refused|error now.
result_of() { probe_cmd "$1" "$2" "$3" "${4:--}" "${5:-}" "${6:-}" | tail -1; }
