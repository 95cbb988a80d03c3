#!/usr/bin/env bash
# Builds the default vswitch guest from Debian packages only: the kernel of
# linux-image-cloud-amd64 (downloaded and unpacked, never installed on the host) and a
# busybox-static initramfs whose init loads the virtio-net modules, configures eth0 from the
# kernel command line and carries ping and iperf3 with its shared libraries.
#
#   guest/build-image.sh [CACHE_DIR]      (default /var/cache/vswitch/guest)
#
# Writes CACHE_DIR/vmlinuz and CACHE_DIR/initrd.img, only when they are missing or were built
# from another version of this script or guest/init (CACHE_DIR/version holds a hash of both).
# Kernel command line understood by the init (guest/init):
#   vsw.ip=CIDR vsw.gw=IP vsw.mtu=N vsw.run="COMMAND"   (vsw.run: run once the network is up)
set -euo pipefail
cache=${1:-/var/cache/vswitch/guest}
here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$here/init" "$here/build-image.sh" | sha256sum | cut -c1-16)
if [[ -s $cache/vmlinuz && -s $cache/initrd.img && $(cat "$cache/version" 2>/dev/null) == "$version" ]]; then
  exit 0
fi
for tool in cpio apt-get dpkg-deb gzip; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is missing (make deps)" >&2; exit 1; }
done
mkdir -p "$cache"
work=$(mktemp -d /tmp/vsw-guest-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# The metapackage names the current kernel package.
resolve() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'; }
kpkg=$(resolve)
if [[ -z $kpkg ]]; then
  apt-get update -qq  # a machine whose package lists were never fetched
  kpkg=$(resolve)
fi
[[ -n $kpkg ]] || { echo "build-image: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }
# apt-get download writes as the _apt user where it can; a root-only temp dir is fine too.
apt-get download -q "$kpkg" busybox-static 2>/dev/null >/dev/null ||
  apt-get download "$kpkg" busybox-static
dpkg-deb -x "$kpkg"_*.deb kernel
dpkg-deb -x busybox-static_*.deb busybox
kver=$(ls kernel/lib/modules)

root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,lib/modules,usr/bin,lib64,lib/x86_64-linux-gnu}
cp busybox/bin/busybox "$root/bin/busybox"
for applet in sh mount insmod ip ping ifconfig route cat sleep echo grep sed awk ls poweroff \
  reboot dmesg mkdir uname hostname tr cut acpid; do
  ln -sf busybox "$root/bin/$applet"
done
# The virtio-net stack, in load order (plain .ko files in Debian's cloud kernel).
mods=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover
  net_failover virtio_net)
for m in "${mods[@]}"; do
  f=$(find "kernel/lib/modules/$kver" -name "$m.ko" | head -1)
  [[ -n $f ]] || { echo "build-image: module $m not found in $kpkg" >&2; exit 1; }
  cp "$f" "$root/lib/modules/"
done
# The ACPI power button (QMP system_powerdown, 'vswctl vm stop') as an input device, which
# busybox acpid turns into /etc/acpi/PWRF/00000080.
for m in button evdev; do
  f=$(find "kernel/lib/modules/$kver" -name "$m.ko" | head -1)
  [[ -n $f ]] || { echo "build-image: module $m not found in $kpkg" >&2; exit 1; }
  cp "$f" "$root/lib/modules/"
  mods+=("$m")
done
mkdir -p "$root/etc/acpi/PWRF"
printf '#!/bin/sh\necho "vsw-guest: power button: powering off" >/dev/console\npoweroff -f\n' >"$root/etc/acpi/PWRF/00000080"
chmod 755 "$root/etc/acpi/PWRF/00000080"
printf '%s\n' "${mods[@]}" >"$root/lib/modules/order"
# iperf3 from the host (installed by make deps), with the libraries it links.
cp /usr/bin/iperf3 "$root/usr/bin/iperf3"
ldd /usr/bin/iperf3 | awk '/=>/ {print $3} /ld-linux/ {print $1}' | while read -r lib; do
  [[ -f $lib ]] && cp -L "$lib" "$root$lib" 2>/dev/null || { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }
done
cp "$here/init" "$root/init"
chmod 755 "$root/init"

cp "kernel/boot/vmlinuz-$kver" "$cache/vmlinuz.tmp"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$cache/initrd.img.tmp"
[[ -s $cache/initrd.img.tmp ]] || { echo "build-image: empty initramfs" >&2; exit 1; }
mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
mv "$cache/initrd.img.tmp" "$cache/initrd.img"
echo "$version" >"$cache/version"
echo "build-image: $cache/vmlinuz ($kver) and $cache/initrd.img ($(du -h "$cache/initrd.img" | cut -f1))"
