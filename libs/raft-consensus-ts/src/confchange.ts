// Configuration changes: simple (one voter at a time) and joint consensus.
// A Changer computes the new tracker configuration and progress map from the
// current ones without mutating them.

import {
  ConfChange,
  ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  ConfChangeV2,
  ConfState,
  EntryType,
} from './types';
import {
  Inflights,
  Progress,
  ProgressMap,
  ProgressTracker,
  TrackerConfig,
  cloneTrackerConfig,
} from './tracker';
import { encodeConfChange, encodeConfChangeV2 } from './codec';

export class ConfChangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfChangeError';
  }
}

export type ConfChangeResult = [TrackerConfig, ProgressMap];

/** Converts a V1 change (or passes through a V2 one). */
export function asV2(cc: ConfChange | ConfChangeV2): ConfChangeV2 {
  if ('changes' in cc) return cc;
  return {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [{ type: cc.type, nodeId: cc.nodeId }],
    context: cc.context,
  };
}

/** An empty ConfChangeV2 means "leave the joint configuration". */
export function leaveJoint(cc: ConfChangeV2): boolean {
  return cc.transition === ConfChangeTransition.ConfChangeTransitionAuto && cc.changes.length === 0;
}

/**
 * Whether the change must use joint consensus, and if so whether the joint
 * config is left automatically.
 */
export function enterJoint(cc: ConfChangeV2): { joint: boolean; autoLeave: boolean } {
  if (cc.transition !== ConfChangeTransition.ConfChangeTransitionAuto || cc.changes.length > 1) {
    switch (cc.transition) {
      case ConfChangeTransition.ConfChangeTransitionAuto:
      case ConfChangeTransition.ConfChangeTransitionJointImplicit:
        return { joint: true, autoLeave: true };
      case ConfChangeTransition.ConfChangeTransitionJointExplicit:
        return { joint: true, autoLeave: false };
      default:
        throw new ConfChangeError(`unknown transition: ${cc.transition}`);
    }
  }
  return { joint: false, autoLeave: false };
}

/** Encodes a conf change as the (type, data) of a log entry. */
export function confChangeToEntryData(cc: ConfChange | ConfChangeV2): { type: EntryType; data: Uint8Array } {
  if ('changes' in cc) return { type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2(cc) };
  return { type: EntryType.EntryConfChange, data: encodeConfChange(cc) };
}

export function describeConfChange(cc: ConfChange | ConfChangeV2): string {
  const v2 = asV2(cc);
  const parts = v2.changes.map((c) => {
    switch (c.type) {
      case ConfChangeType.ConfChangeAddNode:
        return `v${c.nodeId}`;
      case ConfChangeType.ConfChangeAddLearnerNode:
        return `l${c.nodeId}`;
      case ConfChangeType.ConfChangeRemoveNode:
        return `r${c.nodeId}`;
      default:
        return `u${c.nodeId}`;
    }
  });
  return parts.length ? parts.join(' ') : '(leave joint)';
}

export class Changer {
  constructor(
    readonly tracker: ProgressTracker,
    readonly lastIndex: number,
  ) {}

  /** Enters a joint configuration: the current voters become the outgoing half. */
  enterJoint(autoLeave: boolean, ccs: ConfChangeSingle[]): ConfChangeResult {
    const [cfg, prs] = this.checkAndCopy();
    if (cfg.voters[1].size > 0) throw new ConfChangeError('config is already joint');
    if (cfg.voters[0].size === 0) throw new ConfChangeError("can't make a zero-voter config joint");
    cfg.voters[1] = new Set(cfg.voters[0]);
    this.apply(cfg, prs, ccs);
    cfg.autoLeave = autoLeave;
    return checkAndReturn(cfg, prs);
  }

  /** Leaves a joint configuration: drops the outgoing voters, demotes learnersNext. */
  leaveJoint(): ConfChangeResult {
    const [cfg, prs] = this.checkAndCopy();
    if (cfg.voters[1].size === 0) throw new ConfChangeError("can't leave a non-joint config");
    for (const id of cfg.learnersNext) {
      cfg.learners.add(id);
      prs.get(id)!.isLearner = true;
    }
    cfg.learnersNext = new Set();
    for (const id of cfg.voters[1]) {
      if (!cfg.voters[0].has(id) && !cfg.learners.has(id)) prs.delete(id);
    }
    cfg.voters[1] = new Set();
    cfg.autoLeave = false;
    return checkAndReturn(cfg, prs);
  }

  /** Applies changes that alter at most one voter, without joint consensus. */
  simple(ccs: ConfChangeSingle[]): ConfChangeResult {
    const [cfg, prs] = this.checkAndCopy();
    if (cfg.voters[1].size > 0) throw new ConfChangeError("can't apply simple config change in joint config");
    this.apply(cfg, prs, ccs);
    if (symdiff(this.tracker.config.voters[0], cfg.voters[0]) > 1) {
      throw new ConfChangeError('more than one voter changed without entering joint config');
    }
    return checkAndReturn(cfg, prs);
  }

  private apply(cfg: TrackerConfig, prs: ProgressMap, ccs: ConfChangeSingle[]): void {
    for (const cc of ccs) {
      if (cc.nodeId === 0) continue; // etcd treats node id 0 as a no-op
      switch (cc.type) {
        case ConfChangeType.ConfChangeAddNode:
          this.makeVoter(cfg, prs, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeAddLearnerNode:
          this.makeLearner(cfg, prs, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeRemoveNode:
          this.remove(cfg, prs, cc.nodeId);
          break;
        case ConfChangeType.ConfChangeUpdateNode:
          break;
        default:
          throw new ConfChangeError(`unexpected conf type ${cc.type}`);
      }
    }
    if (cfg.voters[0].size === 0) throw new ConfChangeError('removed all voters');
  }

  private makeVoter(cfg: TrackerConfig, prs: ProgressMap, id: number): void {
    const pr = prs.get(id);
    if (!pr) {
      this.initProgress(cfg, prs, id, false);
      return;
    }
    pr.isLearner = false;
    cfg.learners.delete(id);
    cfg.learnersNext.delete(id);
    cfg.voters[0].add(id);
  }

  private makeLearner(cfg: TrackerConfig, prs: ProgressMap, id: number): void {
    const pr = prs.get(id);
    if (!pr) {
      this.initProgress(cfg, prs, id, true);
      return;
    }
    if (pr.isLearner) return;
    // Remove it as a voter first, keeping its progress.
    this.remove(cfg, prs, id);
    prs.set(id, pr);
    // A voter of the outgoing config can only become a learner once the
    // joint config is left; until then it is staged in learnersNext.
    if (cfg.voters[1].has(id)) {
      cfg.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      cfg.learners.add(id);
    }
  }

  private remove(cfg: TrackerConfig, prs: ProgressMap, id: number): void {
    if (!prs.has(id)) return;
    cfg.voters[0].delete(id);
    cfg.learners.delete(id);
    cfg.learnersNext.delete(id);
    if (!cfg.voters[1].has(id)) prs.delete(id);
  }

  private initProgress(cfg: TrackerConfig, prs: ProgressMap, id: number, isLearner: boolean): void {
    if (isLearner) cfg.learners.add(id);
    else cfg.voters[0].add(id);
    // A new node is considered active so CheckQuorum does not step the
    // leader down before it had a chance to hear from it.
    const pr = new Progress(
      Math.max(this.lastIndex, 1),
      new Inflights(this.tracker.maxInflight, this.tracker.maxInflightBytes),
      isLearner,
      true,
    );
    prs.set(id, pr);
  }

  private checkAndCopy(): ConfChangeResult {
    const cfg = cloneTrackerConfig(this.tracker.config);
    const prs: ProgressMap = new Map();
    for (const [id, pr] of this.tracker.progress) prs.set(id, pr.clone());
    checkInvariants(cfg, prs);
    return [cfg, prs];
  }
}

function checkAndReturn(cfg: TrackerConfig, prs: ProgressMap): ConfChangeResult {
  checkInvariants(cfg, prs);
  return [cfg, prs];
}

function checkInvariants(cfg: TrackerConfig, prs: ProgressMap): void {
  for (const ids of [cfg.voters[0], cfg.voters[1], cfg.learners, cfg.learnersNext]) {
    for (const id of ids) if (!prs.has(id)) throw new ConfChangeError(`no progress for ${id}`);
  }
  for (const id of cfg.learnersNext) {
    if (!cfg.voters[1].has(id)) throw new ConfChangeError(`${id} is in LearnersNext, but not Voters[1]`);
    if (prs.get(id)!.isLearner) throw new ConfChangeError(`${id} is in LearnersNext, but is already marked as learner`);
  }
  for (const id of cfg.learners) {
    if (cfg.voters[1].has(id)) throw new ConfChangeError(`${id} is in Learners and Voters[1]`);
    if (cfg.voters[0].has(id)) throw new ConfChangeError(`${id} is in Learners and Voters[0]`);
    if (!prs.get(id)!.isLearner) throw new ConfChangeError(`${id} is in Learners, but is not marked as learner`);
  }
  if (cfg.voters[1].size === 0) {
    if (cfg.learnersNext.size > 0) throw new ConfChangeError('cfg.LearnersNext must be empty when not joint');
    if (cfg.autoLeave) throw new ConfChangeError('AutoLeave must be false when not joint');
  }
}

function symdiff(a: Set<number>, b: Set<number>): number {
  let n = 0;
  for (const id of a) if (!b.has(id)) n++;
  for (const id of b) if (!a.has(id)) n++;
  return n;
}

/**
 * Rebuilds the tracker configuration described by a ConfState (e.g. from a
 * snapshot), by replaying it as a sequence of changes against an empty config.
 */
export function restoreConfState(tracker: ProgressTracker, lastIndex: number, cs: ConfState): ConfChangeResult {
  const outgoing: ConfChangeSingle[] = cs.votersOutgoing.map((id) => ({ type: ConfChangeType.ConfChangeAddNode, nodeId: id }));
  const incoming: ConfChangeSingle[] = [
    // The outgoing voters enter the incoming config removed, then the real
    // incoming members are added.
    ...cs.votersOutgoing.map((id) => ({ type: ConfChangeType.ConfChangeRemoveNode, nodeId: id })),
    ...cs.voters.map((id) => ({ type: ConfChangeType.ConfChangeAddNode, nodeId: id })),
    ...cs.learners.map((id) => ({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: id })),
    ...cs.learnersNext.map((id) => ({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: id })),
  ];
  // Work on a scratch tracker so every step sees the result of the previous one.
  const scratch = new ProgressTracker(tracker.maxInflight, tracker.maxInflightBytes);
  const step = (f: (c: Changer) => ConfChangeResult): void => {
    const [cfg, prs] = f(new Changer(scratch, lastIndex));
    scratch.setConfig(cfg, prs);
  };
  if (outgoing.length === 0) {
    for (const cc of incoming) step((c) => c.simple([cc]));
  } else {
    for (const cc of outgoing) step((c) => c.simple([cc]));
    step((c) => c.enterJoint(cs.autoLeave, incoming));
  }
  return [scratch.config, scratch.progress];
}
