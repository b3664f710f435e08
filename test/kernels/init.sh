#!/bin/busybox sh
# /init of the initramfs that run.ts builds for each guest kernel (busybox-static only).
# Loads the modules listed in /modules.order (9p over virtio, overlayfs), mounts the
# host's root read-only over 9p with a tmpfs overlay on top, binds the guest kernel's
# own module tree into it (so the guest's modprobe finds veth, cls_bpf, ...) and
# switch_roots into it to run guest.sh from the repository.
# Settings come from the kernel command line (init's environment):
#   tsbpf_kdir   the unpacked kernel package on the host (holds lib/modules, boot/config-*)
#   tsbpf_repo   the repository on the host
/bin/busybox mkdir -p /bin /proc /sys /dev /lower /rw /newroot
/bin/busybox --install -s /bin
export PATH=/bin

fail() {
  echo "tsbpf-init: $*"
  echo o >/proc/sysrq-trigger
  sleep 10
  exit 1
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

while read -r mod; do
  insmod "/modules/$mod" || fail "insmod $mod failed"
done </modules.order

mount -t 9p -o trans=virtio,version=9p2000.L,cache=loose,msize=262144,ro root /lower || fail "9p mount failed"
mount -t tmpfs -o mode=0755 tmpfs /rw || fail "tmpfs failed"
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || fail "overlay mount failed"

release=$(uname -r)
[ -d "/newroot$tsbpf_kdir/lib/modules/$release" ] || fail "no module tree at $tsbpf_kdir/lib/modules/$release"
mkdir -p "/newroot/lib/modules/$release"
mount --bind "/newroot$tsbpf_kdir/lib/modules/$release" "/newroot/lib/modules/$release" || fail "binding the module tree failed"
# Where tools look for the running kernel's configuration (the Debian kernels have no /proc/config.gz).
mkdir -p /newroot/boot
cp "/newroot$tsbpf_kdir/boot/config-$release" "/newroot/boot/config-$release" 2>/dev/null

mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash "$tsbpf_repo/test/kernels/guest.sh"
