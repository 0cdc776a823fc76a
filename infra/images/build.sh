#!/usr/bin/env bash
# Builds the test images of kubets as OCI image archives, with no docker and no
# registry: every image is one layer holding busybox-static (/bin/busybox from
# the Debian package, with its applet symlinks) and a small entry script.
#
#   bash infra/images/build.sh              build every image (rebuilds give the same digests)
#   bash infra/images/build.sh --if-missing build only when an archive is missing or stale
#
# Output (gitignored): infra/images/.images/<name>.tar, importable with
#   ctr -a SOCKET -n k8s.io images import infra/images/.images/<name>.tar
# which names the image docker.io/kubets/<name>:1.0 (the io.containerd.image.name
# annotation of index.json), and infra/images/.images/images.json listing them.
#
# Images (all answer SIGTERM as pid 1, which busybox's own applets do not):
#   kubets/pause          waits for signals; the pod sandbox image
#   kubets/busybox-httpd  httpd on :8080 serving "hello from <hostname>"
#   kubets/crasher        logs, then exits 1 after CRASH_AFTER seconds (default 1)
#   kubets/probe-target   httpd on :8080; /healthz answers 200 while the file
#                         /www/healthz exists, 404 once it is removed
#                         (`rm /www/healthz`; `echo ok > /www/healthz` restores)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${KUBETS_IMAGES_DIR:-$HERE/.images}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
TAG="1.0"
IMAGES=(pause busybox-httpd crasher probe-target)
# Every file in every layer and archive gets this mtime (2020-01-01T00:00:00Z).
EPOCH=1577836800
CREATED="2020-01-01T00:00:00Z"

if [ ! -x "$BUSYBOX" ] || ! "$BUSYBOX" --list >/dev/null 2>&1; then
  echo "build.sh: $BUSYBOX missing: run \`bash infra/setup\` (installs the Debian package busybox-static)" >&2
  exit 1
fi
if ! bb_version="$(LC_ALL=C "$BUSYBOX" --help 2>&1 | head -1)"; then bb_version=""; fi
case "$(ldd "$BUSYBOX" 2>&1 || true)" in
  *"not a dynamic executable"*|*"statically linked"*) ;;
  *) echo "build.sh: $BUSYBOX is not statically linked: install busybox-static, not busybox" >&2; exit 1 ;;
esac

# The inputs that decide the output: this script and the busybox binary.
STAMP="$(cat "$0" "$BUSYBOX" | sha256sum | cut -d' ' -f1)"

# One build at a time per output folder (test files may start harnesses at once).
mkdir -p "$OUT"
exec 9>"$OUT/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ "${1:-}" = "--if-missing" ] && [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$STAMP" ]; then
  all=1
  for name in "${IMAGES[@]}"; do [ -f "$OUT/$name.tar" ] || all=0; done
  if [ "$all" = 1 ]; then
    echo "build.sh: test images up to date in $OUT ($bb_version)"
    exit 0
  fi
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kubets-images-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

# Deterministic tar: sorted names, fixed owner and mtime, no atime/ctime.
dtar() { # dtar DIR > file.tar
  tar -C "$1" --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner \
    --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -cf - .
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# rootfs shared by every image: busybox, its applet links, a few /etc files.
# (Process creation is slow on these machines: one node run makes the ~400 links.)
base_rootfs() { # base_rootfs DIR
  local root="$1"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,root,www}
  install -m 0755 "$BUSYBOX" "$root/bin/busybox"
  "$BUSYBOX" --list-full | node -e '
    const fs = require("node:fs"), path = require("node:path");
    const root = process.argv[1];
    for (const rel of fs.readFileSync(0, "utf8").split("\n").filter(Boolean)) {
      const link = path.join(root, rel);
      if (rel === "bin/busybox" || fs.existsSync(link)) continue;
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync("/bin/busybox", link);
    }' "$root"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  chmod 0755 "$root" "$root"/{bin,sbin,usr,usr/bin,usr/sbin,etc,proc,sys,dev,root,www}
  chmod 1777 "$root/tmp"
}

entry_script() { # entry_script IMAGE
  case "$1" in
    pause)
      cat <<'EOF'
#!/bin/sh
# Pod sandbox: hold the namespaces until told to stop.
trap 'exit 0' TERM INT
while :; do
  sleep 3600 &
  wait $!
done
EOF
      ;;
    busybox-httpd)
      cat <<'EOF'
#!/bin/sh
# Serve a page naming this pod's hostname on :8080 (PORT overrides).
echo "hello from $(hostname)" > /www/index.html
echo "busybox-httpd: serving :${PORT:-8080} on $(hostname)"
httpd -f -v -p "${PORT:-8080}" -h /www &
pid=$!
trap 'kill $pid; exit 0' TERM INT
wait $pid
EOF
      ;;
    crasher)
      cat <<'EOF'
#!/bin/sh
# Start, then fail: for restart and back-off tests.
echo "crasher: started, exiting in ${CRASH_AFTER:-1}s"
sleep "${CRASH_AFTER:-1}"
echo "crasher: exiting with code 1" >&2
exit 1
EOF
      ;;
    probe-target)
      cat <<'EOF'
#!/bin/sh
# httpd on :8080 whose /healthz is the file /www/healthz: remove it to fail
# the probe (404), write it again to pass (200). /ready works the same way.
echo ok > /www/healthz
echo ok > /www/ready
echo "probe-target on $(hostname)" > /www/index.html
echo "probe-target: serving :${PORT:-8080} on $(hostname)"
httpd -f -v -p "${PORT:-8080}" -h /www &
pid=$!
trap 'kill $pid; exit 0' TERM INT
wait $pid
EOF
      ;;
  esac
}

build_image() { # build_image NAME
  local name="$1" dir="$WORK/$1" root="$WORK/$1/rootfs" layout="$WORK/$1/layout"
  local ref="docker.io/kubets/$name:$TAG"
  mkdir -p "$dir" "$layout/blobs/sha256"
  cp -a "$WORK/base" "$root"
  entry_script "$name" > "$root/entrypoint.sh"
  chmod 0755 "$root/entrypoint.sh"

  dtar "$root" > "$dir/layer.tar"
  local diff_id
  diff_id="$(sha "$dir/layer.tar")"
  gzip -n -9 -c "$dir/layer.tar" > "$dir/layer.tar.gz"
  local layer_digest layer_size
  layer_digest="$(sha "$dir/layer.tar.gz")"
  layer_size="$(size "$dir/layer.tar.gz")"
  cp "$dir/layer.tar.gz" "$layout/blobs/sha256/$layer_digest"

  local env='["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]' exposed='{}'
  case "$name" in
    busybox-httpd|probe-target) exposed='{"8080/tcp":{}}' ;;
    crasher) env='["PATH=/usr/sbin:/usr/bin:/sbin:/bin","CRASH_AFTER=1"]' ;;
  esac
  printf '%s' "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"$CREATED\",\"config\":{\"Env\":$env,\"Entrypoint\":[\"/entrypoint.sh\"],\"Cmd\":[],\"WorkingDir\":\"/\",\"ExposedPorts\":$exposed,\"Labels\":{\"io.kubets.test-image\":\"$name\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff_id\"]},\"history\":[{\"created\":\"$CREATED\",\"created_by\":\"infra/images/build.sh\"}]}" > "$dir/config.json"
  local config_digest config_size
  config_digest="$(sha "$dir/config.json")"
  config_size="$(size "$dir/config.json")"
  cp "$dir/config.json" "$layout/blobs/sha256/$config_digest"

  printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config_digest\",\"size\":$config_size},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$layer_digest\",\"size\":$layer_size}]}" > "$dir/manifest.json"
  local manifest_digest manifest_size
  manifest_digest="$(sha "$dir/manifest.json")"
  manifest_size="$(size "$dir/manifest.json")"
  cp "$dir/manifest.json" "$layout/blobs/sha256/$manifest_digest"

  printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$manifest_digest\",\"size\":$manifest_size,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\"annotations\":{\"io.containerd.image.name\":\"$ref\",\"org.opencontainers.image.ref.name\":\"$TAG\"}}]}" > "$layout/index.json"
  printf '%s' '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"

  dtar "$layout" > "$OUT/$name.tar.$$"
  mv "$OUT/$name.tar.$$" "$OUT/$name.tar"
  echo "{\"name\":\"$name\",\"ref\":\"$ref\",\"archive\":\"$name.tar\",\"manifestDigest\":\"sha256:$manifest_digest\",\"imageId\":\"sha256:$config_digest\",\"layerDigest\":\"sha256:$layer_digest\",\"diffId\":\"sha256:$diff_id\"}"
}

base_rootfs "$WORK/base"
entries=()
for name in "${IMAGES[@]}"; do
  entries+=("$(build_image "$name")")
done
{
  echo "["
  for i in "${!entries[@]}"; do
    sep=","; [ "$i" -eq $((${#entries[@]} - 1)) ] && sep=""
    echo "  ${entries[$i]}$sep"
  done
  echo "]"
} > "$OUT/images.json.$$"
mv "$OUT/images.json.$$" "$OUT/images.json"
echo "$STAMP" > "$OUT/.stamp"
echo "build.sh: built ${#IMAGES[@]} images into $OUT"
cat "$OUT/images.json"
