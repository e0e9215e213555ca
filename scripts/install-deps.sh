#!/bin/sh
# Install the Debian 12 packages the build, tests and demo need (as root).
# Only missing packages are installed, so a prepared machine pays nothing.
set -e
PKGS="meson ninja-build gcc clang libclang-rt-14-dev pkg-config zlib1g-dev libcmocka-dev
libxen-dev xenstore-utils xen-utils-4.17 python3 python3-pytest liburing-dev
libslirp-dev libglib2.0-dev iproute2 libmicrohttpd-dev libjson-c-dev
libcurl4-openssl-dev libzstd-dev libgnutls28-dev openssl"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
