// The node IPAM controller: every node gets a pod CIDR (spec.podCIDR and
// spec.podCIDRs) from --cluster-cidr, which its kubelet writes into the CNI
// configuration of its pods. Queue keys are node names; one worker, so two
// nodes never get the same block. The taken blocks are rebuilt from the node
// informer at every incarnation; a block is kept for a node whose patch
// succeeded until the informer shows the node gone (it may lag the patch).
import { isNotFound, type Client, type EventRecorder, type Informer, type Logger, type WorkQueueMetrics } from '@kubets/client';
import { CidrSet } from '../nodeipam/allocator';
import type { KObject } from '../util/k8s';
import { QueueController } from './queue-controller';

export interface NodeIpamControllerOptions {
  client: Client;
  nodes: Informer<any>;
  /** --cluster-cidr */
  clusterCidr: string;
  /** --node-cidr-mask-size */
  nodeCidrMaskSize: number;
  recorder?: EventRecorder;
  log: Logger;
  metrics?: WorkQueueMetrics;
}

export class NodeIpamController extends QueueController {
  private set!: CidrSet;
  /** node name -> the CIDR this controller gave it (until the informer shows it). */
  private readonly given = new Map<string, string>();

  constructor(private readonly o: NodeIpamControllerOptions) {
    super('nodeipam', 1, o.log, o.metrics);
    // Validate the flags now: a bad --cluster-cidr stops the process at start.
    this.set = new CidrSet(o.clusterCidr, o.nodeCidrMaskSize);
    o.nodes.addEventHandler({
      onAdd: (n: KObject) => this.enqueue(String(n.metadata.name)),
      onUpdate: (_old: KObject, n: KObject) => {
        if (!n.spec?.podCIDR) this.enqueue(String(n.metadata.name));
      },
      onDelete: (n: KObject) => this.enqueue(String(n.metadata.name)),
    });
  }

  protected allKeys(): string[] {
    // A fresh incarnation: the taken blocks are exactly what the nodes say, plus what we gave.
    this.set = new CidrSet(this.o.clusterCidr, this.o.nodeCidrMaskSize);
    const names = new Set<string>();
    for (const n of this.o.nodes.list() as KObject[]) {
      names.add(String(n.metadata.name));
      if (n.spec?.podCIDR) this.set.occupy(String(n.spec.podCIDR));
    }
    for (const cidr of this.given.values()) this.set.occupy(cidr);
    return [...names];
  }

  protected async sync(name: string): Promise<void> {
    const node = this.o.nodes.get(name) as KObject | undefined;
    if (!node) {
      // Deleted: its block is free again.
      const cidr = this.given.get(name);
      this.given.delete(name);
      if (cidr) this.set.release(cidr);
      return;
    }
    if (node.spec?.podCIDR) {
      const cidr = String(node.spec.podCIDR);
      if (!this.set.occupy(cidr)) this.log.warn({ node: name, podCIDR: cidr }, 'node has a pod CIDR outside --cluster-cidr or of another size; left as it is');
      if (this.given.get(name) === cidr) this.given.delete(name);
      return;
    }
    const already = this.given.get(name);
    const cidr = already ?? this.plan(name, () => this.set.allocate());
    if (!cidr) {
      this.log.error({ node: name, clusterCidr: this.o.clusterCidr, used: this.set.usedCount }, 'no pod CIDR left for the node');
      void this.o.recorder?.event({ apiVersion: 'v1', kind: 'Node', metadata: { name, uid: name } }, 'Normal', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
      throw new Error(`no pod CIDR left in ${this.o.clusterCidr} for node ${name}`);
    }
    this.given.set(name, cidr);
    try {
      await this.o.client.nodes.patch(undefined, name, 'merge', { spec: { podCIDR: cidr, podCIDRs: [cidr] } });
      this.log.info({ node: name, podCIDR: cidr }, 'allocated the node a pod CIDR');
    } catch (e) {
      if (isNotFound(e)) {
        this.given.delete(name);
        this.set.release(cidr);
        return;
      }
      throw e; // retried with back-off, keeping the same block
    }
  }
}
