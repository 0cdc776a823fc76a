// The format of src/gen/go-structs.ts (written by tools/import-upstream.js).

/**
 * How the Go struct behind one protobuf message serializes to JSON.
 *
 * `fields` lists the struct's fields in declaration order (the order Go's
 * encoding/json writes them) as [protobuf field number, Go json tag], the tag
 * prefixed with `*` when the Go field is a pointer: `'name'`,
 * `'image,omitempty'`, `'*replicas,omitempty'`, `',inline'` (an embedded
 * struct whose fields appear at this level), `'creationTimestamp,omitempty,omitzero'`.
 *
 * `kind` marks types that embed TypeMeta (apiVersion and kind): the API kinds.
 *
 * `custom` marks types whose Go JSON form is not a plain struct (a custom
 * MarshalJSON, or a named slice wrapped in a message on the wire); the value
 * says which, and src/custom.ts implements each one.
 */
export interface GoStruct {
  readonly kind?: boolean;
  readonly fields?: ReadonlyArray<readonly [number, string]>;
  readonly custom?: string;
}

/** The protobuf package of an API group version and the kinds it has. */
export interface GroupVersionKinds {
  readonly package: string;
  readonly kinds: readonly string[];
}
