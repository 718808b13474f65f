#!/usr/bin/env bash
# Make this machine able to build and run our images without a Docker engine or a registry:
# Podman, runc and debootstrap from Debian's packages (when missing), and the base image
# localhost/retail-base:bookworm (Debian bookworm minbase with python3 and python3-venv, the
# local stand-in for python:3.11-slim), built once and kept. See docs/containers.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="$here/containers.conf"
BASE_IMAGE="${RETAIL_BASE_IMAGE:-localhost/retail-base:bookworm}"

if ! command -v podman >/dev/null || ! test -x /usr/sbin/runc || ! command -v debootstrap >/dev/null; then
  echo "installing podman, runc and debootstrap (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi

if podman image exists "$BASE_IMAGE"; then
  echo "base image $BASE_IMAGE: cached"
  exit 0
fi
echo "building the base image $BASE_IMAGE (debootstrap, about a minute)"
rootfs="$(mktemp -d /tmp/retail-base.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" \
  "${mirror:-http://deb.debian.org/debian}" >/dev/null
# No package caches in the image.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --quiet - "$BASE_IMAGE" >/dev/null
echo "base image $BASE_IMAGE: built ($(podman image inspect --format '{{.Size}}' "$BASE_IMAGE") bytes)"
