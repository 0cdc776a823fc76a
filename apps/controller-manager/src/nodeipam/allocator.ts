// The node IPAM range allocator (kube's pkg/controller/nodeipam, the
// RangeAllocator of --cidr-allocator-type=RangeAllocator): the cluster CIDR
// (--cluster-cidr) is cut into node blocks of --node-cidr-mask-size, and each
// node gets the lowest free one as spec.podCIDR. Pure: which blocks are taken
// is told to it.
import { ipToNumber, ipToString, parseCidr, type Cidr } from '@kubets/api-machinery';

export class CidrSet {
  readonly cluster: Cidr;
  readonly nodeBits: number;
  /** How many node blocks the cluster CIDR holds. */
  readonly blocks: number;
  private readonly used = new Set<number>();

  constructor(clusterCidr: string, nodeMaskSize: number) {
    this.cluster = parseCidr(clusterCidr, 1, 32);
    if (!Number.isInteger(nodeMaskSize) || nodeMaskSize < this.cluster.bits || nodeMaskSize > 32) {
      throw new Error(`--node-cidr-mask-size ${nodeMaskSize} must be between the cluster CIDR's prefix length (${this.cluster.bits}) and 32`);
    }
    if (nodeMaskSize - this.cluster.bits > 16) {
      throw new Error(`--node-cidr-mask-size ${nodeMaskSize} cuts ${this.cluster.text} into more than 65536 node blocks`);
    }
    this.nodeBits = nodeMaskSize;
    this.blocks = 2 ** (nodeMaskSize - this.cluster.bits);
  }

  private blockSize(): number {
    return 2 ** (32 - this.nodeBits);
  }

  /** The block index of a node CIDR of this set, or undefined when it is not one. */
  indexOf(cidr: string): number | undefined {
    const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
    const ip = m ? ipToNumber(m[1]!) : undefined;
    if (ip === undefined || Number(m![2]) !== this.nodeBits) return undefined;
    const offset = ip - this.cluster.base;
    if (offset < 0 || offset >= this.cluster.size || offset % this.blockSize() !== 0) return undefined;
    return offset / this.blockSize();
  }

  cidrOf(index: number): string {
    return `${ipToString(this.cluster.base + index * this.blockSize())}/${this.nodeBits}`;
  }

  /** Mark a node's CIDR as taken; false when it is not a block of this set. */
  occupy(cidr: string): boolean {
    const i = this.indexOf(cidr);
    if (i === undefined) return false;
    this.used.add(i);
    return true;
  }

  release(cidr: string): void {
    const i = this.indexOf(cidr);
    if (i !== undefined) this.used.delete(i);
  }

  /** Take the lowest free block; undefined when the cluster CIDR is full. */
  allocate(): string | undefined {
    for (let i = 0; i < this.blocks; i++) {
      if (!this.used.has(i)) {
        this.used.add(i);
        return this.cidrOf(i);
      }
    }
    return undefined;
  }

  get usedCount(): number {
    return this.used.size;
  }
}
