// meta/v1 types shared by every kind: ObjectMeta, LabelSelector, references, conditions.
import type { ObjectSchema, Schema } from '@kubets/api-machinery';
import { any, bool, int, list, mergeList, obj, set, str, stringMap, time } from './builders';

export const OWNER_REFERENCE = obj(
  {
    apiVersion: str('API version of the referent.'),
    kind: str('Kind of the referent.'),
    name: str('Name of the referent.'),
    uid: str('UID of the referent.'),
    controller: bool('If true, this reference points to the managing controller.'),
    blockOwnerDeletion: bool('If true, AND if the owner has the "foregroundDeletion" finalizer, then the owner cannot be deleted from the key-value store until this reference is removed.'),
  },
  { required: ['apiVersion', 'kind', 'name', 'uid'], description: 'OwnerReference contains enough information to let you identify an owning object.' },
);

export const MANAGED_FIELDS_ENTRY = obj(
  {
    manager: str('Manager is an identifier of the workflow managing these fields.'),
    operation: str('Operation is the type of operation which lead to this ManagedFieldsEntry being created.'),
    apiVersion: str('APIVersion defines the version of this resource that this field set applies to.'),
    time: time('Time is the timestamp of when the ManagedFields entry was added.'),
    fieldsType: str('FieldsType is the discriminator for the different fields format and version.'),
    fieldsV1: any('FieldsV1 holds the first JSON version format as described in the "FieldsV1" type.'),
    subresource: str('Subresource is the name of the subresource used to update that object.'),
  },
  { description: 'ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.' },
);

export const OBJECT_META = obj(
  {
    name: str('Name must be unique within a namespace.'),
    generateName: str('GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided.'),
    namespace: str('Namespace defines the space within which each name must be unique.'),
    selfLink: str('Deprecated: selfLink is a legacy read-only field that is no longer populated by the system.'),
    uid: str('UID is the unique in time and space value for this object.'),
    resourceVersion: str('An opaque value that represents the internal version of this object.'),
    generation: int('A sequence number representing a specific generation of the desired state.'),
    creationTimestamp: time('CreationTimestamp is a timestamp representing the server time when this object was created.'),
    deletionTimestamp: time('DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted.'),
    deletionGracePeriodSeconds: int('Number of seconds allowed for this object to gracefully terminate before it will be removed from the system.'),
    labels: stringMap('Map of string keys and values that can be used to organize and categorize (scope and select) objects.'),
    annotations: stringMap('Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata.'),
    ownerReferences: mergeList(OWNER_REFERENCE, 'uid', { description: 'List of objects depended by this object.' }),
    finalizers: { type: 'array', items: str(), patchStrategy: 'merge', listType: 'set', description: 'Must be empty before the object is deleted from the registry.' },
    managedFields: list(MANAGED_FIELDS_ENTRY, 'ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow.'),
  },
  { description: 'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.' },
);

export const LABEL_SELECTOR_REQUIREMENT = obj(
  {
    key: str('key is the label key that the selector applies to.'),
    operator: str("operator represents a key's relationship to a set of values. Valid operators are In, NotIn, Exists and DoesNotExist."),
    values: list(str(), 'values is an array of string values.'),
  },
  { required: ['key', 'operator'] },
);

export const LABEL_SELECTOR = obj(
  {
    matchLabels: stringMap('matchLabels is a map of {key,value} pairs.'),
    matchExpressions: list(LABEL_SELECTOR_REQUIREMENT, 'matchExpressions is a list of label selector requirements. The requirements are ANDed.'),
  },
  { description: 'A label selector is a label query over a set of resources.' },
);

export const OBJECT_REFERENCE = obj(
  {
    kind: str('Kind of the referent.'),
    namespace: str('Namespace of the referent.'),
    name: str('Name of the referent.'),
    uid: str('UID of the referent.'),
    apiVersion: str('API version of the referent.'),
    resourceVersion: str('Specific resourceVersion to which this reference is made, if any.'),
    fieldPath: str('If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.'),
  },
  { description: 'ObjectReference contains enough information to let you inspect or modify the referred object.' },
);

export const LOCAL_OBJECT_REFERENCE = obj({ name: str('Name of the referent.') }, { description: 'LocalObjectReference contains enough information to let you locate the referenced object inside the same namespace.' });

/** metav1.Condition, the standard condition type. */
export const META_CONDITION = obj(
  {
    type: str('type of condition in CamelCase or in foo.example.com/CamelCase.'),
    status: str('status of the condition, one of True, False, Unknown.'),
    observedGeneration: int('observedGeneration represents the .metadata.generation that the condition was set based upon.'),
    lastTransitionTime: time('lastTransitionTime is the last time the condition transitioned from one status to another.'),
    reason: str("reason contains a programmatic identifier indicating the reason for the condition's last transition."),
    message: str('message is a human readable message indicating details about the transition.'),
  },
  { required: ['type', 'status'] },
);

/** The apiVersion/kind/metadata header every top-level kind starts with. */
export function topLevel(description: string, props: Record<string, Schema>, required: string[] = []): ObjectSchema {
  return obj(
    {
      apiVersion: str('APIVersion defines the versioned schema of this representation of an object.'),
      kind: str('Kind is a string value representing the REST resource this object represents.'),
      metadata: OBJECT_META,
      ...props,
    },
    { description, required },
  );
}

export const STRING_SET = set(str());
