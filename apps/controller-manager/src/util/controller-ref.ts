// Adoption and release by controller reference (pkg/controller/controller_ref_manager.go).
//
// A controller owns the objects whose controller ownerReference carries its
// uid. Orphans (no controller reference) that its selector matches are
// adopted by a strategic merge patch adding the reference; owned objects the
// selector no longer matches are released by a patch deleting it. Objects
// controlled by someone else are never touched.
import type { Selector } from '@kubets/api-machinery';
import { controllerRefOf, isBeingDeleted, labelsOf, namespaceOf, uidOf, type KObject, type OwnerReference } from './k8s';

/** A patch to send (strategic merge patch, `application/strategic-merge-patch+json`). */
export interface ObjectPatch {
  object: KObject;
  patch: KObject;
}

export interface ClaimResult {
  /** Objects this controller manages: already owned and matching, plus the ones being adopted. */
  claimed: KObject[];
  /** Orphans to adopt (apply these patches; then they are owned). */
  adopt: ObjectPatch[];
  /** Owned objects that no longer match (apply these patches to orphan them). */
  release: ObjectPatch[];
}

/** The adoption patch: `{"metadata":{"ownerReferences":[<controllerRef>],"uid":"<object uid>"}}`. */
export function adoptPatch(object: KObject, controllerRef: OwnerReference): KObject {
  return {
    metadata: {
      ownerReferences: [
        {
          apiVersion: controllerRef.apiVersion,
          kind: controllerRef.kind,
          name: controllerRef.name,
          uid: controllerRef.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      uid: uidOf(object),
    },
  };
}

/** The release patch: `{"metadata":{"ownerReferences":[{"$patch":"delete","uid":"<owner uid>"}],"uid":"<object uid>"}}`. */
export function releasePatch(object: KObject, ownerUid: string): KObject {
  return { metadata: { ownerReferences: [{ $patch: 'delete', uid: ownerUid }], uid: uidOf(object) } };
}

/**
 * ClaimObject over a list: `controller` is the owner (its metadata.uid and
 * deletionTimestamp matter), `controllerRef` the reference adoptions write,
 * `match` decides whether the controller wants an object (its selector).
 *
 * Kube re-reads the controller with a quorum read before the first adoption
 * (RecheckDeletionTimestamp) so a controller deleted a moment ago adopts
 * nothing; the wiring does that before applying `adopt`.
 */
export function claimObjects(
  controller: KObject,
  controllerRef: OwnerReference,
  objects: readonly KObject[],
  match: (o: KObject) => boolean,
): ClaimResult {
  const res: ClaimResult = { claimed: [], adopt: [], release: [] };
  const ownerUid = uidOf(controller);
  const ownerDeleting = isBeingDeleted(controller);
  const ownerNs = namespaceOf(controller);
  for (const o of objects) {
    const ref = controllerRefOf(o);
    if (ref) {
      if (ref.uid !== ownerUid) continue; // someone else's
      if (match(o)) {
        res.claimed.push(o);
        continue;
      }
      if (ownerDeleting) continue;
      res.release.push({ object: o, patch: releasePatch(o, ownerUid) });
      continue;
    }
    // An orphan.
    if (ownerDeleting || !match(o)) continue;
    if (isBeingDeleted(o)) continue;
    if (ownerNs && ownerNs !== namespaceOf(o)) continue;
    res.adopt.push({ object: o, patch: adoptPatch(o, controllerRef) });
    res.claimed.push(o);
  }
  return res;
}

/** ClaimPods / ClaimReplicaSets: match by label selector. */
export function claimBySelector(controller: KObject, controllerRef: OwnerReference, objects: readonly KObject[], selector: Selector): ClaimResult {
  return claimObjects(controller, controllerRef, objects, (o) => selector.matches(labelsOf(o)));
}
