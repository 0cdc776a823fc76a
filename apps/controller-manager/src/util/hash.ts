// pod-template-hash: controller.ComputeHash's shape (an FNV-32a hash of the
// template plus the collision count, rendered with rand.SafeEncodeString).
//
// Compatibility note: kube feeds FNV-32a with hashutil.DeepHashObject, i.e.
// go-spew's `%#v` dump of the Go v1.PodTemplateSpec struct (every field of the
// Go type, including zero values and type names). That byte stream cannot be
// rebuilt from JSON without the full Go schema, so kubets hashes a canonical
// JSON form instead: keys sorted, nulls and empty arrays/maps dropped (so a
// defaulted and a re-serialised template hash alike). The algorithm, the
// collision-count bytes and the encoding are kube's; the values are not equal
// to kube's hashes for the same template. Hashes only need to be stable within
// one cluster (the ReplicaSet name and its pods' label), which this is.
import { NAME_SUFFIX_ALPHABET } from '@kubets/api-machinery';
import { normalizeForEquality } from './k8s';

const FNV32_OFFSET = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;

/** FNV-1a, 32 bits, as Go's hash/fnv New32a. */
export class Fnv32a {
  private h = FNV32_OFFSET;

  write(bytes: Uint8Array): this {
    let h = this.h;
    for (let i = 0; i < bytes.length; i++) {
      h ^= bytes[i];
      h = Math.imul(h, FNV32_PRIME) >>> 0;
    }
    this.h = h;
    return this;
  }

  sum32(): number {
    return this.h >>> 0;
  }
}

/** rand.SafeEncodeString: every character mapped into a vowel-free alphabet (no bad words). */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const ch of s) out += NAME_SUFFIX_ALPHABET[(ch.codePointAt(0) ?? 0) % NAME_SUFFIX_ALPHABET.length];
  return out;
}

/** JSON with sorted keys and without nulls or empty containers. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(normalizeForEquality(v) ?? null);
}

/**
 * controller.ComputeHash: FNV-32a over the template (canonical JSON, see the
 * file comment), then, when collisionCount is set, its value as 8 bytes
 * (little-endian uint32 and 4 zero bytes, as kube writes it), rendered as the
 * decimal of the sum passed through SafeEncodeString (e.g. "5d4b9c8f7").
 */
export function computeHash(template: unknown, collisionCount?: number | null): string {
  const h = new Fnv32a().write(Buffer.from(canonicalJson(template), 'utf8'));
  if (collisionCount !== undefined && collisionCount !== null) {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(collisionCount >>> 0, 0);
    h.write(b);
  }
  return safeEncodeString(String(h.sum32()));
}
