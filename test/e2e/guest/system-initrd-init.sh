#!/bin/sh
# /init of the installed system's initramfs: load the drivers, find root= (LABEL= or UUID= or a
# device) with findfs, mount it read-only and switch_root to its /sbin/init.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

say() { echo "KICKSTAND-INITRD: $*"; }
die() {
  say "failed: $*"
  sync
  poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
while read -r ko; do
  insmod "/lib/modules/$(uname -r)/$ko" || say "insmod $ko failed"
done < /etc/kickstand/modules.load

root=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    root=*) root=${arg#root=} ;;
  esac
done
[ -n "$root" ] || die "no root= on the kernel command line"

dev=
tries=0
while [ -z "$dev" ] && [ "$tries" -lt 100 ]; do
  case "$root" in
    LABEL=*|UUID=*) dev=$(findfs "$root" 2>/dev/null) || dev= ;;
    *) [ -b "$root" ] && dev=$root ;;
  esac
  [ -n "$dev" ] || { sleep 0.2; tries=$((tries + 1)); }
done
[ -n "$dev" ] || die "root $root not found (disks: $(cd /sys/block && echo *))"
say "root $root is $dev"

mkdir -p /newroot
mount -t ext3 -o ro "$dev" /newroot || die "cannot mount $dev"
mount --move /dev /newroot/dev
umount /sys /proc
exec switch_root /newroot /sbin/init
