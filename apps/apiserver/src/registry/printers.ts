// Table columns and rows as kube-apiserver prints them
// (pkg/printers/internalversion/printers.go). The server always generates the
// wide form: priority-1 columns are in every row and kubectl hides them
// unless -o wide.
import type { KObject, ResourceDef, TableColumn } from './types';
import { age, asArray, asObject, formatLabels, formatLabelSelector, isObject, selectorString, since, timestampMs } from './util';

type Table = ResourceDef['table'];

const NAME_DOC = 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically.';
const AGE_DOC = 'CreationTimestamp is a timestamp representing the server time when this object was created.';

const nameCol = (priority = 0): TableColumn => ({ name: 'Name', type: 'string', format: 'name', description: NAME_DOC, priority });
const ageCol: TableColumn = { name: 'Age', type: 'string', description: AGE_DOC, priority: 0 };
const col = (name: string, type: TableColumn['type'], description: string, priority = 0): TableColumn => ({ name, type, description, priority });

const CONTAINERS_COL = col('Containers', 'string', 'Names of each container in the template.', 1);
const IMAGES_COL = col('Images', 'string', 'Images referenced by each container in the template.', 1);

function layoutContainerCells(containers: unknown): [string, string] {
  const list = asArray(containers);
  return [list.map((c) => String(c?.name ?? '')).join(','), list.map((c) => String(c?.image ?? '')).join(',')];
}

const int = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0) || 0);
const s = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

// ------------------------------------------------------------------------ pods

function hasPodReadyCondition(conditions: unknown): boolean {
  return asArray(conditions).some((c) => c?.type === 'Ready' && c?.status === 'True');
}

function isPodInitializedConditionTrue(conditions: unknown): boolean {
  return asArray(conditions).some((c) => c?.type === 'Initialized' && c?.status === 'True');
}

/** The STATUS, READY and RESTARTS cells of printPod (with sidecar containers, 1.29+). */
export function podStatusCells(pod: KObject, now: number): { ready: string; reason: string; restarts: string } {
  const spec = asObject(pod.spec);
  const status = asObject(pod.status);
  let restarts = 0;
  let restartableInitRestarts = 0;
  let totalContainers = asArray(spec.containers).length;
  let readyContainers = 0;
  let lastRestart: number | undefined;
  let lastRestartableInitRestart: number | undefined;
  const later = (a: number | undefined, b: number | undefined): number | undefined => (b === undefined ? a : a === undefined || b > a ? b : a);

  const phase = s(status.phase);
  let reason = phase;
  if (status.reason) reason = s(status.reason);
  for (const c of asArray(status.conditions)) {
    if (c?.type === 'PodScheduled' && c?.reason === 'SchedulingGated') reason = 'SchedulingGated';
  }

  const initContainers = new Map<string, KObject>();
  for (const c of asArray(spec.initContainers)) {
    initContainers.set(s(c?.name), c);
    if (c?.restartPolicy === 'Always') totalContainers++;
  }
  const isRestartable = (name: string): boolean => initContainers.get(name)?.restartPolicy === 'Always';

  let initializing = false;
  const initStatuses = asArray(status.initContainerStatuses);
  for (let i = 0; i < initStatuses.length; i++) {
    const c = asObject(initStatuses[i]);
    const state = asObject(c.state);
    const last = asObject(c.lastState);
    restarts += int(c.restartCount);
    const lastFinished = isObject(last.terminated) ? timestampMs(last.terminated.finishedAt) : undefined;
    lastRestart = later(lastRestart, lastFinished);
    if (isRestartable(s(c.name))) {
      restartableInitRestarts += int(c.restartCount);
      lastRestartableInitRestart = later(lastRestartableInitRestart, lastFinished);
    }
    const term = isObject(state.terminated) ? state.terminated : undefined;
    const waiting = isObject(state.waiting) ? state.waiting : undefined;
    if (term && int(term.exitCode) === 0) continue;
    if (isRestartable(s(c.name)) && c.started === true) {
      if (c.ready) readyContainers++;
      continue;
    }
    if (term) {
      if (!term.reason) reason = int(term.signal) !== 0 ? `Init:Signal:${int(term.signal)}` : `Init:ExitCode:${int(term.exitCode)}`;
      else reason = `Init:${s(term.reason)}`;
      initializing = true;
    } else if (waiting && waiting.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${s(waiting.reason)}`;
      initializing = true;
    } else {
      reason = `Init:${i}/${asArray(spec.initContainers).length}`;
      initializing = true;
    }
    break;
  }

  if (!initializing || isPodInitializedConditionTrue(status.conditions)) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    let hasRunning = false;
    const statuses = asArray(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = asObject(statuses[i]);
      const state = asObject(c.state);
      const last = asObject(c.lastState);
      restarts += int(c.restartCount);
      if (isObject(last.terminated)) lastRestart = later(lastRestart, timestampMs(last.terminated.finishedAt));
      if (isObject(state.waiting) && state.waiting.reason) reason = s(state.waiting.reason);
      else if (isObject(state.terminated) && state.terminated.reason) reason = s(state.terminated.reason);
      else if (isObject(state.terminated)) {
        reason = int(state.terminated.signal) !== 0 ? `Signal:${int(state.terminated.signal)}` : `ExitCode:${int(state.terminated.exitCode)}`;
      } else if (c.ready && isObject(state.running)) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = hasPodReadyCondition(status.conditions) ? 'Running' : 'NotReady';
  }

  const deleting = !!pod.metadata?.deletionTimestamp;
  if (deleting && status.reason === 'NodeLost') reason = 'Unknown';
  else if (deleting && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  const restartsStr = lastRestart !== undefined ? `${restarts} (${since(new Date(lastRestart).toISOString(), now)} ago)` : String(restarts);
  return { ready: `${readyContainers}/${totalContainers}`, reason, restarts: restartsStr };
}

export const POD_TABLE: Table = {
  columns: [
    nameCol(),
    col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'string', 'The aggregate status of the containers in this pod.'),
    col('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
    ageCol,
    col('IP', 'string', 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
    col('Node', 'string', 'NodeName indicates in which node this pod is scheduled.', 1),
    col('Nominated Node', 'string', 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.', 1),
    col('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
  ],
  row(pod, now) {
    const { ready, reason, restarts } = podStatusCells(pod, now);
    const status = asObject(pod.status);
    const podIP = s(asArray(status.podIPs)[0]?.ip) || s(status.podIP) || '<none>';
    const nodeName = s(pod.spec?.nodeName) || '<none>';
    const nominated = s(status.nominatedNodeName) || '<none>';
    let gates = '<none>';
    const rg = asArray(pod.spec?.readinessGates);
    if (rg.length > 0) {
      let trueConditions = 0;
      for (const g of rg) {
        const c = asArray(status.conditions).find((x) => x?.type === g?.conditionType);
        if (c?.status === 'True') trueConditions++;
      }
      gates = `${trueConditions}/${rg.length}`;
    }
    return [s(pod.metadata?.name), ready, reason, restarts, age(pod, now), podIP, nodeName, nominated, gates];
  },
};

// ------------------------------------------------------------------------ apps

export const DEPLOYMENT_TABLE: Table = {
  columns: [
    nameCol(),
    col('Ready', 'string', 'Number of the pod with ready state'),
    col('Up-to-date', 'string', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
    col('Available', 'string', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
    ageCol,
    CONTAINERS_COL,
    IMAGES_COL,
    col('Selector', 'string', 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', 1),
  ],
  row(d, now) {
    const st = asObject(d.status);
    const [names, images] = layoutContainerCells(d.spec?.template?.spec?.containers);
    return [s(d.metadata?.name), `${int(st.readyReplicas)}/${int(d.spec?.replicas)}`, int(st.updatedReplicas), int(st.availableReplicas), age(d, now), names, images, selectorString(d.spec?.selector)];
  },
};

export const REPLICA_SET_TABLE: Table = {
  columns: [
    nameCol(),
    col('Desired', 'integer', 'Replicas is the number of desired replicas.'),
    col('Current', 'integer', 'Replicas is the most recently observed number of replicas.'),
    col('Ready', 'integer', 'The number of ready replicas for this replica set.'),
    ageCol,
    CONTAINERS_COL,
    IMAGES_COL,
    col('Selector', 'string', 'Selector is a label query over pods that should match the replica count.', 1),
  ],
  row(rs, now) {
    const st = asObject(rs.status);
    const [names, images] = layoutContainerCells(rs.spec?.template?.spec?.containers);
    return [s(rs.metadata?.name), int(rs.spec?.replicas), int(st.replicas), int(st.readyReplicas), age(rs, now), names, images, formatLabelSelector(rs.spec?.selector)];
  },
};

export const DAEMON_SET_TABLE: Table = {
  columns: [
    nameCol(),
    col('Desired', 'integer', 'The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).'),
    col('Current', 'integer', 'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.'),
    col('Ready', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.'),
    col('Up-to-date', 'integer', 'The total number of nodes that are running updated daemon pod'),
    col('Available', 'integer', 'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)'),
    col('Node Selector', 'string', "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node."),
    ageCol,
    CONTAINERS_COL,
    IMAGES_COL,
    col('Selector', 'string', 'A label query over pods that are managed by the daemon set.', 1),
  ],
  row(ds, now) {
    const st = asObject(ds.status);
    const [names, images] = layoutContainerCells(ds.spec?.template?.spec?.containers);
    return [
      s(ds.metadata?.name),
      int(st.desiredNumberScheduled),
      int(st.currentNumberScheduled),
      int(st.numberReady),
      int(st.updatedNumberScheduled),
      int(st.numberAvailable),
      formatLabels(ds.spec?.template?.spec?.nodeSelector),
      age(ds, now),
      names,
      images,
      formatLabelSelector(ds.spec?.selector),
    ];
  },
};

// -------------------------------------------------------------------- services

const LOAD_BALANCER_WIDTH = 16;

function loadBalancerStatusString(lb: unknown, wide: boolean): string {
  const set = new Set<string>();
  for (const i of asArray(asObject(lb).ingress)) {
    if (i?.ip) set.add(s(i.ip));
    else if (i?.hostname) set.add(s(i.hostname));
  }
  let r = [...set].sort().join(',');
  if (!wide && r.length > LOAD_BALANCER_WIDTH) r = `${r.slice(0, LOAD_BALANCER_WIDTH - 3)}...`;
  return r;
}

/** getServiceExternalIP (the server prints with wide=true). */
export function serviceExternalIP(svc: KObject): string {
  const spec = asObject(svc.spec);
  const externalIPs = asArray<string>(spec.externalIPs);
  switch (spec.type) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = loadBalancerStatusString(svc.status?.loadBalancer, true);
      if (externalIPs.length > 0) return [...(lb ? lb.split(',') : []), ...externalIPs].join(',');
      return lb || '<pending>';
    }
    case 'ExternalName':
      return s(spec.externalName);
    default:
      return '<unknown>';
  }
}

export function servicePorts(ports: unknown): string {
  return asArray(ports)
    .map((p) => (int(p?.nodePort) > 0 ? `${int(p?.port)}:${int(p?.nodePort)}/${s(p?.protocol)}` : `${int(p?.port)}/${s(p?.protocol)}`))
    .join(',');
}

export const SERVICE_TABLE: Table = {
  columns: [
    nameCol(),
    col('Type', 'string', 'type determines how the Service is exposed. Defaults to ClusterIP.'),
    col('Cluster-IP', 'string', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
    col('External-IP', 'string', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
    col('Port(s)', 'string', 'The list of ports that are exposed by this service.'),
    ageCol,
    col('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', 1),
  ],
  row(svc, now) {
    const spec = asObject(svc.spec);
    const clusterIPs = asArray<string>(spec.clusterIPs);
    const internalIP = clusterIPs.length > 0 ? s(clusterIPs[0]) : '<none>';
    return [s(svc.metadata?.name), s(spec.type), internalIP, serviceExternalIP(svc), servicePorts(spec.ports) || '<none>', age(svc, now), formatLabels(spec.selector)];
  },
};

function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** formatEndpoints(endpoints, nil) */
export function formatEndpoints(ep: KObject): string {
  const subsets = asArray(ep.subsets);
  if (subsets.length === 0) return '<none>';
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const ports = asArray(ss?.ports);
    const addrs = asArray(ss?.addresses);
    if (ports.length === 0) {
      for (const a of addrs) {
        if (list.length === max) more = true;
        if (!more) list.push(s(a?.ip));
        count++;
      }
    } else {
      for (const p of ports) {
        for (const a of addrs) {
          if (list.length === max) more = true;
          if (!more) list.push(joinHostPort(s(a?.ip), int(p?.port)));
          count++;
        }
      }
    }
  }
  const ret = list.join(',');
  return more ? `${ret} + ${count - max} more...` : ret;
}

export const ENDPOINTS_TABLE: Table = {
  columns: [nameCol(), col('Endpoints', 'string', 'The set of all endpoints is the union of all subsets.'), ageCol],
  row: (ep, now) => [s(ep.metadata?.name), formatEndpoints(ep), age(ep, now)],
};

function listWithMore(list: string[], more: boolean, count: number, max: number): string {
  const ret = list.join(',');
  if (more) return `${ret} + ${count - max} more...`;
  return ret === '' ? '<unset>' : ret;
}

export const ENDPOINT_SLICE_TABLE: Table = {
  columns: [
    nameCol(),
    col('AddressType', 'string', 'addressType specifies the type of address carried by this EndpointSlice.'),
    col('Ports', 'string', 'ports specifies the list of network ports exposed by each endpoint in this slice.'),
    col('Endpoints', 'string', 'endpoints is a list of unique endpoints in this slice.'),
    ageCol,
  ],
  row(es, now) {
    const max = 3;
    const ports: string[] = [];
    let pMore = false;
    let pCount = 0;
    for (const p of asArray(es.ports)) {
      if (ports.length < max) ports.push(p?.port !== undefined && p?.port !== null ? String(int(p.port)) : p?.name !== undefined && p?.name !== null ? s(p.name) : '*');
      else if (ports.length === max) pMore = true;
      pCount++;
    }
    const addrs: string[] = [];
    let aMore = false;
    let aCount = 0;
    for (const e of asArray(es.endpoints)) {
      for (const a of asArray<string>(e?.addresses)) {
        if (addrs.length < max) addrs.push(s(a));
        else if (addrs.length === max) aMore = true;
        aCount++;
      }
    }
    return [s(es.metadata?.name), s(es.addressType), listWithMore(ports, pMore, pCount, max), listWithMore(addrs, aMore, aCount, max), age(es, now)];
  },
};

// ----------------------------------------------------------------------- nodes

export function nodeStatus(node: KObject): string {
  const status: string[] = [];
  const ready = asArray(node.status?.conditions).filter((c) => c?.type === 'Ready').pop();
  if (ready) status.push(ready.status === 'True' ? 'Ready' : 'NotReady');
  if (status.length === 0) status.push('Unknown');
  if (node.spec?.unschedulable === true) status.push('SchedulingDisabled');
  return status.join(',');
}

export function nodeRoles(node: KObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(asObject(node.metadata?.labels))) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && v !== '') {
      roles.add(s(v));
    }
  }
  return [...roles].sort().join(',') || '<none>';
}

function nodeAddress(node: KObject, type: string): string {
  return s(asArray(node.status?.addresses).find((a) => a?.type === type)?.address) || '<none>';
}

export const NODE_TABLE: Table = {
  columns: [
    nameCol(),
    col('Status', 'string', 'The status of the node'),
    col('Roles', 'string', 'The roles of the node'),
    ageCol,
    col('Version', 'string', 'Kubelet Version reported by the node.'),
    col('Internal-IP', 'string', 'List of addresses reachable to the node.', 1),
    col('External-IP', 'string', 'List of addresses reachable to the node.', 1),
    col('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
    col('Kernel-Version', 'string', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
    col('Container-Runtime', 'string', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
  ],
  row(node, now) {
    const info = asObject(node.status?.nodeInfo);
    return [
      s(node.metadata?.name),
      nodeStatus(node),
      nodeRoles(node),
      age(node, now),
      s(info.kubeletVersion),
      nodeAddress(node, 'InternalIP'),
      nodeAddress(node, 'ExternalIP'),
      s(info.osImage) || '<unknown>',
      s(info.kernelVersion) || '<unknown>',
      s(info.containerRuntimeVersion) || '<unknown>',
    ];
  },
};

// ---------------------------------------------------------------------- events

export const EVENT_TABLE: Table = {
  columns: [
    col('Last Seen', 'string', 'The time at which the most recent occurrence of this event was recorded.'),
    col('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future'),
    col('Reason', 'string', "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    col('Object', 'string', 'The object that this event is about.'),
    col('Subobject', 'string', 'If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].', 1),
    col('Source', 'string', 'The component reporting this event. Should be a short machine understandable string.', 1),
    col('Message', 'string', 'A human-readable description of the status of this operation.'),
    col('First Seen', 'string', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)', 1),
    col('Count', 'string', 'The number of times this event has occurred.', 1),
    nameCol(1),
  ],
  row(ev, now) {
    let first = since(ev.firstTimestamp, now);
    if (timestampMs(ev.firstTimestamp) === undefined) first = since(ev.eventTime, now);
    let last = since(ev.lastTimestamp, now);
    if (timestampMs(ev.lastTimestamp) === undefined) last = first;
    let count = int(ev.count);
    if (isObject(ev.series)) {
      last = since(ev.series.lastObservedTime, now);
      count = int(ev.series.count);
    } else if (count === 0) {
      count = 1;
    }
    const io = asObject(ev.involvedObject);
    const kind = s(io.kind).toLowerCase();
    const target = io.name ? `${kind}/${s(io.name)}` : kind;
    const src = asObject(ev.source);
    const component = s(src.component) || s(ev.reportingComponent);
    const instance = s(src.host) || s(ev.reportingInstance);
    const source = instance ? `${component}, ${instance}` : component;
    return [last, s(ev.type), s(ev.reason), target, s(io.fieldPath), source, s(ev.message).trim(), first, count, s(ev.metadata?.name)];
  },
};

// ----------------------------------------------------------------- small kinds

export const NAMESPACE_TABLE: Table = {
  columns: [nameCol(), col('Status', 'string', 'The status of the namespace'), ageCol],
  row: (ns, now) => [s(ns.metadata?.name), s(ns.status?.phase), age(ns, now)],
};

export const CONFIG_MAP_TABLE: Table = {
  columns: [nameCol(), col('Data', 'string', 'Data contains the configuration data.'), ageCol],
  row: (cm, now) => [s(cm.metadata?.name), Object.keys(asObject(cm.data)).length + Object.keys(asObject(cm.binaryData)).length, age(cm, now)],
};

export const SECRET_TABLE: Table = {
  columns: [nameCol(), col('Type', 'string', 'Used to facilitate programmatic handling of secret data.'), col('Data', 'string', 'Data contains the secret data.'), ageCol],
  row: (sec, now) => [s(sec.metadata?.name), s(sec.type), Object.keys(asObject(sec.data)).length, age(sec, now)],
};

export const SERVICE_ACCOUNT_TABLE: Table = {
  columns: [nameCol(), col('Secrets', 'string', 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.'), ageCol],
  row: (sa, now) => [s(sa.metadata?.name), asArray(sa.secrets).length, age(sa, now)],
};

export const LEASE_TABLE: Table = {
  columns: [nameCol(), col('Holder', 'string', 'holderIdentity contains the identity of the holder of a current lease.'), ageCol],
  row: (l, now) => [s(l.metadata?.name), s(l.spec?.holderIdentity), age(l, now)],
};

/** The default table of the API server for kinds without a printer. */
export const DEFAULT_TABLE: Table = {
  columns: [nameCol(), ageCol],
  row: (o, now) => [s(o.metadata?.name), age(o, now)],
};
