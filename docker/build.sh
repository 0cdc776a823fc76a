#!/usr/bin/env bash
# Builds kubets's images with no registry and no network inside `docker build`:
#   kubets/node-base:20     (docker/base/build.sh; only when no --base-image is given)
#   kubets/kubets:VERSION   every component; kubets-entrypoint COMPONENT [ARGS]
#   kubets/node:VERSION     kind-style node: containerd, runc, CNI, the kubelet as its service
# VERSION is the root package.json's. Everything is staged under docker/.build/
# first (built dist folders, production node_modules, host binaries and the
# libraries ldd lists, image archives). Each image carries a hash of its staged
# context and base as a label; an image whose hash matches is not rebuilt. And
# staging itself is skipped when a fingerprint of its inputs (names, sizes and
# mtimes) is the one recorded with the image's hash in docker/.build/.
#
#   bash docker/build.sh                         base (if missing), kubets, node
#   bash docker/build.sh --base-image node:20-bookworm-slim   with a registry
#   bash docker/build.sh --kubets-only           skip the node image
#   bash docker/build.sh --force                 rebuild even when the hashes match
#   bash docker/build.sh --build                 run `nx run-many -t build` first (default: only when a dist is missing)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LOG_PREFIX="docker/build.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

BASE_IMAGE=""
FORCE=0
NODE_IMAGE=1
BUILD_WORKSPACE=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --base-image) BASE_IMAGE="$2"; shift ;;
    --base-image=*) BASE_IMAGE="${1#*=}" ;;
    --force) FORCE=1 ;;
    --kubets-only) NODE_IMAGE=0 ;;
    --build) BUILD_WORKSPACE=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) log "unknown argument: $1"; exit 2 ;;
  esac
  shift
done

VERSION="$(kubets_version)"
KUBETS_TAG="kubets/kubets:$VERSION"
NODE_TAG="kubets/node:$VERSION"
APPS=(kv apiserver controller-manager scheduler kubelet proxy cli)
# The CNI plugins the kubelet's conflist (bridge + host-local + portmap) and
# containerd's loopback setup use; the other ~15 of /usr/lib/cni would add 30 MB.
CNI_PLUGINS=(bridge host-local loopback portmap)
OUT="$HERE/.build"
mkdir -p "$OUT"

# One build at a time (tests of several projects may start at once).
exec 9>"$OUT/.lock"
flock 9

docker version >/dev/null 2>&1 || { log "docker does not answer: run \`bash infra/setup\` (installs and starts dockerd)"; exit 1; }

# No registry here: build the local base unless the caller chose one.
if [ -z "$BASE_IMAGE" ]; then
  BASE_IMAGE="kubets/node-base:20"
  bash "$HERE/base/build.sh"
fi
base_id="$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || echo "$BASE_IMAGE")"

# The workspace's build outputs.
missing=0
for app in "${APPS[@]}"; do [ -f "$ROOT/apps/$app/dist/main.js" ] || missing=1; done
if [ "$BUILD_WORKSPACE" = 1 ] || [ "$missing" = 1 ]; then
  log "building the workspace (nx run-many -t build)"
  (cd "$ROOT" && npx nx run-many -t build --output-style=static)
fi

# up_to_date NAME TAG FINGERPRINT: true when NAME was last staged from inputs
# with FINGERPRINT and TAG still carries the context hash recorded with it.
up_to_date() {
  local recorded
  [ "$FORCE" = 0 ] && [ -f "$OUT/$1.fingerprint" ] || return 1
  recorded="$(cat "$OUT/$1.fingerprint")"
  [ "${recorded% *}" = "$3" ] && [ -n "${recorded#* }" ] && [ "$(image_label "$2" io.kubets.context-hash)" = "${recorded#* }" ]
}

# build_image NAME TAG CONTEXT HASH FINGERPRINT [docker build args...]:
# unless TAG already has HASH; records FINGERPRINT and HASH for up_to_date.
build_image() {
  local name="$1" tag="$2" ctx="$3" hash="$4" fingerprint="$5" start=$SECONDS
  shift 5
  if [ "$FORCE" = 1 ] || [ "$(image_label "$tag" io.kubets.context-hash)" != "$hash" ]; then
    log "building $tag"
    docker build -q --build-arg "KUBETS_VERSION=$VERSION" --build-arg "CONTEXT_HASH=$hash" "$@" -t "$tag" "$ctx" >/dev/null
    log "built $tag in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
  else
    log "$tag is up to date (context hash ${hash:0:12})"
  fi
  echo "$fingerprint $hash" >"$OUT/$name.fingerprint"
}

# Images a rebuild replaced (untagged, with our label) would pile up, one
# kubets and one node image per change: remove them on the way out. Images in
# use by a container stay.
trap 'docker image prune -f --filter label=io.kubets.context-hash >/dev/null 2>&1 || true' EXIT

# ---- kubets/kubets ---------------------------------------------------------
stage_start=$SECONDS
# What `node apps/<app>/dist/main.js` needs: the packages npm lists as the
# apps' production dependencies (workspaces and third-party, transitively),
# read from the installed tree, so staging needs no network. Measured against
# `npm ci --omit=dev` into the staging folder: the same 25 MB of packages, but
# ~3 s instead of 13 s, and offline.
ws_args=()
for app in "${APPS[@]}"; do ws_args+=(-w "apps/$app"); done
(cd "$ROOT" && npm ls "${ws_args[@]}" --omit=dev --all --parseable 2>/dev/null) >"$OUT/packages.txt" ||
  { log "npm ls failed: run \`npm ci\`"; exit 1; }
# The inputs: every listed package (a workspace's package.json and dist), the
# image's own files, nats-server, nft and the base image.
NATS="$(PATH="$PATH:/usr/sbin" command -v nats-server)"
NFT="$(PATH="$PATH:/usr/sbin" command -v nft)"
inputs=("$HERE/build.sh" "$HERE/lib.sh" "$HERE/kubets" "$ROOT/package.json" "$NATS" "$NFT")
while read -r p; do
  if [ "$p" = "$ROOT" ]; then continue; fi
  case "$p" in
    "$ROOT"/node_modules/*) inputs+=("$p") ;;
    *) inputs+=("$p/package.json" "$p/dist") ;;
  esac
done < <(xargs realpath <"$OUT/packages.txt" | sort -u)
kubets_fp="$( (inputs_fingerprint "${inputs[@]}"; echo "$base_id") | sha256sum | cut -d' ' -f1)"

if up_to_date kubets "$KUBETS_TAG" "$kubets_fp"; then
  log "$KUBETS_TAG is up to date (inputs unchanged)"
else
  CTX="$OUT/kubets"
  rm -rf "$CTX"
  R="$CTX/rootfs"
  K="$R/opt/kubets"
  mkdir -p "$K/node_modules" "$R/usr/local/bin"
  cp "$HERE/kubets/Dockerfile" "$CTX/Dockerfile"
  cp "$ROOT/package.json" "$K/package.json"
  stage_packages "$ROOT" "$K" <"$OUT/packages.txt"
  install -m 0755 "$HERE/kubets/kubets-entrypoint" "$R/usr/local/bin/kubets-entrypoint"
  ln -s kubets-entrypoint "$R/usr/local/bin/kubets"
  base_libs >"$OUT/base-libs.txt"
  # nats-server: the host's Debian build (links only libc). nft: kubets-proxy's
  # nftables mode (this kernel has no IP_VS) in a hostNetwork pod or a node
  # container with NET_ADMIN.
  stage_files "$R" "$OUT/base-libs.txt" "$NATS" "$NFT"
  kubets_hash="$( (tree_hash -C "$CTX" . ; echo "$base_id") | sha256sum | cut -d' ' -f1)"
  log "staged the kubets context in $((SECONDS - stage_start)) s ($(du -sh "$CTX" | cut -f1))"
  build_image kubets "$KUBETS_TAG" "$CTX" "$kubets_hash" "$kubets_fp" --build-arg "BASE_IMAGE=$BASE_IMAGE"
fi
[ "$NODE_IMAGE" = 1 ] || exit 0

# ---- kubets/node -----------------------------------------------------------
stage_start=$SECONDS
# The test images (infra/images; pause is the sandbox image), built when missing.
bash "$ROOT/infra/images/build.sh" --if-missing >&2
images_dir="${KUBETS_IMAGES_DIR:-$ROOT/infra/images/.images}"
kubets_id="$(docker image inspect -f '{{.Id}}' "$KUBETS_TAG")"
binaries=()
for bin in containerd containerd-shim-runc-v2 ctr runc; do
  path="$(PATH="$PATH:/usr/sbin" command -v "$bin" || true)"
  [ -n "$path" ] || { log "$bin is missing: run \`bash infra/setup\`"; exit 1; }
  binaries+=("$path")
done
for plugin in "${CNI_PLUGINS[@]}"; do binaries+=("/usr/lib/cni/$plugin"); done
XT="$(readlink -f /usr/sbin/xtables-nft-multi)"
XT_MODULES=/usr/lib/x86_64-linux-gnu/xtables
node_fp="$( (inputs_fingerprint "$HERE/build.sh" "$HERE/lib.sh" "$HERE/node" "${binaries[@]}" "$XT" "$XT_MODULES" "$images_dir"/*.tar; echo "$kubets_id") |
  sha256sum | cut -d' ' -f1)"
if up_to_date node "$NODE_TAG" "$node_fp"; then
  log "$NODE_TAG is up to date (inputs unchanged)"
  exit 0
fi

# The kubets image archive is kept between runs (docker save takes seconds):
# re-saved only when the image changed.
saved="$OUT/kubets-image.tar"
if [ ! -f "$saved" ] || [ "$(cat "$saved.id" 2>/dev/null)" != "$kubets_id" ]; then
  docker save "$KUBETS_TAG" -o "$saved.tmp"
  mv "$saved.tmp" "$saved"
  echo "$kubets_id" >"$saved.id"
fi
CTX="$OUT/node"
R="$CTX/rootfs"
rm -rf "$CTX"
mkdir -p "$R/kubets/images" "$R/etc/containerd" "$R/etc/cni/net.d" "$R/etc/kubernetes/manifests" "$R/usr/local/bin"
cp "$HERE/node/Dockerfile" "$CTX/Dockerfile"
install -m 0755 "$HERE/node/kubets-node-init" "$R/usr/local/bin/kubets-node-init"
cp "$HERE/node/containerd-config.toml" "$R/etc/containerd/config.toml"
[ -f "$OUT/base-libs.txt" ] || base_libs >"$OUT/base-libs.txt"

# containerd, its runc shim, ctr, runc, the CNI plugins, and iptables (nf_tables
# backend: the CNI bridge plugin's ipMasq and portmap call it): one
# multi-call binary, its names as links, and the xtables match/target modules
# it dlopens (ldd cannot see those, so they are staged, with their libraries,
# by name). Staged once into .build/node-host and reused until the host's
# packages change: ldd over 130 files takes 10-20 s here.
host_fp="$(inputs_fingerprint "$HERE/lib.sh" "${binaries[@]}" "$XT" "$XT_MODULES")"
if [ "$(cat "$OUT/node-host.fingerprint" 2>/dev/null)" != "$host_fp" ]; then
  rm -rf "$OUT/node-host"
  mkdir -p "$OUT/node-host"
  stage_files "$OUT/node-host" "$OUT/base-libs.txt" "${binaries[@]}" "$XT" "$XT_MODULES"/*.so
  for name in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -s xtables-nft-multi "$OUT/node-host$(dirname "$(canonical "$XT")")/$name"
  done
  echo "$host_fp" >"$OUT/node-host.fingerprint"
fi
cp -a "$OUT/node-host/." "$R/"

cp "$images_dir"/*.tar "$R/kubets/images/"
ln "$saved" "$R/kubets/images/kubets.tar" 2>/dev/null || cp "$saved" "$R/kubets/images/kubets.tar"

node_hash="$( (tree_hash -C "$CTX" --exclude=./rootfs/kubets/images/kubets.tar . ; echo "$kubets_id") | sha256sum | cut -d' ' -f1)"
log "staged the node context in $((SECONDS - stage_start)) s ($(du -sh "$CTX" | cut -f1))"
build_image node "$NODE_TAG" "$CTX" "$node_hash" "$node_fp" --build-arg "KUBETS_IMAGE=$KUBETS_TAG"
