#!/bin/sh
# /init of the e2e installer initramfs: load the drivers, DHCP on eth0, fetch the install script
# named by kickstand.script=<URL> on the kernel command line, run it, say how it ended on the
# serial console, power off. Reporting install steps (and failure) is the script's own job.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

say() { echo "KICKSTAND-INIT: $*"; }
finish() {
  say "$1"
  sync
  poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mkdir -p /tmp /run /mnt
say "installer up, kernel $(uname -r)"

while read -r ko; do
  insmod "/lib/modules/$(uname -r)/$ko" || say "insmod $ko failed"
done < /etc/kickstand/modules.load

ip link set lo up
tries=0
while [ ! -e /sys/class/net/eth0 ] && [ "$tries" -lt 50 ]; do sleep 0.2; tries=$((tries + 1)); done
[ -e /sys/class/net/eth0 ] || finish "failed: no eth0"
udhcpc -i eth0 -f -q -n -t 10 -T 3 -s /usr/share/udhcpc/default.script || finish "failed: no DHCP lease"

url=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    kickstand.script=*) url=${arg#kickstand.script=} ;;
  esac
done
[ -n "$url" ] || finish "failed: no kickstand.script= on the kernel command line"
say "fetching $url"
wget -q -O /tmp/install.sh "$url" || finish "failed: cannot fetch $url"
say "disks: $(cd /sys/block && echo *)"
sh /tmp/install.sh
finish "script exited $?"
