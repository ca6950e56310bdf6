#!/bin/sh
# deps.sh — install the Debian packages kervan needs, only those missing.
#
# Run by `make`, `make run` and `make check`. Does nothing (and needs no
# network) when every package is present. Uses sudo when not root.
set -eu

PACKAGES="
cmake
make
gcc
pkg-config
clang-14
libclang-rt-14-dev
libjson-c-dev
libxml2-dev
libcmocka-dev
libsqlite3-dev
libmicrohttpd-dev
libcurl4-openssl-dev
libsodium-dev
sqlite3
curl
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
