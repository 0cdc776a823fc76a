// apps/v1 Deployment, ReplicaSet, DaemonSet and autoscaling/v1 Scale.
import { bool, int, intOrString, mergeList, obj, str, time } from './builders';
import { LABEL_SELECTOR, topLevel } from './meta';
import { POD_TEMPLATE_SPEC } from './core';

const APPS_CONDITION = (extra: Record<string, ReturnType<typeof str>> = {}) =>
  obj(
    {
      type: str('Type of condition.'),
      status: str('Status of the condition, one of True, False, Unknown.'),
      ...extra,
      lastTransitionTime: time('Last time the condition transitioned from one status to another.'),
      reason: str("The reason for the condition's last transition."),
      message: str('A human readable message indicating details about the transition.'),
    },
    { required: ['type', 'status'] },
  );

export const DEPLOYMENT = topLevel('Deployment enables declarative updates for Pods and ReplicaSets.', {
  spec: obj(
    {
      replicas: int('Number of desired pods. This is a pointer to distinguish between explicit zero and not specified. Defaults to 1.'),
      selector: LABEL_SELECTOR,
      template: POD_TEMPLATE_SPEC,
      strategy: obj(
        {
          type: str('Type of deployment. Can be "Recreate" or "RollingUpdate". Default is RollingUpdate.'),
          rollingUpdate: obj({
            maxUnavailable: intOrString('The maximum number of pods that can be unavailable during the update.'),
            maxSurge: intOrString('The maximum number of pods that can be scheduled above the desired number of pods.'),
          }),
        },
        { retainKeys: true, description: 'The deployment strategy to use to replace existing pods with new ones.' },
      ),
      minReadySeconds: int('Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available.'),
      revisionHistoryLimit: int('The number of old ReplicaSets to retain to allow rollback.'),
      paused: bool('Indicates that the deployment is paused.'),
      progressDeadlineSeconds: int('The maximum time in seconds for a deployment to make progress before it is considered to be failed.'),
    },
    { required: ['selector', 'template'] },
  ),
  status: obj({
    observedGeneration: int('The generation observed by the deployment controller.'),
    replicas: int('Total number of non-terminating pods targeted by this deployment (their labels match the selector).'),
    updatedReplicas: int('Total number of non-terminating pods targeted by this deployment that have the desired template spec.'),
    readyReplicas: int('Total number of non-terminating pods targeted by this Deployment with a Ready Condition.'),
    availableReplicas: int('Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.'),
    unavailableReplicas: int('Total number of unavailable pods targeted by this deployment.'),
    terminatingReplicas: int('Total number of terminating pods targeted by this deployment.'),
    conditions: mergeList(APPS_CONDITION({ lastUpdateTime: time('The last time this condition was updated.') }), 'type', { description: "Represents the latest available observations of a deployment's current state." }),
    collisionCount: int('Count of hash collisions for the Deployment.'),
  }),
});

export const REPLICA_SET = topLevel('ReplicaSet ensures that a specified number of pod replicas are running at any given time.', {
  spec: obj(
    {
      replicas: int('Replicas is the number of desired pods. Defaults to 1.'),
      minReadySeconds: int('Minimum number of seconds for which a newly created pod should be ready without any of its container crashing, for it to be considered available.'),
      selector: LABEL_SELECTOR,
      template: POD_TEMPLATE_SPEC,
    },
    { required: ['selector'] },
  ),
  status: obj({
    replicas: int('Replicas is the most recently observed number of non-terminating pods.'),
    fullyLabeledReplicas: int('The number of non-terminating pods that have labels matching the labels of the pod template of the replicaset.'),
    readyReplicas: int('The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.'),
    availableReplicas: int('The number of available non-terminating pods (ready for at least minReadySeconds) for this replica set.'),
    terminatingReplicas: int('The number of terminating pods for this replica set.'),
    observedGeneration: int('ObservedGeneration reflects the generation of the most recently observed ReplicaSet.'),
    conditions: mergeList(APPS_CONDITION(), 'type', { description: "Represents the latest available observations of a replica set's current state." }),
  }),
});

export const DAEMON_SET = topLevel('DaemonSet represents the configuration of a daemon set.', {
  spec: obj(
    {
      selector: LABEL_SELECTOR,
      template: POD_TEMPLATE_SPEC,
      updateStrategy: obj({
        type: str('Type of daemon set update. Can be "RollingUpdate" or "OnDelete". Default is RollingUpdate.'),
        rollingUpdate: obj({
          maxUnavailable: intOrString('The maximum number of DaemonSet pods that can be unavailable during the update.'),
          maxSurge: intOrString('The maximum number of nodes with an existing available DaemonSet pod that can have an updated DaemonSet pod during during an update.'),
        }),
      }),
      minReadySeconds: int('The minimum number of seconds for which a newly created DaemonSet pod should be ready without any of its container crashing, for it to be considered available.'),
      revisionHistoryLimit: int('The number of old history to retain to allow rollback.'),
    },
    { required: ['selector', 'template'] },
  ),
  status: obj({
    currentNumberScheduled: int('The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.'),
    numberMisscheduled: int('The number of nodes that are running the daemon pod, but are not supposed to run the daemon pod.'),
    desiredNumberScheduled: int('The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).'),
    numberReady: int('numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.'),
    observedGeneration: int('The most recent generation observed by the daemon set controller.'),
    updatedNumberScheduled: int('The total number of nodes that are running updated daemon pod'),
    numberAvailable: int('The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)'),
    numberUnavailable: int('The number of nodes that should be running the daemon pod and have none of the daemon pod running and available (ready for at least spec.minReadySeconds)'),
    collisionCount: int('Count of hash collisions for the DaemonSet.'),
    conditions: mergeList(APPS_CONDITION(), 'type', { description: "Represents the latest available observations of a DaemonSet's current state." }),
  }),
});

export const SCALE = topLevel('Scale represents a scaling request for a resource.', {
  spec: obj({ replicas: int('replicas is the desired number of instances for the scaled object.') }),
  status: obj({
    replicas: int('replicas is the actual number of observed instances of the scaled object.'),
    selector: str('selector is the label query over pods that should match the replicas count.'),
  }),
});
