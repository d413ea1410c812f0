#!/bin/sh
# Build a local image named python:3.11-slim when it cannot be pulled (no registry reachable):
# a minimal Debian bookworm root filesystem from the Debian mirror (debootstrap), with the
# distribution's Python 3.11 as /usr/local/bin/python, imported with `docker import`.
#
#   docker/exchange/build-base-image.sh [MIRROR]
#
# Needs root, debootstrap and a running docker daemon. Does nothing if the image exists or
# a pull succeeds.
set -eu
IMAGE="python:3.11-slim"
MIRROR="${1:-http://deb.debian.org/debian}"
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "$IMAGE: already present"; exit 0
fi
if docker pull "$IMAGE" >/dev/null 2>&1; then
    echo "$IMAGE: pulled"; exit 0
fi
command -v debootstrap >/dev/null || { echo "$0: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 2; }
ROOT="$(mktemp -d)"
trap 'rm -rf "$ROOT"' EXIT
debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
    bookworm "$ROOT" "$MIRROR"
ln -sf /usr/bin/python3 "$ROOT/usr/local/bin/python"
ln -sf /usr/bin/pip3 "$ROOT/usr/local/bin/pip"
# Debian marks its Python as externally managed; this image is a disposable base.
rm -f "$ROOT"/usr/lib/python3*/EXTERNALLY-MANAGED
chroot "$ROOT" apt-get clean
tar -C "$ROOT" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'CMD ["python3"]' - "$IMAGE"
echo "$IMAGE: built from debootstrap ($MIRROR)"
