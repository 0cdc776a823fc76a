#!/usr/bin/env node
// Imports the Kubernetes protobuf wire schema and the Go JSON shape of the
// same types from checkouts of kubernetes/api and kubernetes/apimachinery
// (the staging repositories, at one release tag):
//
//   node libs/k8s-protobuf/tools/import-upstream.js \
//     --api /path/to/kubernetes/api --apimachinery /path/to/kubernetes/apimachinery \
//     --release v1.36.3
//
// It writes
//   proto/k8s.io/<package path>/generated.proto   the messages, field names and
//       numbers of each upstream generated.proto (comments dropped), compiled
//       by proto/tools/generate.js into proto/src/gen/k8s.io/;
//   libs/k8s-protobuf/src/gen/go-structs.ts        for every message, how the
//       Go struct behind it serializes to JSON: field order, json name,
//       omitempty/omitzero, inline, pointer, and which types embed TypeMeta
//       (the kinds). Client-go writes every non-pointer scalar on the wire,
//       zero or not, so decoding to the JSON that kubectl would have sent needs
//       the Go side too, not only the .proto.
//
// After running it: `npm run proto:generate`, then the k8s-protobuf tests.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const repoRoot = path.resolve(__dirname, '..', '..', '..');

// Proto package directory -> where its Go types live. `groupVersion` marks the
// API group versions whose kinds the decoder accepts.
const PACKAGES = [
  { proto: 'k8s.io/apimachinery/pkg/runtime/schema', repo: 'apimachinery', dir: 'pkg/runtime/schema' },
  { proto: 'k8s.io/apimachinery/pkg/runtime', repo: 'apimachinery', dir: 'pkg/runtime' },
  { proto: 'k8s.io/apimachinery/pkg/api/resource', repo: 'apimachinery', dir: 'pkg/api/resource' },
  { proto: 'k8s.io/apimachinery/pkg/util/intstr', repo: 'apimachinery', dir: 'pkg/util/intstr' },
  { proto: 'k8s.io/apimachinery/pkg/apis/meta/v1', repo: 'apimachinery', dir: 'pkg/apis/meta/v1', groupVersion: 'meta.k8s.io/v1' },
  { proto: 'k8s.io/api/core/v1', repo: 'api', dir: 'core/v1', groupVersion: 'v1' },
  { proto: 'k8s.io/api/apps/v1', repo: 'api', dir: 'apps/v1', groupVersion: 'apps/v1' },
  { proto: 'k8s.io/api/autoscaling/v1', repo: 'api', dir: 'autoscaling/v1', groupVersion: 'autoscaling/v1' },
  { proto: 'k8s.io/api/coordination/v1', repo: 'api', dir: 'coordination/v1', groupVersion: 'coordination.k8s.io/v1' },
  { proto: 'k8s.io/api/discovery/v1', repo: 'api', dir: 'discovery/v1', groupVersion: 'discovery.k8s.io/v1' },
  { proto: 'k8s.io/api/policy/v1', repo: 'api', dir: 'policy/v1', groupVersion: 'policy/v1' },
];

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    out[m[1]] = m[2] ?? argv[++i];
  }
  for (const k of ['api', 'apimachinery', 'release']) if (!out[k]) throw new Error(`--${k} is required`);
  return out;
}

// ---- .proto ---------------------------------------------------------------

/** Upstream generated.proto -> { text without comments, messages: Map<name, Map<number, {name, label, type}>> } */
function importProto(file, pkg, release) {
  const src = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const lines = src.split('\n').map((l) => l.replace(/\s*\/\/.*$/, '').trimEnd()).filter((l) => l.trim() !== '');
  const header = [];
  const body = [];
  const messages = new Map();
  let current;
  for (const line of lines) {
    let m;
    if (/^syntax = "proto2";$/.test(line)) continue;
    if ((m = /^package ([\w.]+);$/.exec(line))) {
      if (m[1] !== pkg.proto.replace(/\//g, '.')) throw new Error(`${file}: package ${m[1]}`);
      continue;
    }
    if (/^import "[\w./-]+";$/.test(line) || /^option go_package = "[\w./-]+";$/.test(line)) {
      header.push(line);
      continue;
    }
    if ((m = /^message (\w+) \{$/.exec(line))) {
      if (current) throw new Error(`${file}: nested message ${m[1]}`);
      current = new Map();
      messages.set(m[1], current);
      body.push('', line);
      continue;
    }
    if (line === '}') {
      if (!current) throw new Error(`${file}: unbalanced }`);
      current = undefined;
      body.push(line);
      continue;
    }
    if ((m = /^ {2}(optional|repeated) ([\w.]+) (\w+) = (\d+);$/.exec(line)) && current) {
      current.set(Number(m[4]), { name: m[3], label: m[1], type: m[2] });
      body.push(line);
      continue;
    }
    if ((m = /^ {2}map<(\w+), ([\w.]+)> (\w+) = (\d+);$/.exec(line)) && current) {
      current.set(Number(m[4]), { name: m[3], label: 'map', type: m[2] });
      body.push(line);
      continue;
    }
    throw new Error(`${file}: cannot import line: ${line}`);
  }
  if (current) throw new Error(`${file}: unterminated message`);
  // Only the imports whose package a field refers to (protoc warns about the others).
  const used = (l) => {
    const dep = /^import "(.*)\/generated\.proto";$/.exec(l)[1].replace(/\//g, '.');
    return body.some((b) => b.includes(` .${dep}.`));
  };
  const importsFirst = header.filter((l) => l.startsWith('import') && used(l)).concat(header.filter((l) => l.startsWith('option')));
  const text =
    `// Code generated by libs/k8s-protobuf/tools/import-upstream.js. DO NOT EDIT.\n` +
    `// Wire schema of ${pkg.repo === 'api' ? 'k8s.io/api' : 'k8s.io/apimachinery'}/${pkg.dir} at Kubernetes ${release}\n` +
    `// (Apache-2.0, The Kubernetes Authors): message and field names and numbers of\n` +
    `// its generated.proto, without the documentation.\n` +
    `syntax = "proto2";\n\npackage ${pkg.proto.replace(/\//g, '.')};\n\n` +
    importsFirst.join('\n') +
    '\n' +
    body.join('\n') +
    '\n';
  return { text, messages };
}

// ---- Go structs -------------------------------------------------------------

function goFiles(dir) {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.go') && !f.endsWith('_test.go') && f !== 'generated.pb.go' && !f.startsWith('zz_generated') && !f.includes('swagger_doc'))
    .sort()
    .map((f) => path.join(dir, f));
}

function parseTag(tag, key) {
  const m = new RegExp(`(?:^|\\s)${key}:"([^"]*)"`).exec(tag);
  return m ? m[1] : undefined;
}

/** All `type X struct {...}` (fields with their tags), other named types, and types with a custom MarshalJSON. */
function parseGoPackage(dir) {
  const structs = new Map();
  const named = new Map();
  const customJson = new Set();
  for (const file of goFiles(dir)) {
    // Block comments become blank lines (line numbers stay right for errors).
    const text = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ''));
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      let m;
      if ((m = /^func \(\w+ \*?(\w+)\) MarshalJSON\(\)/.exec(line))) customJson.add(m[1]);
      if ((m = /^type (\w+) struct\s*\{\s*\}\s*$/.exec(line))) {
        structs.set(m[1], []);
        continue;
      }
      if ((m = /^type (\w+) struct \{\s*$/.exec(line))) {
        const fields = [];
        let error;
        for (i++; i < lines.length && lines[i] !== '}'; i++) {
          const f = lines[i].replace(/^\s+/, '');
          if (f === '' || f.startsWith('//')) continue;
          let fm;
          if ((fm = /^(\w+)\s+([^\s`]+)\s*(?:`([^`]*)`)?\s*(?:\/\/.*)?$/.exec(f))) {
            fields.push({ goName: fm[1], goType: fm[2], embedded: false, tag: fm[3] ?? '' });
          } else if ((fm = /^(\*?[\w.]+)\s*(?:`([^`]*)`)?\s*(?:\/\/.*)?$/.exec(f))) {
            fields.push({ goName: fm[1].replace(/^\*/, '').replace(/^\w+\./, ''), goType: fm[1], embedded: true, tag: fm[2] ?? '' });
          } else {
            error ??= `${file}:${i + 1}: cannot parse struct field: ${f}`;
          }
        }
        structs.set(m[1], error ? { error } : fields);
        continue;
      }
      if ((m = /^type (\w+) (?!struct|interface)(\S.*)$/.exec(line))) named.set(m[1], m[2].trim());
    }
  }
  return { structs, named, customJson };
}

/** The Go side of one proto message: [field number, Go json tag (with a leading `*` for pointer fields)][] in struct order. */
function goShape(fullName, protoFields, goPkg) {
  const short = fullName.slice(fullName.lastIndexOf('.') + 1);
  const fields = goPkg.structs.get(short);
  if (!fields) {
    const underlying = goPkg.named.get(short);
    if (underlying === undefined) throw new Error(`${fullName}: no Go type ${short}`);
    return { custom: `named ${underlying}` };
  }
  if (goPkg.customJson.has(short)) return { custom: 'MarshalJSON' };
  if (fields.error) throw new Error(`${fullName}: ${fields.error}`);
  if (fields.length === 1 && fields[0].embedded && fields[0].tag === '' && goPkg.customJson.has(fields[0].goType)) {
    return { custom: `embeds ${fields[0].goType}` };
  }
  const out = [];
  let kind = false;
  const seen = new Set();
  for (const f of fields) {
    const json = parseTag(f.tag, 'json');
    const pb = parseTag(f.tag, 'protobuf');
    if (f.embedded && /^(metav1\.)?TypeMeta$/.test(f.goType) && json === ',inline') {
      kind = true;
      continue;
    }
    if (pb === undefined || pb === '-') {
      if (json !== undefined && json !== '-' && f.goName[0] === f.goName[0].toUpperCase()) {
        throw new Error(`${fullName}.${f.goName}: JSON field without a protobuf tag`);
      }
      continue;
    }
    // The name part is optional; go-to-protobuf then names the field after the Go field.
    const pm = /^\w+,(\d+)(?:,(?:opt|rep|req))?(?:,name=(\w+))?(?:,|$)/.exec(pb);
    if (pm && pm[2] === undefined) pm[2] = f.goName[0].toLowerCase() + f.goName.slice(1);
    if (!pm) throw new Error(`${fullName}.${f.goName}: protobuf tag ${pb}`);
    const number = Number(pm[1]);
    const pf = protoFields.get(number);
    if (!pf) throw new Error(`${fullName}.${f.goName}: field ${number} is not in the .proto`);
    if (pf.name !== pm[2]) throw new Error(`${fullName}.${f.goName}: proto name ${pf.name} != tag name ${pm[2]}`);
    if (json === undefined) throw new Error(`${fullName}.${f.goName}: no json tag`);
    const ptr = f.goType.startsWith('*');
    if (ptr && pf.label !== 'optional') throw new Error(`${fullName}.${f.goName}: pointer to a repeated field`);
    if (f.goType.startsWith('[]*') || f.goType.startsWith('*[]')) throw new Error(`${fullName}.${f.goName}: unsupported Go type ${f.goType}`);
    out.push([number, (ptr ? '*' : '') + json]);
    seen.add(number);
  }
  for (const [number, pf] of protoFields) {
    if (!seen.has(number)) throw new Error(`${fullName}: proto field ${pf.name} = ${number} has no Go field`);
  }
  return { kind, fields: out };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const roots = { api: path.resolve(args.api), apimachinery: path.resolve(args.apimachinery) };
  const shapes = new Map();
  const kinds = {};
  for (const pkg of PACKAGES) {
    const src = path.join(roots[pkg.repo], pkg.dir, 'generated.proto');
    const { text, messages } = importProto(src, pkg, args.release);
    const dest = path.join(repoRoot, 'proto', pkg.proto, 'generated.proto');
    if (messages.size === 0) {
      console.log(`${path.relative(repoRoot, dest)}: no messages, skipped`);
      continue;
    }
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, text);
    const goPkg = parseGoPackage(path.join(roots[pkg.repo], pkg.dir));
    const pkgName = pkg.proto.replace(/\//g, '.');
    const pkgKinds = [];
    for (const [name, fields] of messages) {
      const shape = goShape(`${pkgName}.${name}`, fields, goPkg);
      shapes.set(`${pkgName}.${name}`, shape);
      if (shape.kind) pkgKinds.push(name);
    }
    if (pkg.groupVersion) kinds[pkg.groupVersion] = { package: pkgName, kinds: pkgKinds.sort() };
    console.log(`${path.relative(repoRoot, dest)}: ${messages.size} messages`);
  }

  const out = [];
  out.push('// Code generated by libs/k8s-protobuf/tools/import-upstream.js. DO NOT EDIT.');
  out.push(`// How the Go types behind the k8s.io protobuf messages (Kubernetes ${args.release})`);
  out.push('// serialize to JSON. See src/go-structs-types.ts for the format.');
  out.push("import type { GoStruct, GroupVersionKinds } from '../go-structs-types';");
  out.push('');
  out.push(`export const KUBERNETES_RELEASE = '${args.release}';`);
  out.push('');
  out.push('export const GO_STRUCTS: Readonly<Record<string, GoStruct>> = {');
  for (const [name, shape] of [...shapes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (shape.custom) {
      out.push(`  '${name}': { custom: ${JSON.stringify(shape.custom).replace(/'/g, "\\'").replace(/^"|"$/g, "'")} },`);
      continue;
    }
    const fields = shape.fields.map(([n, tag]) => `[${n}, '${tag}']`).join(', ');
    out.push(`  '${name}': {${shape.kind ? ' kind: true,' : ''} fields: [${fields}] },`);
  }
  out.push('};');
  out.push('');
  out.push('export const GROUP_VERSIONS: Readonly<Record<string, GroupVersionKinds>> = {');
  for (const [gv, { package: p, kinds: ks }] of Object.entries(kinds)) {
    out.push(`  '${gv}': { package: '${p}', kinds: [${ks.map((k) => `'${k}'`).join(', ')}] },`);
  }
  out.push('};');
  const dest = path.join(repoRoot, 'libs', 'k8s-protobuf', 'src', 'gen', 'go-structs.ts');
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, out.join('\n') + '\n');
  console.log(`${path.relative(repoRoot, dest)}: ${shapes.size} messages`);
}

main();
