#!/usr/bin/env bash
# Installs the Debian packages VM Persona needs, only those that are missing.
set -euo pipefail

PACKAGES=(
  python3-venv libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-system
  libvirt-clients libvirt-dev pkg-config qemu-system-x86 qemu-utils qemu-guest-agent
  busybox-static linux-image-cloud-amd64 dnsmasq-base ebtables iptables redis-server
  postgresql chromium e2fsprogs cpio
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Run as root (or install them with apt-get) and try again." >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
