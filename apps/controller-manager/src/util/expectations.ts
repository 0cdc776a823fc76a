// Controller expectations (pkg/controller/controller_utils.go): what a
// controller expects to observe through its informer before it acts again.
//
// A ReplicaSet that creates N pods records "expect N adds"; each pod ADDED
// event lowers the count. Until every expected add and delete was observed
// (or 5 minutes passed since the expectations were set), the controller takes
// no new create/delete decisions for that key: its informer cache may not show
// the pods it just created, and acting on it would create them again.

/** ExpectationsTimeout: expectations older than this count as satisfied. */
export const EXPECTATIONS_TIMEOUT_MS = 5 * 60 * 1000;

/** One controller's outstanding adds and deletes (ControlleeExpectations). */
export interface ControlleeExpectations {
  readonly key: string;
  add: number;
  del: number;
  /** When the expectations were set (ms). */
  timestamp: number;
}

export interface ExpectationsOptions {
  /** Clock in ms; default Date.now. */
  now?: () => number;
  /** Default 5 minutes. */
  timeoutMs?: number;
}

/**
 * ControllerExpectations: a map from controller key (`namespace/name`) to
 * its outstanding adds/deletes. Once set, expectations only go down (as
 * events are observed); setting them again replaces them.
 */
export class ControllerExpectations {
  protected readonly entries = new Map<string, ControlleeExpectations>();
  protected readonly now: () => number;
  readonly timeoutMs: number;

  constructor(opts: ExpectationsOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? EXPECTATIONS_TIMEOUT_MS;
  }

  getExpectations(key: string): ControlleeExpectations | undefined {
    return this.entries.get(key);
  }

  /** Every add and delete observed (counts at or below zero). */
  fulfilled(key: string): boolean {
    const e = this.entries.get(key);
    return e === undefined || (e.add <= 0 && e.del <= 0);
  }

  /** Older than the timeout: a dropped watch event must not stall the controller forever. */
  isExpired(key: string): boolean {
    const e = this.entries.get(key);
    return e !== undefined && this.now() - e.timestamp > this.timeoutMs;
  }

  /**
   * SatisfiedExpectations: true when the controller may act (no
   * expectations recorded, all observed, or expired).
   */
  satisfiedExpectations(key: string): boolean {
    const e = this.entries.get(key);
    if (!e) return true;
    return (e.add <= 0 && e.del <= 0) || this.now() - e.timestamp > this.timeoutMs;
  }

  deleteExpectations(key: string): void {
    this.entries.delete(key);
  }

  /** Replace the expectations of `key` (and restart its timeout). */
  setExpectations(key: string, add: number, del: number): void {
    this.entries.set(key, { key, add, del, timestamp: this.now() });
  }

  expectCreations(key: string, adds: number): void {
    this.setExpectations(key, adds, 0);
  }

  expectDeletionCount(key: string, dels: number): void {
    this.setExpectations(key, 0, dels);
  }

  lowerExpectations(key: string, add: number, del: number): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.add -= add;
    e.del -= del;
  }

  raiseExpectations(key: string, add: number, del: number): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.add += add;
    e.del += del;
  }

  /** A pod of this controller was seen created (or a planned create was skipped/failed). */
  creationObserved(key: string): void {
    this.lowerExpectations(key, 1, 0);
  }

  /** A deletion was observed (count-based form; see UIDTrackingControllerExpectations). */
  deletionCountObserved(key: string): void {
    this.lowerExpectations(key, 0, 1);
  }

  /** Keys with expectations (for metrics and tests). */
  keys(): string[] {
    return [...this.entries.keys()];
  }
}

/**
 * UIDTrackingControllerExpectations: deletions are tracked by pod key
 * (`namespace/name`) so each is counted exactly once, whether the informer
 * first shows the pod with a deletionTimestamp (graceful deletion) or
 * reports it DELETED. This is what the ReplicaSet controller uses.
 */
export class UIDTrackingControllerExpectations extends ControllerExpectations {
  private readonly expectedDeletes = new Map<string, Set<string>>();

  /** The pod keys still expected to be deleted. */
  getDeleteKeys(key: string): ReadonlySet<string> | undefined {
    return this.expectedDeletes.get(key);
  }

  /** ExpectDeletions(rcKey, deletedKeys): replaces earlier delete expectations. */
  expectDeletions(key: string, podKeys: readonly string[]): void {
    const set = new Set(podKeys);
    this.expectedDeletes.set(key, set);
    this.setExpectations(key, 0, set.size);
  }

  /** DeletionObserved(rcKey, podKey): lowers the count once per expected pod. */
  deletionObserved(key: string, podKey: string): void {
    const set = this.expectedDeletes.get(key);
    if (set && set.has(podKey)) {
      set.delete(podKey);
      this.lowerExpectations(key, 0, 1);
    }
  }

  override deleteExpectations(key: string): void {
    super.deleteExpectations(key);
    this.expectedDeletes.delete(key);
  }
}
