#!/bin/sh
# /sbin/init of the installed e2e system: remount / read-write, turn on swap from fstab, DHCP on
# eth0, GET the URL in /etc/kickstand/booted-url (the system reports `booted`), power off.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

say() { echo "KICKSTAND-SYSTEM: $*"; }
finish() {
  say "$1"
  swapoff -a 2>/dev/null
  mount -o remount,ro / 2>/dev/null
  sync
  poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
mount -o remount,rw / || say "cannot remount / read-write"
mount -t tmpfs tmpfs /tmp
say "installed system up, kernel $(uname -r), root $(grep ' / ' /proc/mounts | grep -v rootfs)"
swapon -a && say "swap: $(tail -n +2 /proc/swaps | awk '{print $1}')" || say "swapon -a failed"
date > /var/log/kickstand-booted

ip link set lo up
udhcpc -i eth0 -f -q -n -t 10 -T 3 -s /usr/share/udhcpc/default.script || finish "failed: no DHCP lease"
url=$(cat /etc/kickstand/booted-url) || finish "failed: no /etc/kickstand/booted-url"
wget -q -O /dev/null "$url" || finish "failed: cannot GET $url"
finish "booted reported"
