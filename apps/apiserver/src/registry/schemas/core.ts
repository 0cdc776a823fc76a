// core/v1 schemas: Pod and its PodSpec, Service, Endpoints, Node, Namespace,
// ConfigMap, Secret, Event, ServiceAccount, Binding. Field names, list merge
// keys and strategies follow k8s.io/api/core/v1/types.go.
import type { ObjectSchema } from '@kubets/api-machinery';
import {
  bool,
  freeform,
  int,
  intOrString,
  list,
  map,
  mapList,
  mergeList,
  obj,
  quantity,
  quantityMap,
  str,
  stringMap,
  time,
} from './builders';
import { LABEL_SELECTOR, LOCAL_OBJECT_REFERENCE, META_CONDITION, OBJECT_META, OBJECT_REFERENCE, topLevel } from './meta';

// ------------------------------------------------------------------ containers

const CONFIG_MAP_KEY_SELECTOR = obj({ name: str('Name of the referent.'), key: str('The key to select.'), optional: bool('Specify whether the ConfigMap or its key must be defined') }, { required: ['key'] });
const SECRET_KEY_SELECTOR = obj({ name: str('Name of the referent.'), key: str('The key of the secret to select from.'), optional: bool('Specify whether the Secret or its key must be defined') }, { required: ['key'] });
const OBJECT_FIELD_SELECTOR = obj({ apiVersion: str('Version of the schema the FieldPath is written in terms of, defaults to "v1".'), fieldPath: str('Path of the field to select in the specified API version.') }, { required: ['fieldPath'] });
const RESOURCE_FIELD_SELECTOR = obj(
  { containerName: str('Container name: required for volumes, optional for env vars'), resource: str('Required: resource to select'), divisor: quantity('Specifies the output format of the exposed resources, defaults to "1"') },
  { required: ['resource'] },
);

export const ENV_VAR = obj(
  {
    name: str('Name of the environment variable.'),
    value: str('Variable references $(VAR_NAME) are expanded using the previously defined environment variables in the container.'),
    valueFrom: obj(
      {
        fieldRef: OBJECT_FIELD_SELECTOR,
        resourceFieldRef: RESOURCE_FIELD_SELECTOR,
        configMapKeyRef: CONFIG_MAP_KEY_SELECTOR,
        secretKeyRef: SECRET_KEY_SELECTOR,
        fileKeyRef: freeform('FileKeyRef selects a key of the env file.'),
      },
      { description: "Source for the environment variable's value. Cannot be used if value is not empty." },
    ),
  },
  { required: ['name'], description: 'EnvVar represents an environment variable present in a Container.' },
);

const ENV_FROM_SOURCE = obj({
  prefix: str('Optional text to prepend to the name of each environment variable.'),
  configMapRef: obj({ name: str('Name of the referent.'), optional: bool('Specify whether the ConfigMap must be defined') }),
  secretRef: obj({ name: str('Name of the referent.'), optional: bool('Specify whether the Secret must be defined') }),
});

export const CONTAINER_PORT = obj(
  {
    name: str('If specified, this must be an IANA_SVC_NAME and unique within the pod.'),
    hostPort: int('Number of port to expose on the host.'),
    containerPort: int("Number of port to expose on the pod's IP address. This must be a valid port number, 0 < x < 65536."),
    protocol: str('Protocol for port. Must be UDP, TCP, or SCTP. Defaults to "TCP".'),
    hostIP: str('What host IP to bind the external port to.'),
  },
  { required: ['containerPort'] },
);

const HTTP_HEADER = obj({ name: str('The header field name.'), value: str('The header field value') }, { required: ['name', 'value'] });
const EXEC_ACTION = obj({ command: list(str(), 'Command is the command line to execute inside the container.') });
const HTTP_GET_ACTION = obj(
  {
    path: str('Path to access on the HTTP server.'),
    port: intOrString('Name or number of the port to access on the container.'),
    host: str('Host name to connect to, defaults to the pod IP.'),
    scheme: str('Scheme to use for connecting to the host. Defaults to HTTP.'),
    httpHeaders: list(HTTP_HEADER, 'Custom headers to set in the request.'),
  },
  { required: ['port'] },
);
const TCP_SOCKET_ACTION = obj({ port: intOrString('Number or name of the port to access on the container.'), host: str('Optional: Host name to connect to, defaults to the pod IP.') }, { required: ['port'] });
const GRPC_ACTION = obj({ port: int('Port number of the gRPC service.'), service: str('Service is the name of the service to place in the gRPC HealthCheckRequest.') }, { required: ['port'] });
const SLEEP_ACTION = obj({ seconds: int('Seconds is the number of seconds to sleep.') }, { required: ['seconds'] });

export const PROBE = obj(
  {
    exec: EXEC_ACTION,
    httpGet: HTTP_GET_ACTION,
    tcpSocket: TCP_SOCKET_ACTION,
    grpc: GRPC_ACTION,
    initialDelaySeconds: int('Number of seconds after the container has started before liveness probes are initiated.'),
    timeoutSeconds: int('Number of seconds after which the probe times out. Defaults to 1 second.'),
    periodSeconds: int('How often (in seconds) to perform the probe. Default to 10 seconds.'),
    successThreshold: int('Minimum consecutive successes for the probe to be considered successful after having failed. Defaults to 1.'),
    failureThreshold: int('Minimum consecutive failures for the probe to be considered failed after having succeeded. Defaults to 3.'),
    terminationGracePeriodSeconds: int('Optional duration in seconds the pod needs to terminate gracefully upon probe failure.'),
  },
  { description: 'Probe describes a health check to be performed against a container to determine whether it is alive or ready to receive traffic.' },
);

const LIFECYCLE_HANDLER = obj({ exec: EXEC_ACTION, httpGet: HTTP_GET_ACTION, tcpSocket: TCP_SOCKET_ACTION, sleep: SLEEP_ACTION });
const LIFECYCLE = obj({ postStart: LIFECYCLE_HANDLER, preStop: LIFECYCLE_HANDLER, stopSignal: str('StopSignal defines which signal will be sent to a container when it is being stopped.') });

const SE_LINUX_OPTIONS = obj({ user: str(), role: str(), type: str(), level: str() });
const WINDOWS_OPTIONS = obj({ gmsaCredentialSpecName: str(), gmsaCredentialSpec: str(), runAsUserName: str(), hostProcess: bool() });
const SECCOMP_PROFILE = obj({ type: str('type indicates which kind of seccomp profile will be applied.'), localhostProfile: str() }, { required: ['type'] });
const APPARMOR_PROFILE = obj({ type: str('type indicates which kind of AppArmor profile will be applied.'), localhostProfile: str() }, { required: ['type'] });

export const SECURITY_CONTEXT = obj(
  {
    capabilities: obj({ add: list(str(), 'Added capabilities'), drop: list(str(), 'Removed capabilities') }),
    privileged: bool('Run container in privileged mode.'),
    seLinuxOptions: SE_LINUX_OPTIONS,
    windowsOptions: WINDOWS_OPTIONS,
    runAsUser: int('The UID to run the entrypoint of the container process.'),
    runAsGroup: int('The GID to run the entrypoint of the container process.'),
    runAsNonRoot: bool('Indicates that the container must run as a non-root user.'),
    readOnlyRootFilesystem: bool('Whether this container has a read-only root filesystem.'),
    allowPrivilegeEscalation: bool('AllowPrivilegeEscalation controls whether a process can gain more privileges than its parent process.'),
    procMount: str('procMount denotes the type of proc mount to use for the containers.'),
    seccompProfile: SECCOMP_PROFILE,
    appArmorProfile: APPARMOR_PROFILE,
  },
  { description: 'SecurityContext holds security configuration that will be applied to a container.' },
);

export const POD_SECURITY_CONTEXT = obj(
  {
    seLinuxOptions: SE_LINUX_OPTIONS,
    windowsOptions: WINDOWS_OPTIONS,
    runAsUser: int(),
    runAsGroup: int(),
    runAsNonRoot: bool(),
    supplementalGroups: list(int()),
    supplementalGroupsPolicy: str(),
    fsGroup: int(),
    fsGroupChangePolicy: str(),
    sysctls: list(obj({ name: str(), value: str() }, { required: ['name', 'value'] })),
    seccompProfile: SECCOMP_PROFILE,
    appArmorProfile: APPARMOR_PROFILE,
    seLinuxChangePolicy: str(),
  },
  { description: 'PodSecurityContext holds pod-level security attributes and common container settings.' },
);

export const RESOURCE_REQUIREMENTS = obj({
  limits: quantityMap('Limits describes the maximum amount of compute resources allowed.'),
  requests: quantityMap('Requests describes the minimum amount of compute resources required.'),
  claims: mapList(obj({ name: str(), request: str() }, { required: ['name'] }), ['name'], 'Claims lists the names of resources, defined in spec.resourceClaims, that are used by this container.'),
});

export const VOLUME_MOUNT = obj(
  {
    name: str('This must match the Name of a Volume.'),
    readOnly: bool('Mounted read-only if true, read-write otherwise (false or unspecified).'),
    recursiveReadOnly: str('RecursiveReadOnly specifies whether read-only mounts should be handled recursively.'),
    mountPath: str("Path within the container at which the volume should be mounted. Must not contain ':'."),
    subPath: str("Path within the volume from which the container's volume should be mounted."),
    mountPropagation: str('mountPropagation determines how mounts are propagated from the host to container and the other way around.'),
    subPathExpr: str("Expanded path within the volume from which the container's volume should be mounted."),
  },
  { required: ['name', 'mountPath'] },
);

function containerProps() {
  return {
    name: str('Name of the container specified as a DNS_LABEL.'),
    image: str('Container image name.'),
    command: list(str(), 'Entrypoint array. Not executed within a shell.'),
    args: list(str(), 'Arguments to the entrypoint.'),
    workingDir: str("Container's working directory."),
    ports: mergeList(CONTAINER_PORT, 'containerPort', { listMapKeys: ['containerPort', 'protocol'], description: 'List of ports to expose from the container.' }),
    envFrom: list(ENV_FROM_SOURCE, 'List of sources to populate environment variables in the container.'),
    env: mergeList(ENV_VAR, 'name', { description: 'List of environment variables to set in the container.' }),
    resources: RESOURCE_REQUIREMENTS,
    resizePolicy: list(obj({ resourceName: str(), restartPolicy: str() }, { required: ['resourceName', 'restartPolicy'] }), 'Resources resize policy for the container.'),
    restartPolicy: str('RestartPolicy defines the restart behavior of individual containers in a pod (init containers: "Always" makes a sidecar).'),
    volumeMounts: mergeList(VOLUME_MOUNT, 'mountPath', { description: "Pod volumes to mount into the container's filesystem." }),
    volumeDevices: mergeList(obj({ name: str(), devicePath: str() }, { required: ['name', 'devicePath'] }), 'devicePath', { description: 'volumeDevices is the list of block devices to be used by the container.' }),
    livenessProbe: PROBE,
    readinessProbe: PROBE,
    startupProbe: PROBE,
    lifecycle: LIFECYCLE,
    terminationMessagePath: str("Path at which the file to which the container's termination message will be written is mounted into the container's filesystem."),
    terminationMessagePolicy: str('Indicate how the termination message should be populated.'),
    imagePullPolicy: str('Image pull policy. One of Always, Never, IfNotPresent.'),
    securityContext: SECURITY_CONTEXT,
    stdin: bool('Whether this container should allocate a buffer for stdin in the container runtime.'),
    stdinOnce: bool('Whether the container runtime should close the stdin channel after it has been opened by a single attach.'),
    tty: bool('Whether this container should allocate a TTY for itself, also requires \'stdin\' to be true.'),
  };
}

export const CONTAINER = obj(containerProps(), { required: ['name'], description: 'A single application container that you want to run within a pod.' });
const EPHEMERAL_CONTAINER = obj({ ...containerProps(), targetContainerName: str('If set, the name of the container from PodSpec that this ephemeral container targets.') }, { required: ['name'] });

// --------------------------------------------------------------------- volumes

const KEY_TO_PATH = obj({ key: str('key is the key to project.'), path: str('path is the relative path of the file to map the key to.'), mode: int('mode is Optional: mode bits used to set permissions on this file.') }, { required: ['key', 'path'] });
const DOWNWARD_API_VOLUME_FILE = obj(
  { path: str(), fieldRef: OBJECT_FIELD_SELECTOR, resourceFieldRef: RESOURCE_FIELD_SELECTOR, mode: int() },
  { required: ['path'] },
);
const CONFIG_MAP_PROJECTION = obj({ name: str(), items: list(KEY_TO_PATH), optional: bool() });
const SECRET_PROJECTION = obj({ name: str(), items: list(KEY_TO_PATH), optional: bool() });

export const VOLUME_SOURCES: Record<string, ObjectSchema> = {
  emptyDir: obj({ medium: str('medium represents what type of storage medium should back this directory.'), sizeLimit: quantity('sizeLimit is the total amount of local storage required for this EmptyDir volume.') }),
  hostPath: obj({ path: str('path of the directory on the host.'), type: str('type for HostPath Volume. Defaults to "".') }, { required: ['path'] }),
  configMap: obj({ name: str(), items: list(KEY_TO_PATH), defaultMode: int('defaultMode is optional: mode bits used to set permissions on created files by default.'), optional: bool() }),
  secret: obj({ secretName: str("secretName is the name of the secret in the pod's namespace to use."), items: list(KEY_TO_PATH), defaultMode: int(), optional: bool() }),
  persistentVolumeClaim: obj({ claimName: str('claimName is the name of a PersistentVolumeClaim in the same namespace as the pod using this volume.'), readOnly: bool() }, { required: ['claimName'] }),
  projected: obj({
    sources: list(
      obj({
        secret: SECRET_PROJECTION,
        configMap: CONFIG_MAP_PROJECTION,
        downwardAPI: obj({ items: list(DOWNWARD_API_VOLUME_FILE) }),
        serviceAccountToken: obj({ audience: str(), expirationSeconds: int(), path: str() }, { required: ['path'] }),
        clusterTrustBundle: freeform(),
        podCertificate: freeform(),
      }),
      'sources is the list of volume projections.',
    ),
    defaultMode: int(),
  }),
  downwardAPI: obj({ items: list(DOWNWARD_API_VOLUME_FILE), defaultMode: int() }),
  nfs: obj({ server: str(), path: str(), readOnly: bool() }, { required: ['server', 'path'] }),
  csi: obj({ driver: str(), readOnly: bool(), fsType: str(), volumeAttributes: stringMap(), nodePublishSecretRef: LOCAL_OBJECT_REFERENCE }, { required: ['driver'] }),
  ephemeral: obj({ volumeClaimTemplate: obj({ metadata: OBJECT_META, spec: freeform() }, { required: ['spec'] }) }),
  image: obj({ reference: str(), pullPolicy: str() }),
  // Legacy and in-tree cloud volume types: accepted, not described in detail.
  gcePersistentDisk: freeform(),
  awsElasticBlockStore: freeform(),
  gitRepo: freeform(),
  iscsi: freeform(),
  glusterfs: freeform(),
  rbd: freeform(),
  flexVolume: freeform(),
  cinder: freeform(),
  cephfs: freeform(),
  flocker: freeform(),
  fc: freeform(),
  azureFile: freeform(),
  azureDisk: freeform(),
  vsphereVolume: freeform(),
  quobyte: freeform(),
  photonPersistentDisk: freeform(),
  portworxVolume: freeform(),
  scaleIO: freeform(),
  storageos: freeform(),
};

export const VOLUME = obj({ name: str('name of the volume. Must be a DNS_LABEL and unique within the pod.'), ...VOLUME_SOURCES }, { required: ['name'], description: 'Volume represents a named volume in a pod that may be accessed by any container in the pod.' });

// --------------------------------------------------------------------- PodSpec

export const TOLERATION = obj({
  key: str('Key is the taint key that the toleration applies to. Empty means match all taint keys.'),
  operator: str("Operator represents a key's relationship to the value. Valid operators are Exists and Equal. Defaults to Equal."),
  value: str('Value is the taint value the toleration matches to.'),
  effect: str('Effect indicates the taint effect to match. Empty means match all taint effects.'),
  tolerationSeconds: int('TolerationSeconds represents the period of time the toleration (which must be of effect NoExecute, otherwise this field is ignored) tolerates the taint.'),
});

const TOPOLOGY_SPREAD_CONSTRAINT = obj(
  {
    maxSkew: int(),
    topologyKey: str(),
    whenUnsatisfiable: str(),
    labelSelector: LABEL_SELECTOR,
    minDomains: int(),
    nodeAffinityPolicy: str(),
    nodeTaintsPolicy: str(),
    matchLabelKeys: list(str()),
  },
  { required: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'] },
);

export const AFFINITY = obj(
  {
    nodeAffinity: freeform('Describes node affinity scheduling rules for the pod.'),
    podAffinity: freeform('Describes pod affinity scheduling rules.'),
    podAntiAffinity: freeform('Describes pod anti-affinity scheduling rules.'),
  },
  { description: 'If specified, the pod\'s scheduling constraints' },
);

export const POD_SPEC = obj(
  {
    volumes: mergeList(VOLUME, 'name', { retainKeys: true, description: 'List of volumes that can be mounted by containers belonging to the pod.' }),
    initContainers: mergeList(CONTAINER, 'name', { description: 'List of initialization containers belonging to the pod.' }),
    containers: mergeList(CONTAINER, 'name', { description: 'List of containers belonging to the pod.' }),
    ephemeralContainers: mergeList(EPHEMERAL_CONTAINER, 'name', { description: 'List of ephemeral containers run in this pod.' }),
    restartPolicy: str('Restart policy for all containers within the pod. One of Always, OnFailure, Never.'),
    terminationGracePeriodSeconds: int('Optional duration in seconds the pod needs to terminate gracefully.'),
    activeDeadlineSeconds: int('Optional duration in seconds the pod may be active on the node relative to StartTime before the system will actively try to mark it failed and kill associated containers.'),
    dnsPolicy: str("Set DNS policy for the pod. Defaults to \"ClusterFirst\"."),
    nodeSelector: stringMap("NodeSelector is a selector which must be true for the pod to fit on a node."),
    serviceAccountName: str('ServiceAccountName is the name of the ServiceAccount to use to run this pod.'),
    serviceAccount: str('DeprecatedServiceAccount is a deprecated alias for ServiceAccountName.'),
    automountServiceAccountToken: bool('AutomountServiceAccountToken indicates whether a service account token should be automatically mounted.'),
    nodeName: str('NodeName indicates in which node this pod is scheduled.'),
    hostNetwork: bool("Host networking requested for this pod."),
    hostPID: bool("Use the host's pid namespace."),
    hostIPC: bool("Use the host's ipc namespace."),
    shareProcessNamespace: bool('Share a single process namespace between all of the containers in a pod.'),
    securityContext: POD_SECURITY_CONTEXT,
    imagePullSecrets: mergeList(LOCAL_OBJECT_REFERENCE, 'name', { description: 'ImagePullSecrets is an optional list of references to secrets in the same namespace to use for pulling any of the images used by this PodSpec.' }),
    hostname: str("Specifies the hostname of the Pod. If not specified, the pod's hostname will be set to a system-defined value."),
    subdomain: str('If specified, the fully qualified Pod hostname will be "<hostname>.<subdomain>.<pod namespace>.svc.<cluster domain>".'),
    affinity: AFFINITY,
    schedulerName: str('If specified, the pod will be dispatched by specified scheduler.'),
    tolerations: list(TOLERATION, "If specified, the pod's tolerations."),
    hostAliases: mergeList(obj({ ip: str('IP address of the host file entry.'), hostnames: list(str(), 'Hostnames for the above IP address.') }, { required: ['ip'] }), 'ip', { description: "HostAliases is an optional list of hosts and IPs that will be injected into the pod's hosts file if specified." }),
    priorityClassName: str('If specified, indicates the pod\'s priority.'),
    priority: int('The priority value.'),
    dnsConfig: obj({ nameservers: list(str()), searches: list(str()), options: list(obj({ name: str(), value: str() })) }),
    readinessGates: list(obj({ conditionType: str("ConditionType refers to a condition in the pod's condition list with matching type.") }, { required: ['conditionType'] }), 'If specified, all readiness gates will be evaluated for pod readiness.'),
    runtimeClassName: str('RuntimeClassName refers to a RuntimeClass object in the node.k8s.io group.'),
    enableServiceLinks: bool("EnableServiceLinks indicates whether information about services should be injected into pod's environment variables."),
    preemptionPolicy: str('PreemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority.'),
    overhead: quantityMap('Overhead represents the resource overhead associated with running a pod for a given RuntimeClass.'),
    topologySpreadConstraints: mergeList(TOPOLOGY_SPREAD_CONSTRAINT, 'topologyKey', { listMapKeys: ['topologyKey', 'whenUnsatisfiable'], description: 'TopologySpreadConstraints describes how a group of pods ought to spread across topology domains.' }),
    setHostnameAsFQDN: bool("If true the pod's hostname will be configured as the pod's FQDN, rather than the leaf name (the default)."),
    os: obj({ name: str('Name is the name of the operating system. The currently supported values are linux and windows.') }, { required: ['name'] }),
    hostUsers: bool('Use the host\'s user namespace.'),
    schedulingGates: mergeList(obj({ name: str() }, { required: ['name'] }), 'name', { description: 'SchedulingGates is an opaque list of values that if specified will block scheduling the pod.' }),
    resourceClaims: mergeList(obj({ name: str(), resourceClaimName: str(), resourceClaimTemplateName: str() }, { required: ['name'] }), 'name', { retainKeys: true }),
    resources: RESOURCE_REQUIREMENTS,
  },
  { required: ['containers'], description: 'PodSpec is a description of a pod.' },
);

export const POD_TEMPLATE_SPEC = obj(
  { metadata: OBJECT_META, spec: POD_SPEC },
  { description: 'PodTemplateSpec describes the data a pod should have when created from a template' },
);

// ------------------------------------------------------------------- PodStatus

const CONTAINER_STATE = obj({
  waiting: obj({ reason: str('(brief) reason the container is not yet running.'), message: str('Message regarding why the container is not yet running.') }),
  running: obj({ startedAt: time('Time at which the container was last (re-)started') }),
  terminated: obj({
    exitCode: int('Exit status from the last termination of the container'),
    signal: int('Signal from the last termination of the container'),
    reason: str('(brief) reason from the last termination of the container'),
    message: str('Message regarding the last termination of the container'),
    startedAt: time('Time at which previous execution of the container started'),
    finishedAt: time('Time at which the container last terminated'),
    containerID: str("Container's ID in the format '<type>://<container_id>'"),
  }),
});

export const CONTAINER_STATUS = obj(
  {
    name: str('Name is a DNS_LABEL representing the unique name of the container.'),
    state: CONTAINER_STATE,
    lastState: CONTAINER_STATE,
    ready: bool('Ready specifies whether the container is currently passing its readiness check.'),
    restartCount: int('RestartCount holds the number of times the container has been restarted.'),
    image: str('Image is the name of container image that the container is running.'),
    imageID: str("ImageID is the image ID of the container's image."),
    containerID: str("ContainerID is the ID of the container in the format '<type>://<container_id>'."),
    started: bool('Started indicates whether the container has finished its postStart lifecycle hook and passed its startup probe.'),
    allocatedResources: quantityMap('AllocatedResources represents the compute resources allocated for this container by the node.'),
    resources: RESOURCE_REQUIREMENTS,
    volumeMounts: mapList(obj({ name: str(), mountPath: str(), readOnly: bool(), recursiveReadOnly: str() }), ['mountPath'], 'Status of volume mounts.'),
    user: freeform('User represents user identity information initially attached to the first process of the container'),
    allocatedResourcesStatus: list(freeform(), 'AllocatedResourcesStatus represents the status of various resources allocated for this Pod.'),
    stopSignal: str('StopSignal reports the effective stop signal for this container'),
  },
  { description: 'ContainerStatus contains details for the current status of this container.' },
);

const POD_CONDITION = obj({
  type: str('Type is the type of the condition.'),
  observedGeneration: int(),
  status: str('Status is the status of the condition. Can be True, False, Unknown.'),
  lastProbeTime: time('Last time we probed the condition.'),
  lastTransitionTime: time('Last time the condition transitioned from one status to another.'),
  reason: str("Unique, one-word, CamelCase reason for the condition's last transition."),
  message: str('Human-readable message indicating details about last transition.'),
});

const IP_ENTRY = obj({ ip: str('IP is the IP address assigned to the pod or host.') }, { required: ['ip'] });

export const POD_STATUS = obj(
  {
    observedGeneration: int(),
    phase: str('The phase of a Pod is a simple, high-level summary of where the Pod is in its lifecycle. One of Pending, Running, Succeeded, Failed, Unknown.'),
    conditions: mergeList(POD_CONDITION, 'type', { description: 'Current service state of pod.' }),
    message: str('A human readable message indicating details about why the pod is in this condition.'),
    reason: str("A brief CamelCase message indicating details about why the pod is in this state. e.g. 'Evicted'"),
    nominatedNodeName: str('nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.'),
    hostIP: str('hostIP holds the IP address of the host to which the pod is assigned.'),
    hostIPs: mergeList(IP_ENTRY, 'ip', { listType: 'atomic', description: 'hostIPs holds the IP addresses allocated to the host.' }),
    podIP: str('podIP address allocated to the pod.'),
    podIPs: mergeList(IP_ENTRY, 'ip', { description: 'podIPs holds the IP addresses allocated to the pod.' }),
    startTime: time('RFC 3339 date and time at which the object was acknowledged by the Kubelet.'),
    initContainerStatuses: list(CONTAINER_STATUS, 'Statuses of init containers in this pod.'),
    containerStatuses: list(CONTAINER_STATUS, 'Statuses of containers in this pod.'),
    qosClass: str('The Quality of Service (QOS) classification assigned to the pod based on resource requirements.'),
    ephemeralContainerStatuses: list(CONTAINER_STATUS, 'Statuses for any ephemeral containers that have run in this pod.'),
    resize: str('Status of resources resize desired for pod\'s containers.'),
    resourceClaimStatuses: mergeList(obj({ name: str(), resourceClaimName: str() }, { required: ['name'] }), 'name', { retainKeys: true }),
  },
  { description: 'PodStatus represents information about the status of a pod.' },
);

export const POD = topLevel('Pod is a collection of containers that can run on a host.', { spec: POD_SPEC, status: POD_STATUS });

export const POD_TEMPLATE = topLevel('PodTemplate describes a template for creating copies of a predefined pod.', { template: POD_TEMPLATE_SPEC });

// ---------------------------------------------------------------------- Service

export const SERVICE_PORT = obj(
  {
    name: str('The name of this port within the service. This must be a DNS_LABEL.'),
    protocol: str('The IP protocol for this port. Supports "TCP", "UDP", and "SCTP". Default is TCP.'),
    appProtocol: str('The application protocol for this port.'),
    port: int('The port that will be exposed by this service.'),
    targetPort: intOrString('Number or name of the port to access on the pods targeted by the service.'),
    nodePort: int('The port on each node on which this service is exposed when type is NodePort or LoadBalancer.'),
  },
  { required: ['port'] },
);

const LOAD_BALANCER_STATUS = obj({
  ingress: list(
    obj({
      ip: str('IP is set for load-balancer ingress points that are IP based.'),
      hostname: str('Hostname is set for load-balancer ingress points that are DNS based.'),
      ipMode: str('IPMode specifies how the load-balancer IP behaves.'),
      ports: list(obj({ port: int(), protocol: str(), error: str() }, { required: ['port', 'protocol'] })),
    }),
    'Ingress is a list containing ingress points for the load-balancer.',
  ),
});

export const SERVICE = topLevel('Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.', {
  spec: obj({
    ports: mergeList(SERVICE_PORT, 'port', { listMapKeys: ['port', 'protocol'], description: 'The list of ports that are exposed by this service.' }),
    selector: stringMap('Route service traffic to pods with label keys and values matching this selector.'),
    clusterIP: str('clusterIP is the IP address of the service and is usually assigned randomly.'),
    clusterIPs: list(str(), 'ClusterIPs is a list of IP addresses assigned to this service, and are usually assigned randomly.'),
    type: str('type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.'),
    externalIPs: list(str(), 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
    sessionAffinity: str('Supports "ClientIP" and "None". Used to maintain session affinity.'),
    loadBalancerIP: str('Only applies to Service Type: LoadBalancer.'),
    loadBalancerSourceRanges: list(str()),
    externalName: str('externalName is the external reference that discovery mechanisms will return as an alias for this service (e.g. a DNS CNAME record).'),
    externalTrafficPolicy: str('externalTrafficPolicy describes how nodes distribute service traffic they receive on one of the Service\'s "externally-facing" addresses.'),
    healthCheckNodePort: int('healthCheckNodePort specifies the healthcheck nodePort for the service.'),
    publishNotReadyAddresses: bool('publishNotReadyAddresses indicates that any agent which deals with endpoints for this Service should disregard any indications of ready/not-ready.'),
    sessionAffinityConfig: obj({ clientIP: obj({ timeoutSeconds: int('timeoutSeconds specifies the seconds of ClientIP type session sticky time.') }) }),
    ipFamilies: list(str(), 'IPFamilies is a list of IP families (e.g. IPv4, IPv6) assigned to this service.'),
    ipFamilyPolicy: str('IPFamilyPolicy represents the dual-stack-ness requested or required by this Service.'),
    allocateLoadBalancerNodePorts: bool(),
    loadBalancerClass: str(),
    internalTrafficPolicy: str('InternalTrafficPolicy describes how nodes distribute service traffic they receive on the ClusterIP.'),
    trafficDistribution: str(),
  }),
  status: obj({
    loadBalancer: LOAD_BALANCER_STATUS,
    conditions: mergeList(META_CONDITION, 'type', { description: 'Current service state' }),
  }),
});

// -------------------------------------------------------------------- Endpoints

const ENDPOINT_ADDRESS = obj(
  { ip: str('The IP of this endpoint.'), hostname: str('The Hostname of this endpoint'), nodeName: str('Optional: Node hosting this endpoint.'), targetRef: OBJECT_REFERENCE },
  { required: ['ip'] },
);

export const ENDPOINTS = topLevel('Endpoints is a collection of endpoints that implement the actual service.', {
  subsets: list(
    obj({
      addresses: list(ENDPOINT_ADDRESS, 'IP addresses which offer the related ports that are marked as ready.'),
      notReadyAddresses: list(ENDPOINT_ADDRESS, 'IP addresses which offer the related ports but are not currently marked as ready.'),
      ports: list(obj({ name: str(), port: int(), protocol: str(), appProtocol: str() }, { required: ['port'] }), 'Port numbers available on the related IP addresses.'),
    }),
    'The set of all endpoints is the union of all subsets.',
  ),
});

// ------------------------------------------------------------------------- Node

export const TAINT = obj(
  {
    key: str('Required. The taint key to be applied to a node.'),
    value: str('The taint value corresponding to the taint key.'),
    effect: str('Required. The effect of the taint on pods that do not tolerate the taint. Valid effects are NoSchedule, PreferNoSchedule and NoExecute.'),
    timeAdded: time('TimeAdded represents the time at which the taint was added.'),
  },
  { required: ['key', 'effect'] },
);

export const NODE = topLevel('Node is a worker node in Kubernetes.', {
  spec: obj({
    podCIDR: str('PodCIDR represents the pod IP range assigned to the node.'),
    podCIDRs: { type: 'array', items: str(), patchStrategy: 'merge', listType: 'set', description: 'podCIDRs represents the IP ranges assigned to the node for usage by Pods on that node.' },
    providerID: str('ID of the node assigned by the cloud provider.'),
    unschedulable: bool('Unschedulable controls node schedulability of new pods.'),
    taints: list(TAINT, "If specified, the node's taints."),
    configSource: freeform('Deprecated: Previously used to specify the source of the node\'s configuration for the DynamicKubeletConfig feature.'),
    externalID: str('Deprecated. Not all kubelets will set this field.'),
  }),
  status: obj({
    capacity: quantityMap('Capacity represents the total resources of a node.'),
    allocatable: quantityMap('Allocatable represents the resources of a node that are available for scheduling.'),
    phase: str('NodePhase is the recently observed lifecycle phase of the node.'),
    conditions: mergeList(
      obj({
        type: str('Type of node condition.'),
        status: str('Status of the condition, one of True, False, Unknown.'),
        lastHeartbeatTime: time('Last time we got an update on a given condition.'),
        lastTransitionTime: time('Last time the condition transit from one status to another.'),
        reason: str("(brief) reason for the condition's last transition."),
        message: str('Human readable message indicating details about last transition.'),
      }),
      'type',
      { description: 'Conditions is an array of current observed node conditions.' },
    ),
    addresses: mergeList(obj({ type: str('Node address type, one of Hostname, ExternalIP or InternalIP.'), address: str('The node address.') }), 'type', { description: 'List of addresses reachable to the node.' }),
    daemonEndpoints: obj({ kubeletEndpoint: obj({ Port: int('Port number of the given endpoint.') }) }),
    nodeInfo: obj({
      machineID: str(),
      systemUUID: str(),
      bootID: str(),
      kernelVersion: str("Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
      osImage: str('OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).'),
      containerRuntimeVersion: str('ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).'),
      kubeletVersion: str('Kubelet Version reported by the node.'),
      kubeProxyVersion: str('Deprecated: KubeProxy Version reported by the node.'),
      operatingSystem: str('The Operating System reported by the node'),
      architecture: str('The Architecture reported by the node'),
      swap: obj({ capacity: int('Total amount of swap memory in bytes.') }),
    }),
    images: list(obj({ names: list(str()), sizeBytes: int() }), 'List of container images on this node'),
    volumesInUse: list(str(), 'List of attachable volumes in use (mounted) by the node.'),
    volumesAttached: list(obj({ name: str(), devicePath: str() }, { required: ['name', 'devicePath'] }), 'List of volumes that are attached to the node.'),
    config: freeform('Status of the config assigned to the node via the dynamic Kubelet config feature.'),
    runtimeHandlers: list(obj({ name: str(), features: obj({ recursiveReadOnlyMounts: bool(), userNamespaces: bool() }) }), 'The available runtime handlers.'),
    features: obj({ supplementalGroupsPolicy: bool() }),
  }),
});

// ------------------------------------------------------------ small core kinds

export const NAMESPACE = topLevel('Namespace provides a scope for Names. Use of multiple namespaces is optional.', {
  spec: obj({ finalizers: list(str(), 'Finalizers is an opaque list of values that must be empty to permanently remove object from storage.') }),
  status: obj({
    phase: str('Phase is the current lifecycle phase of the namespace.'),
    conditions: mergeList(obj({ type: str(), status: str(), lastTransitionTime: time(), reason: str(), message: str() }, { required: ['type', 'status'] }), 'type'),
  }),
});

export const CONFIG_MAP = topLevel('ConfigMap holds configuration data for pods to consume.', {
  data: stringMap('Data contains the configuration data.'),
  binaryData: map(str(), 'BinaryData contains the binary data (base64 encoded).'),
  immutable: bool('Immutable, if set to true, ensures that data stored in the ConfigMap cannot be updated (only object metadata can be modified).'),
});

export const SECRET = topLevel('Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.', {
  data: map(str(), 'Data contains the secret data (base64 encoded).'),
  stringData: stringMap('stringData allows specifying non-binary secret data in string form. It is provided as a write-only input field for convenience.'),
  type: str('Used to facilitate programmatic handling of secret data.'),
  immutable: bool('Immutable, if set to true, ensures that data stored in the Secret cannot be updated (only object metadata can be modified).'),
});

export const EVENT = topLevel(
  'Event is a report of an event somewhere in the cluster.',
  {
    involvedObject: OBJECT_REFERENCE,
    reason: str('This should be a short, machine understandable string that gives the reason for the transition into the object\'s current status.'),
    message: str('A human-readable description of the status of this operation.'),
    source: obj({ component: str('Component from which the event is generated.'), host: str('Node name on which the event is generated.') }),
    firstTimestamp: time('The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)'),
    lastTimestamp: time('The time at which the most recent occurrence of this event was recorded.'),
    count: int('The number of times this event has occurred.'),
    type: str('Type of this event (Normal, Warning), new types could be added in the future'),
    eventTime: time('Time when this Event was first observed.'),
    series: obj({ count: int('Number of occurrences in this series up to the last heartbeat time'), lastObservedTime: time('Time of the last occurrence observed') }),
    action: str('What action was taken/failed regarding to the Regarding object.'),
    related: OBJECT_REFERENCE,
    reportingComponent: str('Name of the controller that emitted this Event, e.g. `kubernetes.io/kubelet`.'),
    reportingInstance: str('ID of the controller instance, e.g. `kubelet-xyzf`.'),
  },
  ['involvedObject'],
);

export const SERVICE_ACCOUNT = topLevel('ServiceAccount binds together: * a name, understood by users, and perhaps by peripheral systems, for an identity * a principal that can be authenticated and authorized * a set of secrets', {
  secrets: mergeList(OBJECT_REFERENCE, 'name', { description: 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.' }),
  imagePullSecrets: list(LOCAL_OBJECT_REFERENCE, 'ImagePullSecrets is a list of references to secrets in the same namespace to use for pulling any images in pods that reference this ServiceAccount.'),
  automountServiceAccountToken: bool('AutomountServiceAccountToken indicates whether pods running as this service account should have an API token automatically mounted.'),
});

export const BINDING = topLevel('Binding ties one object to another; for example, a pod is bound to a node by a scheduler.', { target: OBJECT_REFERENCE }, ['target']);

export const POD_EXEC_OPTIONS = topLevel('PodExecOptions is the query options to a Pod\'s remote exec call.', {
  stdin: bool(),
  stdout: bool(),
  stderr: bool(),
  tty: bool(),
  container: str(),
  command: list(str()),
});

export const POD_ATTACH_OPTIONS = topLevel("PodAttachOptions is the query options to a Pod's remote attach call.", {
  stdin: bool(),
  stdout: bool(),
  stderr: bool(),
  tty: bool(),
  container: str(),
});

export const POD_PORT_FORWARD_OPTIONS = topLevel('PodPortForwardOptions is the query options to a Pod\'s port forward call', { ports: list(int()) });

export const EVICTION = topLevel('Eviction evicts a pod from its node subject to certain policies and safety constraints.', {
  deleteOptions: freeform('DeleteOptions may be provided'),
});
