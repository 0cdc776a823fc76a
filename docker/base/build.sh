#!/usr/bin/env bash
# Builds kubets/node-base:20, a local stand-in for node:20-bookworm-slim on
# machines that reach no container registry: this machine's Node.js binary and
# the libraries `ldd` lists for it, busybox-static (sh and the applets the
# entrypoints use), CA certificates and a minimal /etc, imported with
# `docker import` (nothing is pulled). About 100 MB.
#
#   bash docker/base/build.sh            build unless the image exists
#   bash docker/base/build.sh --force    rebuild
#   BASE_TAG=other/name:tag bash docker/base/build.sh
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
LOG_PREFIX="docker/base/build.sh"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

TAG="${BASE_TAG:-kubets/node-base:20}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

if [ "$FORCE" = 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG exists (--force rebuilds)"
  exit 0
fi

NODE="$(readlink -f "$(command -v node)")"
node_major="$("$NODE" -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" != "20" ]; then
  # The tag promises Node.js 20 (what node:20-bookworm-slim gives real users).
  log "this machine's Node.js is $("$NODE" -v), not 20.x: set BASE_TAG to a matching tag" >&2
  [ -n "${BASE_TAG:-}" ] || exit 1
fi
case "$(ldd "$BUSYBOX" 2>&1 || true)" in
  *"not a dynamic executable"*|*"statically linked"*) ;;
  *) log "$BUSYBOX is not busybox-static: run \`bash infra/setup\`"; exit 1 ;;
esac

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kubets-node-base-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
R="$WORK/rootfs"

# Merged /usr like Debian 12 and node:20-bookworm-slim: staged files land under
# /usr/... in every image, whichever base it is built on.
mkdir -p "$R"/usr/{bin,sbin,lib,lib64,local/bin,local/sbin} "$R"/{etc,root,tmp,proc,sys,dev,run,var/tmp,home/node}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$R/$d"; done
chmod 1777 "$R/tmp" "$R/var/tmp"

# node and its libraries, and the CA certificates (Node.js bundles its own,
# but nats-server and users' tools read these). node moves to
# /usr/local/bin/node, where node:20-bookworm-slim has it.
stage_files "$R" /dev/null "$NODE" /etc/ssl/certs/ca-certificates.crt
mv "$R$(canonical "$NODE")" "$R/usr/local/bin/node"

# busybox: /usr/bin/sh for entrypoints, and every applet in /usr/lib/busybox
# (last on PATH), so binaries the kubets and node images add to /usr/bin and
# /usr/sbin (nft, iptables, containerd...) never collide with an applet link.
install -m 0755 "$BUSYBOX" "$R/usr/bin/busybox"
ln -s busybox "$R/usr/bin/sh"
mkdir -p "$R/usr/lib/busybox"
"$BUSYBOX" --list | node -e '
  const fs = require("node:fs"), dir = process.argv[1];
  for (const a of fs.readFileSync(0, "utf8").split("\n").filter(Boolean))
    if (a !== "busybox") fs.symlinkSync("/usr/bin/busybox", `${dir}/${a}`);
' "$R/usr/lib/busybox"

cat >"$R/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000::/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat >"$R/etc/group" <<'GROUP'
root:x:0:
node:x:1000:
nogroup:x:65534:
GROUP
# glibc resolves names through files, then DNS (no nss modules beyond glibc's own).
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n' >"$R/etc/nsswitch.conf"
for f in /etc/protocols /etc/services; do [ -f "$f" ] && cp "$f" "$R$f"; done
chown 1000:1000 "$R/home/node"

start=$SECONDS
tar -C "$R" --numeric-owner -cf - . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/busybox' \
  --change "ENV NODE_VERSION=$("$NODE" -p 'process.versions.node')" \
  --change 'CMD ["node"]' \
  --change "LABEL io.kubets.base=local io.kubets.node-version=$("$NODE" -v)" \
  - "$TAG" >/dev/null
log "built $TAG ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'), $((SECONDS - start)) s import)"
