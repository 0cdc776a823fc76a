#!/usr/bin/env bash
# Builds what ipvs-vm.test.ts boots: Debian's stock kernel (it has IP_VS; this
# machine's kernel does not) and an initramfs with busybox, ipvsadm, iproute2's
# ip, the kernel modules IPVS needs, /init (init.sh) and the files of one test
# run (the ipvsadm-restore rules kubets-proxy generated, kube-ipvs0's
# addresses, the backends and probes).
#
#   bash build.sh CACHE_DIR RUN_DIR
#
# CACHE_DIR keeps the downloaded kernel package and the extracted vmlinuz and
# modules (reused by later runs; apps/proxy/test/vm/.cache is gitignored).
# RUN_DIR holds the run's files (ipvs-rules, ipvs-addrs, backends, probes;
# optionally ipvs-diff and probes-diff for a second stage) and
# receives initrd.gz. Prints "kernel=<path>" and "initrd=<path>" on its last
# lines. Needs root only for nothing; needs apt-get, dpkg, busybox (static),
# ipvsadm, ip. Nothing is installed on this machine: the package is only
# unpacked (dpkg -x) into CACHE_DIR.
set -euo pipefail

CACHE=$(realpath -m "$1")
RUN=$(realpath -m "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$CACHE"
PATH="$PATH:/usr/sbin:/sbin"

# Modules to load, by name; their hard dependencies are added before them.
# crc32c_generic is only a soft dependency of libcrc32c (crc32c), so it is
# named first by hand.
WANTED=(crc32c_generic nf_defrag_ipv4 nf_defrag_ipv6 libcrc32c nf_conntrack ip_vs ip_vs_rr dummy veth)

# 1. The kernel package behind linux-image-amd64 (e.g. linux-image-6.1.0-56-amd64).
kpkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
PKG=$(kpkg || true)
if [ -z "$PKG" ]; then
  echo "build.sh: apt-cache knows no linux-image-amd64; running apt-get update" >&2
  apt-get update -qq >&2
  PKG=$(kpkg)
fi
[ -n "$PKG" ] || { echo "build.sh: cannot resolve linux-image-amd64's kernel package" >&2; exit 1; }
KDIR="$CACHE/$PKG"

if [ ! -f "$KDIR/.complete" ]; then
  echo "build.sh: fetching $PKG" >&2
  rm -rf "$KDIR" "$CACHE/dl" "$CACHE/x"
  mkdir -p "$CACHE/dl" "$KDIR/modules"
  chmod 0777 "$CACHE/dl"  # apt-get download runs as _apt where it can
  ( cd "$CACHE/dl" && apt-get download -q "$PKG" >&2 ) || {
    apt-get update -qq >&2
    ( cd "$CACHE/dl" && apt-get download -q "$PKG" >&2 )
  }
  dpkg -x "$CACHE"/dl/*.deb "$CACHE/x"
  cp "$CACHE"/x/boot/vmlinuz-* "$KDIR/vmlinuz"
  # Keep only the modules this test can need (the package unpacks to ~400 MB).
  MODROOT=$(echo "$CACHE"/x/lib/modules/*)
  find "$MODROOT/kernel/net" "$MODROOT/kernel/drivers/net" "$MODROOT/kernel/crypto" "$MODROOT/kernel/lib" \
    -name '*.ko*' \( -path '*netfilter*' -o -path '*/ipvs/*' -o -name 'dummy.ko*' -o -name 'veth.ko*' -o -name 'crc32c*' -o -name 'libcrc32c*' \) \
    -exec cp {} "$KDIR/modules/" \;
  ( cd "$KDIR/modules" && for f in *.ko.xz; do [ -e "$f" ] && xz -d "$f"; done; for f in *.ko.zst; do [ -e "$f" ] && zstd -q -d --rm "$f"; done; true )
  basename "$MODROOT" > "$KDIR/release"
  rm -rf "$CACHE/x" "$CACHE/dl"
  touch "$KDIR/.complete"
  # drop kernels of earlier package versions
  find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name 'linux-image-*' ! -name "$PKG" -exec rm -rf {} +
fi

# 2. Load order from each module's "depends=" field (no modules.dep in the package).
declare -A SEEN=()
ORDER=()
visit() {
  local m=$1 f dep
  [ -n "${SEEN[$m]:-}" ] && return 0
  SEEN[$m]=1
  f="$KDIR/modules/$m.ko"
  [ -f "$f" ] || { echo "build.sh: module $m not in $PKG" >&2; exit 1; }
  for dep in $(tr '\0' '\n' < "$f" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '); do visit "$dep"; done
  ORDER+=("$m")
}
for m in "${WANTED[@]}"; do visit "$m"; done

# 3. The initramfs tree.
ROOT="$RUN/root"
rm -rf "$ROOT"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,lib/modules,etc/kubets,proc,sys,run,dev,tmp,srv}
cp "$(command -v busybox)" "$ROOT/bin/busybox"
for a in $("$ROOT/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -s busybox "$ROOT/bin/$a"
done
for b in ipvsadm ip; do
  src=$(command -v "$b")
  cp "$src" "$ROOT/usr/sbin/$b"
  for lib in $(ldd "$src" | awk '/=> \// { print $3 } /^[[:space:]]*\// { print $1 }'); do
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -L "$lib" "$ROOT$lib"
  done
done
for s in ipvsadm-restore ipvsadm-save; do cp "$(command -v "$s")" "$ROOT/usr/sbin/$s"; done
for m in "${ORDER[@]}"; do cp "$KDIR/modules/$m.ko" "$ROOT/lib/modules/"; done
printf '%s\n' "${ORDER[@]}" > "$ROOT/etc/kubets/modules"
for f in ipvs-rules ipvs-addrs backends probes ipvs-diff probes-diff; do
  if [ -f "$RUN/$f" ]; then cp "$RUN/$f" "$ROOT/etc/kubets/$f"; fi
done
install -m 0755 "$HERE/init.sh" "$ROOT/init"

( cd "$ROOT" && find . | busybox cpio -o -H newc -R 0:0 2>/dev/null ) | gzip -1 > "$RUN/initrd.gz"
rm -rf "$ROOT"
echo "modules=${ORDER[*]}"
echo "kernel=$KDIR/vmlinuz"
echo "initrd=$RUN/initrd.gz"
