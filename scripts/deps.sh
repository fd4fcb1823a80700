#!/bin/sh
# Install the Debian packages filterd needs when they are missing (root only).
set -e
PKGS="build-essential pkg-config libnftnl-dev libmnl-dev libpcap-dev libcmocka-dev libyaml-dev libjansson-dev nftables iproute2 tcpdump dnsmasq-base iputils-ping netcat-openbsd python3 libssl-dev libsystemd-dev libcap-ng-dev systemd valgrind groff-base libc-ares-dev dnsutils clang libclang-rt-14-dev util-linux libseccomp2 faketime"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "filterd: missing Debian packages:$missing" >&2
	echo "filterd: run as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "filterd: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
