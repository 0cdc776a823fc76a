// `kubets image load IMAGE...`: images without a registry, as `kind load
// docker-image` does it: an archive (OCI or docker-archive tar, e.g. from
// `docker save` or infra/images/build.sh), or an image of the local docker
// engine (exported with `docker save`), imported into the real node's
// containerd (namespace k8s.io, where the kubelet's CRI finds it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FlagSpecs } from '@kubets/service-kit';
import { ClusterError, clusterNodeContainers, loadArchives } from '../cluster';
import { UpError } from './components';
import { parse, shellQuote, usage } from './index';
import { criRuntimeReady, dockerAvailable, dockerSave, importImage, readNodeLayout } from './node';

export const IMAGE_LOAD_FLAGS = {
  cluster: { type: 'string', description: 'Load into the nodes of this Docker cluster (kubets cluster create --name) instead of the local cluster of kubets up' },
  node: { type: 'string', description: 'The node to load into (default: the real node of kubets up; with --cluster, every node)' },
  dir: { type: 'string', default: '.kubets', description: 'State directory given to kubets up' },
} as const satisfies FlagSpecs;

export const IMAGE_USAGE = `Load images into the local cluster's real node without a registry (like
\`kind load docker-image\`). Each IMAGE is either an archive file (an OCI image
layout or docker-archive tar: \`docker save\`, infra/images/build.sh) or the
name of an image in the local docker engine, which is exported with
\`docker save\` first. The images are imported into the node's containerd
(namespace k8s.io); pods then use them by name with imagePullPolicy
IfNotPresent (the default for a tag other than :latest) or Never.

Usage:
  kubets image load IMAGE|ARCHIVE... [--node NAME] [--dir DIR]
  kubets image load IMAGE|ARCHIVE... --cluster NAME [--node NAME]   (a kubets cluster create cluster)

Examples:
  kubets image load ./my-app.tar
  docker build -t example.com/my-app:1.0 . && kubets image load example.com/my-app:1.0

Flags:
${usage(IMAGE_LOAD_FLAGS)}
  -h, --help                 help for this command
`;

export async function image(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '-h' || sub === '--help' || sub === 'help') {
    out.write(IMAGE_USAGE);
    return sub ? 0 : 2;
  }
  if (sub !== 'load') {
    process.stderr.write(`Error: unknown command "${sub}" for "kubets image"\nRun 'kubets image --help' for usage.\n`);
    return 2;
  }
  const parsed = parse(IMAGE_LOAD_FLAGS, rest, 'image load', true);
  if (parsed.help) {
    out.write(IMAGE_USAGE);
    return 0;
  }
  const images = parsed.positionals;
  if (images.length === 0) {
    process.stderr.write(`Error: kubets image load needs at least one IMAGE or ARCHIVE\nRun 'kubets image --help' for usage.\n`);
    return 2;
  }
  try {
    if (parsed.config.cluster !== undefined) return await loadIntoCluster(images, parsed.config.cluster, parsed.config.node, out);
    return await load(images, parsed.config.dir, parsed.config.node, out);
  } catch (err) {
    if (!(err instanceof UpError) && !(err instanceof ClusterError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    return 1;
  }
}

async function load(images: string[], dirFlag: string, nodeName: string | undefined, out: NodeJS.WritableStream): Promise<number> {
  const dir = path.resolve(dirFlag);
  const layout = readNodeLayout(dir);
  if (!layout) throw new UpError(`the cluster in ${dir} has no real node (no ${path.join(dir, 'node.json')}): start one with \`kubets up --dir ${shellQuote(dirFlag)}\` (without --hollow)`);
  if (nodeName !== undefined && nodeName !== layout.name) {
    throw new UpError(`node "${nodeName}" has no container runtime: only ${layout.name} is real (the other nodes of kubets up are hollow)`);
  }
  if (!(await criRuntimeReady(layout).catch(() => false))) {
    throw new UpError(`the containerd of ${layout.name} is not running (${layout.socket}): \`kubets up --dir ${shellQuote(dirFlag)}\` first`);
  }
  // Check every argument before importing anything.
  const archives: Array<{ image: string; file?: string }> = images.map((i) => (isFile(i) ? { image: i, file: path.resolve(i) } : { image: i }));
  const fromDocker = archives.filter((a) => !a.file);
  if (fromDocker.length > 0 && !dockerAvailable()) {
    throw new UpError(
      `${fromDocker.map((a) => a.image).join(', ')}: no such file, and no docker engine to export ${fromDocker.length > 1 ? 'them' : 'it'} from; give an archive (docker save / an OCI layout tar)`,
    );
  }
  let tmp: string | undefined;
  try {
    for (const a of archives) {
      const t = Date.now();
      let file = a.file;
      if (!file) {
        tmp ??= fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-image-'));
        file = path.join(tmp, `${archives.indexOf(a)}.tar`);
        out.write(`kubets image load: docker save ${a.image}\n`);
        await dockerSave(a.image, file);
      }
      const names = await importImage(layout, file);
      out.write(`kubets image load: ${a.image} -> node ${layout.name}: ${names.length ? names.join(', ') : 'no image name in the archive (docker save NAME, or an io.containerd.image.name annotation in index.json, names it)'} (${((Date.now() - t) / 1000).toFixed(1)}s)\n`);
    }
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
  return 0;
}

/** The images as archive files: files as given, docker engine images exported with docker save into `tmp`. */
async function archivesOf(images: string[], tmp: () => string, out: NodeJS.WritableStream): Promise<string[]> {
  const files: string[] = [];
  for (const [i, image] of images.entries()) {
    if (isFile(image)) {
      files.push(path.resolve(image));
      continue;
    }
    if (!dockerAvailable()) throw new UpError(`${image}: no such file, and no docker engine to export it from; give an archive (docker save / an OCI layout tar)`);
    const file = path.join(tmp(), `${i}.tar`);
    out.write(`kubets image load: docker save ${image}\n`);
    await dockerSave(image, file);
    files.push(file);
  }
  return files;
}

/** kind load docker-image: into every node container of a Docker cluster (or --node). */
async function loadIntoCluster(images: string[], cluster: string, node: string | undefined, out: NodeJS.WritableStream): Promise<number> {
  const nodes = await clusterNodeContainers(cluster, node);
  let dir: string | undefined;
  try {
    const files = await archivesOf(images, () => (dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-image-'))), out);
    await loadArchives(nodes, files, (line) => out.write(`kubets image load: ${line}\n`));
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

