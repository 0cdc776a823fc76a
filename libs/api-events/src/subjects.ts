import { ROOT, token } from '@kubets/actor';

/**
 * Change events on NATS (see docs/ARCHITECTURE.md, "Change events on NATS"):
 *
 *   kubets.apiserver.events.<group>.<resource>             every change of a resource type
 *   kubets.apiserver.events.core.pods.node.<node>          pods bound to one node
 *
 * <group> is "core" for the core group, else the group escaped with token()
 * (dots are not allowed inside a NATS token); <node> is token(nodeName).
 * Each subject is one chain: its events carry prev_revision, the revision of
 * the previous event on the same subject (or an upper bound of it).
 */
export const EVENTS_PREFIX = `${ROOT}.apiserver.events`;

export function groupToken(group: string): string {
  return group === '' ? 'core' : token(group);
}

export function resourceSubject(group: string, resource: string): string {
  return `${EVENTS_PREFIX}.${groupToken(group)}.${resource}`;
}

export function nodePodsSubject(nodeName: string): string {
  return `${EVENTS_PREFIX}.core.pods.node.${token(nodeName)}`;
}
