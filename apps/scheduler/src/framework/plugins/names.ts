/** Plugin names (pkg/scheduler/framework/plugins/names). */
export const PluginNames = {
  PrioritySort: 'PrioritySort',
  NodeUnschedulable: 'NodeUnschedulable',
  NodeName: 'NodeName',
  TaintToleration: 'TaintToleration',
  NodeAffinity: 'NodeAffinity',
  NodeResourcesFit: 'NodeResourcesFit',
  NodeResourcesBalancedAllocation: 'NodeResourcesBalancedAllocation',
  PodTopologySpread: 'PodTopologySpread',
  DefaultPreemption: 'DefaultPreemption',
} as const;
