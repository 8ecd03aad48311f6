#!/bin/sh
# kickstand install script, DRAFT for the rendering issue (templates/): what the rendered script
# does in the e2e guest. Every value sits in a variable below; `{{name}}` marks what the renderer
# fills in (single-quoted by the shell quoting helper). The e2e stand-in fills them the same way.
#
# Steps, each reported as GET $EVENTS_URL/<stage>: partition the IDE primary master (root) and
# primary slave (swap) with CHS geometry, make ext3 with the geometry module's block count and
# swap, unpack the stock root, install the stock kernel, write menu.lst/grub.conf, fstab and
# securetty, install GRUB legacy in the MBR with `grub --batch`, report `built`.
# POSIX sh (dash in the e2e installer); needs sfdisk, mke2fs, mkswap, grub, wget, tar, readlink -f.
set -eu

EVENTS_URL='{{events_url}}'          # stage names are appended: $EVENTS_URL/partitioned
STOCK_URL='{{stock_url}}'            # install tree's stock/: vmlinuz, initrd.img, root.tar.gz, grub/
BOOTED_URL='{{booted_url}}'          # the installed system GETs this once it is up
KERNEL_VERSION='{{kernel_version}}'  # installed as /boot/vmlinuz-$KERNEL_VERSION
KERNEL_ARGS='{{kernel_args}}'        # e.g. console=ttyS0,115200
ROOT_SCSI='{{root_scsi}}'            # IDE primary master: 0:0:0:0
ROOT_LABEL='{{root_label}}'
ROOT_FSTYPE='{{root_fstype}}'        # ext3
ROOT_START='{{root_start}}'          # first sector of partition 1 (63 with CHS)
ROOT_SECTORS='{{root_sectors}}'      # partition 1 size in sectors: 255*63*C - 63
ROOT_BLOCKS='{{root_blocks}}'        # mke2fs size in 1 KiB blocks: (255*63*C - 63) / 2
SWAP_SCSI='{{swap_scsi}}'            # IDE primary slave: 0:0:1:0
SWAP_LABEL='{{swap_label}}'
SWAP_START='{{swap_start}}'
SWAP_SECTORS='{{swap_sectors}}'
TARGET='/mnt/sysimage'
STEP='start'

# report STAGE: tells kickstand a step is done; a lost report must not stop the install.
report() {
  wget -q -O /dev/null "$EVENTS_URL/$1" || echo "kickstand: cannot report $1" >&2
}

# On any failure (set -e), report `failed` with the step that was running.
on_exit() {
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "kickstand: step $STEP failed with status $rc" >&2
    report "failed?step=$STEP&status=$rc"
  fi
}
trap on_exit EXIT

# disk_at ADDR: prints /dev/NAME of the disk at SCSI address ADDR (host:channel:id:lun); the
# kernel's sdX names follow probe order, which changes from boot to boot.
disk_at() {
  for sys in /sys/block/*; do
    [ -e "$sys/device" ] || continue
    if [ "$(basename "$(readlink -f "$sys/device")")" = "$1" ]; then
      echo "/dev/$(basename "$sys")"
      return 0
    fi
  done
  return 1
}

# wait_for PATH: waits up to 30 s for a device node (devtmpfs creates them asynchronously).
wait_for() {
  n=0
  while [ ! -b "$1" ]; do
    n=$((n + 1))
    [ "$n" -le 150 ] || { echo "kickstand: $1 did not appear" >&2; return 1; }
    sleep 0.2
  done
}

# partition DISK START SECTORS TYPE [bootable]: one primary DOS partition, old partitions wiped.
partition() {
  printf 'label: dos\nunit: sectors\n\nstart=%s, size=%s, type=%s%s\n' "$2" "$3" "$4" "${5:+, bootable}" |
    sfdisk -q --wipe always --wipe-partitions always "$1"
}

# fetch NAME DEST: downloads $STOCK_URL/NAME to DEST.
fetch() {
  wget -q -O "$2" "$STOCK_URL/$1"
}

STEP='find-disks'
n=0
until ROOT_DISK=$(disk_at "$ROOT_SCSI") && SWAP_DISK=$(disk_at "$SWAP_SCSI"); do
  n=$((n + 1))
  [ "$n" -le 150 ] || { echo "kickstand: no disk at $ROOT_SCSI or $SWAP_SCSI" >&2; exit 1; }
  sleep 0.2
done
ROOT_PART="${ROOT_DISK}1"
SWAP_PART="${SWAP_DISK}1"
echo "kickstand: root disk $ROOT_DISK ($ROOT_SCSI), swap disk $SWAP_DISK ($SWAP_SCSI)"

STEP='partition'
disk_sectors=$(cat "/sys/block/$(basename "$ROOT_DISK")/size")
if [ "$((ROOT_START + ROOT_SECTORS))" -gt "$disk_sectors" ]; then
  echo "kickstand: $ROOT_DISK has $disk_sectors sectors, too small for the profile" >&2
  exit 1
fi
partition "$ROOT_DISK" "$ROOT_START" "$ROOT_SECTORS" 83 bootable
partition "$SWAP_DISK" "$SWAP_START" "$SWAP_SECTORS" 82
wait_for "$ROOT_PART"
wait_for "$SWAP_PART"
report partitioned

STEP='format'
mke2fs -q -F -t "$ROOT_FSTYPE" -L "$ROOT_LABEL" "$ROOT_PART" "$ROOT_BLOCKS"
mkswap -L "$SWAP_LABEL" "$SWAP_PART" >/dev/null
report formatted

STEP='install-kernel'
mkdir -p "$TARGET"
mount -t "$ROOT_FSTYPE" "$ROOT_PART" "$TARGET"
fetch root.tar.gz /tmp/root.tar.gz
tar -xzf /tmp/root.tar.gz -C "$TARGET"
rm -f /tmp/root.tar.gz
mkdir -p "$TARGET/boot/grub" "$TARGET/etc/kickstand"
fetch vmlinuz "$TARGET/boot/vmlinuz-$KERNEL_VERSION"
fetch initrd.img "$TARGET/boot/initrd.img-$KERNEL_VERSION"
report kernel-installed

STEP='configure'
cat > "$TARGET/boot/grub/menu.lst" <<MENU
serial --unit=0 --speed=115200
terminal --timeout=0 serial console
default 0
timeout 0

title kickstand ($KERNEL_VERSION)
	root (hd0,0)
	kernel /boot/vmlinuz-$KERNEL_VERSION ro root=LABEL=$ROOT_LABEL $KERNEL_ARGS
	initrd /boot/initrd.img-$KERNEL_VERSION
MENU
ln -sfn menu.lst "$TARGET/boot/grub/grub.conf"
cat > "$TARGET/etc/fstab" <<FSTAB
LABEL=$ROOT_LABEL	/	$ROOT_FSTYPE	defaults	1 1
LABEL=$SWAP_LABEL	swap	swap	defaults	0 0
proc	/proc	proc	defaults	0 0
FSTAB
touch "$TARGET/etc/securetty"
grep -qx 'ttyS0' "$TARGET/etc/securetty" || echo 'ttyS0' >> "$TARGET/etc/securetty"
printf '%s\n' "$BOOTED_URL" > "$TARGET/etc/kickstand/booted-url"

STEP='install-bootloader'
for f in stage1 stage2 e2fs_stage1_5; do
  fetch "grub/$f" "$TARGET/boot/grub/$f"
done
sync
umount "$TARGET"
# GRUB legacy reads the unmounted file system through the disk itself and writes stage1 to the
# MBR and e2fs_stage1_5 behind it; it keeps going after an error, so judge by its output.
printf 'device (hd0) %s\nroot (hd0,0)\nsetup (hd0)\nquit\n' "$ROOT_DISK" |
  grub --batch --no-floppy --device-map=/dev/null > /tmp/grub.log 2>&1 || true
cat /tmp/grub.log
if grep -q 'Error' /tmp/grub.log || ! grep -q 'succeeded' /tmp/grub.log; then
  echo "kickstand: grub setup failed" >&2
  exit 1
fi
report bootloader-installed

STEP='done'
sync
report built
