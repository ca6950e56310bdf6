#!/usr/bin/env bash
# exchange_interop.sh — docs/exchange.md implemented a second time, in
# Python (hashlib, cryptography), against kervan's examples and program:
# see exchange_interop.py. Skips (77) when the cryptography package is
# missing.
#
# usage: bash exchange_interop.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -u
command -v python3 >/dev/null || { echo "python3 not found: skipping"; exit 77; }
exec python3 "$2/tests/cli/exchange_interop.py" "$1" "$2"
