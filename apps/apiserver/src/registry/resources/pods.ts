// core/v1 pods.
import { defaultPod } from '../defaults';
import { forbidden, invalidValue, required } from '../machinery';
import { POD_TABLE } from '../printers';
import { POD } from '../schemas/core';
import type { FieldCause, KObject, SubresourceDef } from '../types';
import { asArray, asObject, clone, isObject, isSet, semanticEqual, type Causes } from '../util';
import { validatePodSpec, validateTolerations } from '../validation';
import { define, statusSubresource } from './define';

export const UPDATABLE_POD_SPEC_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

function validateContainerUpdates(next: unknown, prev: unknown, path: string, errs: Causes): boolean {
  const n = asArray(next);
  const o = asArray(prev);
  if (n.length !== o.length) {
    errs.push(forbidden(path, 'pod updates may not add or remove containers'));
    return true;
  }
  n.forEach((c, i) => {
    const image = String(c?.image ?? '');
    if (!image) errs.push(required(`${path}[${i}].image`, ''));
    if (image.trim().length !== image.length) errs.push(invalidValue(`${path}[${i}].image`, image, 'must not have leading or trailing whitespace'));
  });
  return false;
}

function validateOnlyAddedTolerations(next: unknown, prev: unknown, path: string, errs: Causes): void {
  const n = asArray(next);
  for (const old of asArray(prev)) {
    const found = n.some((t) => semanticEqual({ ...old, tolerationSeconds: t?.tolerationSeconds }, t));
    if (!found) {
      errs.push(forbidden(path, 'existing toleration can not be modified except its tolerationSeconds'));
      return;
    }
  }
  validateTolerations(n, path, errs);
}

const goFieldName = (k: string): string => k.charAt(0).toUpperCase() + k.slice(1);

/** A short cmp.Diff-like rendering of what changed between two pod specs. */
function specDiff(old: KObject, munged: KObject): string {
  const keys = [...new Set([...Object.keys(old), ...Object.keys(munged)])].sort();
  const lines = ['  core.PodSpec{'];
  let identical = 0;
  for (const k of keys) {
    if (semanticEqual(old[k], munged[k])) {
      identical++;
      continue;
    }
    if (old[k] !== undefined) lines.push(`- \t${goFieldName(k)}: ${JSON.stringify(old[k])},`);
    if (munged[k] !== undefined) lines.push(`+ \t${goFieldName(k)}: ${JSON.stringify(munged[k])},`);
  }
  if (identical > 0) lines.push(`  \t... // ${identical} identical fields`);
  lines.push('  }');
  return lines.join('\n');
}

export function validatePodUpdate(pod: KObject, old: KObject, errs: Causes): void {
  const spec = asObject(pod.spec);
  const oldSpec = asObject(old.spec);
  if (validateContainerUpdates(spec.containers, oldSpec.containers, 'spec.containers', errs)) return;
  if (validateContainerUpdates(spec.initContainers, oldSpec.initContainers, 'spec.initContainers', errs)) return;

  if (isSet(spec.activeDeadlineSeconds)) {
    const v = Number(spec.activeDeadlineSeconds);
    if (v < 0 || v > 2147483647) {
      errs.push(invalidValue('spec.activeDeadlineSeconds', v, 'must be between 0 and 2147483647, inclusive'));
      return;
    }
    if (isSet(oldSpec.activeDeadlineSeconds) && Number(oldSpec.activeDeadlineSeconds) < v) {
      errs.push(invalidValue('spec.activeDeadlineSeconds', v, 'must be less than or equal to previous value'));
      return;
    }
  } else if (isSet(oldSpec.activeDeadlineSeconds)) {
    errs.push(invalidValue('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
  }

  validateOnlyAddedTolerations(spec.tolerations, oldSpec.tolerations, 'spec.tolerations', errs);

  if (semanticEqual(spec, oldSpec)) return;
  const munged = clone(spec);
  asArray(munged.containers).forEach((c, i) => {
    if (isObject(c)) c.image = asArray(oldSpec.containers)[i]?.image;
  });
  asArray(munged.initContainers).forEach((c, i) => {
    if (isObject(c)) c.image = asArray(oldSpec.initContainers)[i]?.image;
  });
  if (isSet(oldSpec.activeDeadlineSeconds)) munged.activeDeadlineSeconds = oldSpec.activeDeadlineSeconds;
  else delete munged.activeDeadlineSeconds;
  if (oldSpec.tolerations === undefined) delete munged.tolerations;
  else munged.tolerations = oldSpec.tolerations;
  if (oldSpec.schedulingGates === undefined) delete munged.schedulingGates;
  else munged.schedulingGates = oldSpec.schedulingGates;
  if (isSet(oldSpec.terminationGracePeriodSeconds) && Number(oldSpec.terminationGracePeriodSeconds) < 0 && Number(munged.terminationGracePeriodSeconds) === 1) {
    munged.terminationGracePeriodSeconds = oldSpec.terminationGracePeriodSeconds;
  }
  // Binding (pods/binding) sets spec.nodeName once; the API server routes it
  // through the regular update path, so allow "" -> node here.
  if (!oldSpec.nodeName && munged.nodeName) {
    if (oldSpec.nodeName === undefined) delete munged.nodeName;
    else munged.nodeName = oldSpec.nodeName;
  }
  // Gated pods may gain node selector entries and affinity.
  if (asArray(oldSpec.schedulingGates).length > 0) {
    if (oldSpec.nodeSelector === undefined) delete munged.nodeSelector;
    else munged.nodeSelector = oldSpec.nodeSelector;
  }
  if (!semanticEqual(munged, oldSpec)) {
    errs.push(forbidden('spec', `pod updates may not change fields other than ${UPDATABLE_POD_SPEC_FIELDS.join(',')}\n${specDiff(oldSpec, munged)}`));
  }
}

export function validatePod(pod: KObject, old?: KObject): FieldCause[] {
  const errs: Causes = [];
  validatePodSpec(pod.spec, 'spec', errs);
  if (!old) {
    if (asArray(pod.spec?.ephemeralContainers).length > 0) errs.push(forbidden('spec.ephemeralContainers', 'cannot be set on create'));
    for (const list of ['containers', 'initContainers']) {
      asArray(pod.spec?.[list]).forEach((c, i) => {
        const image = String(c?.image ?? '');
        if (image && image.trim().length !== image.length) errs.push(invalidValue(`spec.${list}[${i}].image`, image, 'must not have leading or trailing whitespace'));
      });
    }
  } else {
    validatePodUpdate(pod, old, errs);
  }
  return errs;
}

/**
 * pods/eviction (policy/v1 Eviction, verbs [create]). Not listed by default:
 * kubectl drain uses the Eviction API whenever discovery lists it and falls
 * back to DELETE otherwise, so list it only once the server handles it.
 */
export const POD_EVICTION_SUBRESOURCE: SubresourceDef = { name: 'eviction', group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] };

export const pods = define({
  group: '',
  version: 'v1',
  kind: 'Pod',
  resource: 'pods',
  singular: 'pod',
  namespaced: true,
  shortNames: ['po'],
  categories: ['all'],
  schema: POD,
  hasStatus: true,
  subresources: [
    { name: 'attach', group: '', version: 'v1', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
    { name: 'binding', group: '', version: 'v1', kind: 'Binding', verbs: ['create'] },
    { name: 'exec', group: '', version: 'v1', kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'log', group: '', version: 'v1', kind: 'Pod', verbs: ['get'] },
    { name: 'portforward', group: '', version: 'v1', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
    { name: 'proxy', group: '', version: 'v1', kind: 'PodProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] },
    statusSubresource('', 'v1', 'Pod'),
  ],
  defaults: defaultPod,
  validate: validatePod,
  selectableFields(pod) {
    const spec = asObject(pod.spec);
    const status = asObject(pod.status);
    return {
      'spec.nodeName': String(spec.nodeName ?? ''),
      'spec.restartPolicy': String(spec.restartPolicy ?? ''),
      'spec.schedulerName': String(spec.schedulerName ?? ''),
      'spec.serviceAccountName': String(spec.serviceAccountName ?? ''),
      'spec.hostNetwork': spec.hostNetwork === true ? 'true' : 'false',
      'status.phase': String(status.phase ?? ''),
      'status.podIP': String(asArray(status.podIPs)[0]?.ip ?? status.podIP ?? ''),
      'status.nominatedNodeName': String(status.nominatedNodeName ?? ''),
    };
  },
  table: POD_TABLE,
});
