// apps/v1 deployments, replicasets, daemonsets.
import { defaultDaemonSet, defaultDeployment, defaultReplicaSet } from '../defaults';
import { forbidden, notSupported, required } from '../machinery';
import { DAEMON_SET_TABLE, DEPLOYMENT_TABLE, REPLICA_SET_TABLE } from '../printers';
import { DAEMON_SET, DEPLOYMENT, REPLICA_SET } from '../schemas/apps';
import type { FieldCause, KObject, SubresourceDef } from '../types';
import { asObject, goLabelSelector, goStringMap, GoValue, invalid, isObject, isSet, selectorMatches, type Causes } from '../util';
import {
  goIntOrString,
  immutableSelector,
  intOrPercentValue,
  isNotMoreThan100Percent,
  validateLabelSelector,
  validateNonnegative,
  validatePodTemplateSpec,
  validatePositiveIntOrPercent,
  validateTemplateForReplicaSet,
} from '../validation';
import { define, statusSubresource } from './define';

const scaleSubresource: SubresourceDef = { name: 'scale', group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] };

function validateSelectorPresence(spec: KObject, errs: Causes, what: string): void {
  if (!isObject(spec.selector)) {
    errs.push(required('spec.selector', ''));
    return;
  }
  validateLabelSelector(spec.selector, 'spec.selector', errs);
  if (Object.keys(asObject(spec.selector.matchLabels)).length + (Array.isArray(spec.selector.matchExpressions) ? spec.selector.matchExpressions.length : 0) === 0) {
    errs.push(invalid('spec.selector', goLabelSelector(spec.selector), `empty selector is invalid for ${what}`));
  }
}

function goStrategy(kind: 'apps.DeploymentStrategy' | 'apps.DaemonSetUpdateStrategy', s: KObject): GoValue {
  const ru = kind === 'apps.DeploymentStrategy' ? 'apps.RollingUpdateDeployment' : 'apps.RollingUpdateDaemonSet';
  const ptr = isObject(s.rollingUpdate) ? `(*${ru})(0xc000000000)` : `(*${ru})(nil)`;
  return new GoValue(`${kind}{Type:${JSON.stringify(String(s.type ?? ''))}, RollingUpdate:${ptr}}`);
}

export function validateDeployment(d: KObject, old?: KObject): FieldCause[] {
  const errs: Causes = [];
  const spec = asObject(d.spec);
  validateNonnegative(spec.replicas, 'spec.replicas', errs);
  validateSelectorPresence(spec, errs, 'deployment');
  validateTemplateForReplicaSet(spec.template, spec.selector, 'spec.template', errs);

  const strategy = asObject(spec.strategy);
  switch (strategy.type) {
    case 'Recreate':
      if (isSet(strategy.rollingUpdate)) errs.push(forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
      break;
    case 'RollingUpdate': {
      if (!isObject(strategy.rollingUpdate)) {
        errs.push(required('spec.strategy.rollingUpdate', 'this should be defaulted and never be nil'));
        break;
      }
      const ru = strategy.rollingUpdate;
      const p = 'spec.strategy.rollingUpdate';
      validatePositiveIntOrPercent(ru.maxUnavailable, `${p}.maxUnavailable`, errs);
      validatePositiveIntOrPercent(ru.maxSurge, `${p}.maxSurge`, errs);
      if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
        errs.push(invalid(`${p}.maxUnavailable`, goIntOrString(ru.maxUnavailable), 'may not be 0 when `maxSurge` is 0'));
      }
      isNotMoreThan100Percent(ru.maxUnavailable, `${p}.maxUnavailable`, errs);
      break;
    }
    default:
      errs.push({
        reason: 'FieldValueNotSupported',
        field: 'spec.strategy',
        message: `Unsupported value: ${goStrategy('apps.DeploymentStrategy', strategy).text}: supported values: "Recreate", "RollingUpdate"`,
      });
  }
  validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds', errs);
  validateNonnegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit', errs);
  if (isSet(spec.progressDeadlineSeconds)) {
    validateNonnegative(spec.progressDeadlineSeconds, 'spec.progressDeadlineSeconds', errs);
    if (Number(spec.progressDeadlineSeconds) <= Number(spec.minReadySeconds ?? 0)) {
      errs.push(invalid('spec.progressDeadlineSeconds', new GoValue(String(Number(spec.progressDeadlineSeconds))), 'must be greater than minReadySeconds'));
    }
  }
  immutableSelector(d, old, errs);
  return errs;
}

export function validateReplicaSet(rs: KObject, old?: KObject): FieldCause[] {
  const errs: Causes = [];
  const spec = asObject(rs.spec);
  validateNonnegative(spec.replicas, 'spec.replicas', errs);
  validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds', errs);
  validateSelectorPresence(spec, errs, 'deployment');
  validateTemplateForReplicaSet(spec.template, spec.selector, 'spec.template', errs);
  immutableSelector(rs, old, errs);
  return errs;
}

export function validateDaemonSet(ds: KObject, old?: KObject): FieldCause[] {
  const errs: Causes = [];
  const spec = asObject(ds.spec);
  if (!isObject(spec.selector)) errs.push(required('spec.selector', ''));
  else validateLabelSelector(spec.selector, 'spec.selector', errs);
  const tpl = asObject(spec.template);
  const labels = asObject(tpl.metadata).labels;
  if (!selectorMatches(spec.selector, labels)) {
    errs.push(invalid('spec.template.metadata.labels', goStringMap(labels), '`selector` does not match template `labels`'));
  }
  if (isObject(spec.selector) && Object.keys(asObject(spec.selector.matchLabels)).length + (Array.isArray(spec.selector.matchExpressions) ? spec.selector.matchExpressions.length : 0) === 0) {
    errs.push(invalid('spec.selector', goLabelSelector(spec.selector), 'empty selector is invalid for daemonset'));
  }
  validatePodTemplateSpec(spec.template, 'spec.template', errs);
  const podSpec = asObject(tpl.spec);
  if (podSpec.restartPolicy !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', String(podSpec.restartPolicy ?? ''), ['Always']));
  if (isSet(podSpec.activeDeadlineSeconds)) {
    errs.push(invalid('spec.template.spec.activeDeadlineSeconds', new GoValue(String(podSpec.activeDeadlineSeconds)), 'activeDeadlineSeconds must be nil for daemon set pods'));
  }
  validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds', errs);
  const us = asObject(spec.updateStrategy);
  switch (us.type) {
    case 'OnDelete':
      break;
    case 'RollingUpdate': {
      if (!isObject(us.rollingUpdate)) {
        errs.push(required('spec.updateStrategy.rollingUpdate', ''));
        break;
      }
      const ru = us.rollingUpdate;
      const p = 'spec.updateStrategy.rollingUpdate';
      validatePositiveIntOrPercent(ru.maxUnavailable, `${p}.maxUnavailable`, errs);
      validatePositiveIntOrPercent(ru.maxSurge, `${p}.maxSurge`, errs);
      isNotMoreThan100Percent(ru.maxUnavailable, `${p}.maxUnavailable`, errs);
      isNotMoreThan100Percent(ru.maxSurge, `${p}.maxSurge`, errs);
      const hasUnavailable = intOrPercentValue(ru.maxUnavailable) !== 0;
      const hasSurge = intOrPercentValue(ru.maxSurge) !== 0;
      if (hasUnavailable && hasSurge) errs.push(invalid(`${p}.maxSurge`, goIntOrString(ru.maxSurge), 'may not be set when maxUnavailable is non-zero'));
      else if (!hasUnavailable && !hasSurge) errs.push(required(`${p}.maxUnavailable`, 'cannot be 0 when maxSurge is 0'));
      break;
    }
    default:
      errs.push({
        reason: 'FieldValueNotSupported',
        field: 'spec.updateStrategy',
        message: `Unsupported value: ${goStrategy('apps.DaemonSetUpdateStrategy', us).text}: supported values: "RollingUpdate", "OnDelete"`,
      });
  }
  validateNonnegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit', errs);
  immutableSelector(ds, old, errs);
  return errs;
}

export const deployments = define({
  group: 'apps',
  version: 'v1',
  kind: 'Deployment',
  resource: 'deployments',
  singular: 'deployment',
  namespaced: true,
  shortNames: ['deploy'],
  categories: ['all'],
  schema: DEPLOYMENT,
  hasStatus: true,
  tracksGeneration: true,
  subresources: [scaleSubresource, statusSubresource('apps', 'v1', 'Deployment')],
  defaults: defaultDeployment,
  validate: validateDeployment,
  table: DEPLOYMENT_TABLE,
});

export const replicasets = define({
  group: 'apps',
  version: 'v1',
  kind: 'ReplicaSet',
  resource: 'replicasets',
  singular: 'replicaset',
  namespaced: true,
  shortNames: ['rs'],
  categories: ['all'],
  schema: REPLICA_SET,
  hasStatus: true,
  tracksGeneration: true,
  subresources: [scaleSubresource, statusSubresource('apps', 'v1', 'ReplicaSet')],
  defaults: defaultReplicaSet,
  validate: validateReplicaSet,
  selectableFields: (rs) => ({ 'status.replicas': String(Number(rs.status?.replicas ?? 0)) }),
  table: REPLICA_SET_TABLE,
});

export const daemonsets = define({
  group: 'apps',
  version: 'v1',
  kind: 'DaemonSet',
  resource: 'daemonsets',
  singular: 'daemonset',
  namespaced: true,
  shortNames: ['ds'],
  categories: ['all'],
  schema: DAEMON_SET,
  hasStatus: true,
  tracksGeneration: true,
  subresources: [statusSubresource('apps', 'v1', 'DaemonSet')],
  defaults: defaultDaemonSet,
  validate: validateDaemonSet,
  table: DAEMON_SET_TABLE,
});
