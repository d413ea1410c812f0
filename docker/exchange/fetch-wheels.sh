#!/bin/sh
# Put every wheel the exchange's image installs into build/docker-wheels, on the host: the
# project's own wheel (built here) and its dependencies (from the host's package index, with
# the host's proxy and certificates). The Dockerfile then installs with `pip install
# --no-index --find-links`, so nothing inside the build reaches the network.
#
#   docker/exchange/fetch-wheels.sh            (PY=... to use another interpreter)
#
# The wheels must suit the image's Python (3.11, x86_64 glibc); the host's venv is 3.11.
set -eu
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/build/docker-wheels"
PY="${PY:-$ROOT/.venv/bin/python}"
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "the image runs Python 3.11"'
mkdir -p "$OUT"
rm -f "$OUT"/labsupport-*.whl  # the project's wheel is rebuilt from the working tree
"$PY" -m pip wheel --quiet --wheel-dir "$OUT" "$ROOT" pyzmq simplefix numba
echo "$(ls "$OUT" | wc -l) wheels in $OUT"
