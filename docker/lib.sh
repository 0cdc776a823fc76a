# Shared helpers of docker/'s build scripts (sourced, not run).
# Everything an image holds is staged on the host first, because `docker
# build` here reaches no registry and no package mirror: no apt, no npm and no
# pull inside a Dockerfile.

# The libraries every image's base already provides: those Node.js itself
# links (glibc, libstdc++, libgcc_s). Both bases have them (node:20-bookworm-slim
# and kubets/node-base), so staged binaries never overwrite a base's libc.
base_libs() {
  ldd "$(readlink -f "$(command -v node)")" | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | xargs -r -n1 basename | sort -u
}

# canonical PATH: the path with its directory resolved on the host. Debian 12
# is merged-/usr (/lib -> usr/lib), and so are both bases; staging files under
# the resolved directory means a `COPY rootfs/ /` never replaces a base's
# /lib or /bin symlink with a real directory.
canonical() {
  printf '%s/%s\n' "$(readlink -f "$(dirname "$1")")" "$(basename "$1")"
}

# stage_files ROOTFS SKIP_LIBS_FILE FILE...: each FILE plus the shared
# libraries `ldd` lists for it (none for a non-ELF file), except those named in SKIP_LIBS_FILE (one
# basename a line), copied (symlinks followed) to ROOTFS at their canonical
# paths. One ldd and one node process for all files: process creation is slow
# on these machines, and the xtables modules alone are 120 files.
stage_files() {
  local rootfs="$1" skip="$2"
  shift 2
  # ldd exits 1 when any FILE is not dynamic (a static binary, a certificate).
  { printf '%s\n' "$@"; { ldd "$@" 2>/dev/null || true; } | awk '$3 ~ /^\// {print $3} NF == 2 && $1 ~ /^\// {print $1}'; } |
    node -e '
      const fs = require("node:fs"), path = require("node:path");
      const [rootfs, skipFile] = process.argv.slice(1);
      const skip = new Set(fs.readFileSync(skipFile, "utf8").split("\n").filter(Boolean));
      for (const p of new Set(fs.readFileSync(0, "utf8").split("\n").filter(Boolean))) {
        if (skip.has(path.basename(p))) continue;
        const dest = path.join(rootfs, fs.realpathSync(path.dirname(p)), path.basename(p));
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.copyFileSync(fs.realpathSync(p), dest);
        fs.chmodSync(dest, fs.statSync(p).mode & 0o7777);
      }
    ' "$rootfs" "$skip"
}

# stage_packages ROOT DEST < package folders (npm ls --parseable): copies the
# listed packages of the workspace at ROOT to DEST, keeping their places.
# A workspace (node_modules/@kubets/x, a link to libs/x) keeps its link and
# gets its package.json and dist; a third-party package is copied without its
# own node_modules (nested packages are listed, and copied, on their own).
# Files no component reads at run time are left out (type declarations,
# source maps, markdown, tests). One node process: spawning is slow here.
stage_packages() {
  node -e '
    const fs = require("node:fs"), path = require("node:path");
    const [root, dest] = process.argv.slice(1);
    const drop = /(\.d\.[cm]?ts|\.map|\.tsbuildinfo|\.md|\.markdown|\.(test|spec)\.[cm]?[jt]s)$/;
    const copy = (src, to) => fs.cpSync(src, to, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (f) => {
        const rel = path.relative(src, f), base = path.basename(f);
        if (rel === "node_modules" || base === ".github") return false;
        return !drop.test(base) || fs.statSync(f).isDirectory();
      },
    });
    const workspaces = new Set();
    for (const p of new Set(fs.readFileSync(0, "utf8").split("\n").filter(Boolean))) {
      if (p === root) continue;
      const rel = path.relative(root, p);
      if (fs.lstatSync(p).isSymbolicLink()) {
        const target = fs.realpathSync(p);
        fs.mkdirSync(path.dirname(path.join(dest, rel)), { recursive: true });
        fs.symlinkSync(path.relative(path.dirname(p), target), path.join(dest, rel));
        workspaces.add(path.relative(root, target));
      } else {
        copy(p, path.join(dest, rel));
      }
    }
    for (const ws of workspaces) {
      if (!fs.existsSync(path.join(root, ws, "dist"))) {
        console.error(`${ws}/dist is missing: build the workspace (bash docker/build.sh --build)`);
        process.exit(1);
      }
      fs.mkdirSync(path.join(dest, ws), { recursive: true });
      fs.copyFileSync(path.join(root, ws, "package.json"), path.join(dest, ws, "package.json"));
      copy(path.join(root, ws, "dist"), path.join(dest, ws, "dist"));
    }
  ' "$1" "$2"
}

# tree_hash TAR_ARGS... (e.g. -C DIR .): a hash of the files' names, modes, link targets and
# contents, not of their mtimes (staging copies them afresh every time).
tree_hash() {
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - "$@" | sha256sum | cut -d' ' -f1
}

# inputs_fingerprint PATH...: a hash of the names, sizes and mtimes of every
# file under the PATHs (links followed). One find: cheap enough to run on every
# build, unlike staging (process creation is slow on these machines).
inputs_fingerprint() {
  find -L "$@" -printf '%p %s %T@\n' 2>/dev/null | sort | sha256sum | cut -d' ' -f1
}

# image_label IMAGE LABEL: the label's value, empty when the image is missing.
image_label() {
  docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# The project's version (the root package.json): the tag of kubets/kubets and kubets/node.
kubets_version() {
  node -p 'require(process.argv[1]).version' "$(dirname "${BASH_SOURCE[0]}")/../package.json"
}

log() { echo "${LOG_PREFIX:-$0}: $*" >&2; }
