/**
 * A scheduling profile (frameworkImpl): the plugins of each extension point
 * in order, the score weights, and the Run*Plugins functions of
 * pkg/scheduler/framework/runtime.
 */
import type { Pod } from './api-types';
import { Parallelizer } from './parallelize';
import { NodeResourcesBalancedAllocation } from './plugins/balanced-allocation';
import { DefaultPreemption } from './plugins/default-preemption';
import { NodeAffinity } from './plugins/node-affinity';
import { NodeName } from './plugins/node-name';
import { NodeResourcesFit } from './plugins/node-resources-fit';
import { NodeUnschedulable } from './plugins/node-unschedulable';
import { PodTopologySpread } from './plugins/pod-topology-spread';
import { TaintToleration } from './plugins/taint-toleration';
import {
  Code,
  hasEnqueueExtensions,
  isFilterPlugin,
  isPostFilterPlugin,
  isPreFilterPlugin,
  isPreScorePlugin,
  isScorePlugin,
  MAX_NODE_SCORE,
  MIN_NODE_SCORE,
  Status,
  type ClusterEvent,
  type CycleState,
  type FilterPlugin,
  type NodeInfo,
  type NodeScore,
  type NodeToStatusReader,
  type Plugin,
  type PostFilterPlugin,
  type PostFilterResult,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScorePlugin,
} from './types';

/** A plugin in a profile; `weight` applies to its Score (default 1). */
export interface PluginEntry {
  plugin: Plugin;
  weight?: number;
}

/** The per-plugin weighted scores of one node, and their sum. */
export interface NodePluginScores {
  name: string;
  /** Each plugin's weighted score (only when asked for: it costs an array per node). */
  scores?: Array<{ plugin: string; score: number }>;
  totalScore: number;
}

export interface FrameworkOptions {
  /** 0 or undefined: kube's adaptive default (50% - nodes/125, at least 5%, at least 100 nodes). */
  percentageOfNodesToScore?: number;
  parallelizer?: Parallelizer;
}

const numberIsFinite = Number.isFinite;

export class SchedulingError extends Error {
  constructor(
    message: string,
    readonly plugin?: string,
  ) {
    super(message);
    this.name = 'SchedulingError';
  }
}

export class Framework {
  readonly preFilterPlugins: PreFilterPlugin[] = [];
  readonly filterPlugins: FilterPlugin[] = [];
  readonly preScorePlugins: PreScorePlugin[] = [];
  readonly scorePlugins: Array<{ plugin: ScorePlugin; weight: number }> = [];
  readonly postFilterPlugins: PostFilterPlugin[] = [];
  readonly percentageOfNodesToScore: number | undefined;
  readonly parallelizer: Parallelizer;
  private readonly all: Plugin[] = [];

  constructor(entries: ReadonlyArray<Plugin | PluginEntry>, opts: FrameworkOptions = {}) {
    const names = new Set<string>();
    for (const e of entries) {
      const { plugin, weight } = 'plugin' in e && typeof (e as PluginEntry).plugin === 'object' ? (e as PluginEntry) : { plugin: e as Plugin, weight: undefined };
      if (names.has(plugin.name)) throw new Error(`plugin "${plugin.name}" already registered`);
      names.add(plugin.name);
      this.all.push(plugin);
      if (isPreFilterPlugin(plugin)) this.preFilterPlugins.push(plugin);
      if (isFilterPlugin(plugin)) this.filterPlugins.push(plugin);
      if (isPreScorePlugin(plugin)) this.preScorePlugins.push(plugin);
      if (isScorePlugin(plugin)) {
        const w = weight ?? 1;
        if (!Number.isInteger(w) || w <= 0) throw new Error(`score plugin "${plugin.name}": weight must be a positive integer`);
        this.scorePlugins.push({ plugin, weight: w });
      }
      if (isPostFilterPlugin(plugin)) this.postFilterPlugins.push(plugin);
      const withFw = plugin as Plugin & { setFramework?: (fw: Framework) => void };
      if (typeof withFw.setFramework === 'function') withFw.setFramework(this);
    }
    this.percentageOfNodesToScore = opts.percentageOfNodesToScore;
    this.parallelizer = opts.parallelizer ?? new Parallelizer();
  }

  get plugins(): readonly Plugin[] {
    return this.all;
  }

  hasFilterPlugins(): boolean {
    return this.filterPlugins.length > 0;
  }

  hasScorePlugins(): boolean {
    return this.scorePlugins.length > 0;
  }

  hasPostFilterPlugins(): boolean {
    return this.postFilterPlugins.length > 0;
  }

  /** The cluster events each plugin registered (for the scheduling queue). */
  eventsToRegister(): Map<string, ClusterEvent[]> {
    const m = new Map<string, ClusterEvent[]>();
    for (const p of this.all) if (hasEnqueueExtensions(p)) m.set(p.name, p.eventsToRegister());
    return m;
  }

  /**
   * RunPreFilterPlugins: the node names all plugins agree on (undefined: all
   * nodes), a rejecting status, and the plugins that narrowed the nodes.
   */
  runPreFilterPlugins(
    state: CycleState,
    pod: Pod,
    nodes: readonly NodeInfo[],
  ): { nodeNames?: Set<string>; status: Status | null; pluginsWithNodes: Set<string> } {
    let nodeNames: Set<string> | undefined;
    const pluginsWithNodes = new Set<string>();
    let returnStatus: Status | null = null;
    for (const pl of this.preFilterPlugins) {
      const { result, status } = pl.preFilter(state, pod, nodes);
      if (status && status.code === Code.Skip) {
        state.skipFilterPlugins.add(pl.name);
        continue;
      }
      if (status && !status.isSuccess()) {
        status.withPlugin(pl.name);
        if (status.code === Code.UnschedulableAndUnresolvable) return { status, pluginsWithNodes: new Set() };
        if (status.code === Code.Unschedulable) {
          // Keep running the others: preemption may still happen in this cycle.
          returnStatus = status;
          continue;
        }
        throw new SchedulingError(`running PreFilter plugin "${pl.name}": ${status.message()}`, pl.name);
      }
      if (result?.nodeNames) {
        pluginsWithNodes.add(pl.name);
        nodeNames = nodeNames === undefined ? new Set(result.nodeNames) : new Set([...nodeNames].filter((n) => result.nodeNames!.has(n)));
        if (nodeNames.size === 0) {
          const sorted = [...pluginsWithNodes].sort();
          const msg =
            sorted.length === 1
              ? `node(s) didn't satisfy plugin ${sorted[0]}`
              : `node(s) didn't satisfy plugin(s) [${sorted.join(' ')}] simultaneously`;
          return { nodeNames, status: new Status(Code.UnschedulableAndUnresolvable, [msg]), pluginsWithNodes };
        }
      }
    }
    return { nodeNames, status: returnStatus, pluginsWithNodes };
  }

  /** RunFilterPlugins: the first rejection (with its plugin), or null when the node fits. */
  runFilterPlugins(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null {
    for (const pl of this.filterPlugins) {
      if (state.skipFilterPlugins.size && state.skipFilterPlugins.has(pl.name)) continue;
      const s = pl.filter(state, pod, nodeInfo);
      if (s && s.code !== Code.Success) {
        if (!s.isRejected()) throw new SchedulingError(`running "${pl.name}" filter plugin: ${s.message()}`, pl.name);
        return s.withPlugin(pl.name);
      }
    }
    return null;
  }

  /** RunPreScorePlugins: Skip marks a plugin's Score as skipped for this cycle. */
  runPreScorePlugins(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): void {
    for (const pl of this.preScorePlugins) {
      const s = pl.preScore(state, pod, nodes);
      if (!s || s.code === Code.Success) continue;
      if (s.code === Code.Skip) {
        state.skipScorePlugins.add(pl.name);
        continue;
      }
      throw new SchedulingError(`running PreScore plugin "${pl.name}": ${s.message()}`, pl.name);
    }
  }

  /** RunScorePlugins: score, normalize, weight and sum, per node (in the order of `nodes`); `detail` keeps each plugin's score. */
  async runScorePlugins(state: CycleState, pod: Pod, nodes: readonly NodeInfo[], detail = false): Promise<NodePluginScores[]> {
    const plugins = this.scorePlugins.filter((p) => !state.skipScorePlugins.has(p.plugin.name));
    const perPlugin: NodeScore[][] = plugins.map(() => new Array<NodeScore>(nodes.length));
    if (plugins.length > 0) {
      await this.parallelizer.until(nodes.length, (i) => {
        const ni = nodes[i]!;
        for (let p = 0; p < plugins.length; p++) perPlugin[p]![i] = { name: ni.name, score: plugins[p]!.plugin.score(state, pod, ni) };
      });
      plugins.forEach((p, idx) => p.plugin.normalizeScore?.(state, pod, perPlugin[idx]!));
    }
    const out: NodePluginScores[] = new Array(nodes.length);
    for (let i = 0; i < nodes.length; i++) {
      const entry: NodePluginScores = { name: nodes[i]!.name, totalScore: 0 };
      if (detail) entry.scores = new Array(plugins.length);
      for (let p = 0; p < plugins.length; p++) {
        const { plugin, weight } = plugins[p]!;
        const score = perPlugin[p]![i]!.score;
        if (score > MAX_NODE_SCORE || score < MIN_NODE_SCORE || !numberIsFinite(score)) {
          throw new SchedulingError(
            `plugin "${plugin.name}" returns an invalid score ${score}, it should in the range of [${MIN_NODE_SCORE}, ${MAX_NODE_SCORE}] after normalizing`,
            plugin.name,
          );
        }
        const weighted = score * weight;
        if (entry.scores) entry.scores[p] = { plugin: plugin.name, score: weighted };
        entry.totalScore += weighted;
      }
      out[i] = entry;
    }
    return out;
  }

  /** RunPostFilterPlugins: the first success wins; otherwise the rejections' reasons are joined. */
  runPostFilterPlugins(state: CycleState, pod: Pod, m: NodeToStatusReader): { result?: PostFilterResult; status: Status } {
    let result: PostFilterResult | undefined;
    const reasons: string[] = [];
    let rejector = '';
    for (const pl of this.postFilterPlugins) {
      const { result: r, status: s } = pl.postFilter(state, pod, m);
      if (s.isSuccess()) return { result: r, status: s };
      if (s.code === Code.UnschedulableAndUnresolvable) return { result: r, status: s.withPlugin(pl.name) };
      if (!s.isRejected()) throw new SchedulingError(`running PostFilter plugin "${pl.name}": ${s.message()}`, pl.name);
      if (r) result = r;
      reasons.push(...s.reasons);
      if (!rejector) rejector = pl.name;
    }
    return { result, status: new Status(Code.Unschedulable, reasons, rejector || undefined) };
  }
}

export interface DefaultPluginsOptions extends FrameworkOptions {
  /** Options of the spreading plugin (fallback to the controller uid, default constraints). */
  podTopologySpread?: ConstructorParameters<typeof PodTopologySpread>[0];
  /** Leave out DefaultPreemption's diagnosis (then messages end after the filter reasons). */
  withoutPreemption?: boolean;
}

/**
 * The default profile, in kube's order (getDefaultPlugins) with kube's score
 * weights, limited to the plugins kubets implements:
 *
 *   filter:  NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodeResourcesFit
 *   score:   TaintToleration 3, NodeAffinity 2, NodeResourcesFit 1 (LeastAllocated),
 *            PodTopologySpread 2, NodeResourcesBalancedAllocation 1
 *   postFilter: DefaultPreemption (diagnosis only)
 */
export function defaultFramework(opts: DefaultPluginsOptions = {}): Framework {
  const entries: PluginEntry[] = [
    { plugin: new NodeUnschedulable() },
    { plugin: new NodeName() },
    { plugin: new TaintToleration(), weight: 3 },
    { plugin: new NodeAffinity(), weight: 2 },
    { plugin: new NodeResourcesFit(), weight: 1 },
    { plugin: new PodTopologySpread(opts.podTopologySpread), weight: 2 },
  ];
  if (!opts.withoutPreemption) entries.push({ plugin: new DefaultPreemption() });
  entries.push({ plugin: new NodeResourcesBalancedAllocation(), weight: 1 });
  return new Framework(entries, opts);
}
