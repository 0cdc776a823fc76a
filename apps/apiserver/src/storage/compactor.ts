import { txnOp, type EtcdClient } from '@kubets/etcd-client';
import { Compare_CompareResult, Compare_CompareTarget } from '@kubets/proto/etcd/etcdserverpb/rpc';
import type { Logger } from 'pino';

const COMPACT_KEY = 'compact_rev_key';

/**
 * kube-apiserver's compactor: every interval, compact the KV's history up to
 * the revision it had one interval earlier, so history stays bounded while
 * clients that are at most one interval behind can still resume. Several API
 * server replicas coordinate through the version of one key (the same key
 * kube-apiserver uses): only the replica whose transaction bumps it compacts
 * in a given interval.
 */
export class Compactor {
  private timer: NodeJS.Timeout | undefined;
  private lastVersion = 0n;
  private prevRevision = 0;

  constructor(
    private readonly kv: EtcdClient,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  async tick(): Promise<void> {
    try {
      const key = Buffer.from(COMPACT_KEY);
      const r = await this.kv.txn({
        compare: [{ key, rangeEnd: Buffer.alloc(0), result: Compare_CompareResult.EQUAL, target: Compare_CompareTarget.VERSION, targetUnion: { $case: 'version', value: this.lastVersion } }],
        success: [txnOp.put(key, Buffer.from(String(this.prevRevision)))],
        failure: [txnOp.get(key)],
      });
      const current = Number(r.header?.revision ?? 0n);
      if (!r.succeeded) {
        // Another replica compacted in this interval; follow its key version.
        const got = r.responses[0]?.response;
        this.lastVersion = got?.$case === 'responseRange' ? (got.value.kvs[0]?.version ?? 0n) : 0n;
        this.prevRevision = current;
        return;
      }
      this.lastVersion++;
      if (this.prevRevision > 0) {
        await this.kv.compact(this.prevRevision);
        this.log.info({ revision: this.prevRevision }, 'compacted the KV history');
      }
      this.prevRevision = current;
    } catch (e) {
      const msg = (e as Error).message;
      if (/required revision has been compacted/.test(msg)) return; // someone compacted further already
      this.log.warn({ err: msg }, 'compaction failed');
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
