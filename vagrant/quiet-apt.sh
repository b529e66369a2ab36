#!/bin/sh
# Runs before Ansible on every VM's first boot. Cloud images (the libvirt box) start cloud-init, apt-daily and
# unattended-upgrades right after boot; Vagrant's Ansible installer then fails on the dpkg lock. Wait for cloud-init,
# stop and mask the automatic apt runs (the lab pins and holds its packages), then wait for a running apt or dpkg.
set -eu

if command -v cloud-init >/dev/null 2>&1; then
    # Exit status 2 means finished with recoverable errors; the boot is done either way.
    cloud-init status --wait >/dev/null || true
fi

units="apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service unattended-upgrades.service"
# shellcheck disable=SC2086 # one word per unit
systemctl stop $units 2>/dev/null || true
# shellcheck disable=SC2086
systemctl mask $units >/dev/null

waited=0
while pgrep -x 'apt|apt-get|dpkg|unattended-upgr' >/dev/null; do
    if [ "$waited" -ge 600 ]; then
        echo "quiet-apt: apt or dpkg still running after 600 s" >&2
        exit 1
    fi
    sleep 5
    waited=$((waited + 5))
done
