// The k8s.io message schemas (protobufjs JSON generated from proto/k8s.io by
// proto/tools/generate.js) joined with the Go JSON shape of each type
// (src/gen/go-structs.ts): one MessagePlan per message, built on first use.
import protobuf from 'protobufjs';
import { K8S_PROTOBUF_SCHEMA } from '@kubets/proto/k8s.io/schema';
import { GO_STRUCTS } from './gen/go-structs';
import { CUSTOM_CODECS, type CustomCodec } from './custom';
import { K8sProtobufError } from './errors';

export type ScalarType = 'string' | 'bool' | 'int32' | 'int64' | 'bytes';

const SCALARS: ReadonlySet<string> = new Set<ScalarType>(['string', 'bool', 'int32', 'int64', 'bytes']);

export interface FieldPlan {
  readonly number: number;
  /** The protobuf field name. */
  readonly name: string;
  /** 'optional': one value; 'repeated': a list; 'map': string keys. */
  readonly label: 'optional' | 'repeated' | 'map';
  /** The (element / map value) type: a scalar, or a message's full name. */
  readonly scalar?: ScalarType;
  readonly message?: string;
  /** The Go side. */
  readonly json: string;
  readonly omitempty: boolean;
  readonly omitzero: boolean;
  readonly inline: boolean;
  readonly pointer: boolean;
}

export interface MessagePlan {
  /** Full name without the leading dot: k8s.io.api.core.v1.Pod. */
  readonly name: string;
  /** Go struct order. */
  readonly fields: readonly FieldPlan[];
  /** Ascending field number: the order client-go writes them. */
  readonly wireOrder: readonly FieldPlan[];
  readonly byNumber: ReadonlyMap<number, FieldPlan>;
  /** JSON names of the fields at this level (not those of inline structs). */
  readonly directJsonNames: ReadonlySet<string>;
  readonly custom?: CustomCodec;
  readonly isKind: boolean;
}

let root: protobuf.Root | undefined;
const plans = new Map<string, MessagePlan>();

function schemaRoot(): protobuf.Root {
  if (!root) {
    root = protobuf.Root.fromJSON(K8S_PROTOBUF_SCHEMA as protobuf.INamespace);
    root.resolveAll();
  }
  return root;
}

/** The plan of one message (full name without the leading dot). */
export function messagePlan(name: string): MessagePlan {
  const cached = plans.get(name);
  if (cached) return cached;
  const type = schemaRoot().lookup(name, [protobuf.Type]) as protobuf.Type | null;
  if (!type) throw new K8sProtobufError(`no protobuf message ${name}`);
  const go = GO_STRUCTS[name];
  if (!go) throw new K8sProtobufError(`no Go shape for message ${name}`);
  let custom: CustomCodec | undefined;
  if (go.custom !== undefined) {
    custom = CUSTOM_CODECS[name];
    if (!custom) throw new K8sProtobufError(`${name} (${go.custom}) is not supported`);
  }
  const byId = new Map<number, protobuf.Field>();
  for (const f of type.fieldsArray) byId.set(f.id, f);
  const fields: FieldPlan[] = [];
  if (custom) {
    // Custom codecs read the decoded wire fields by protobuf name.
    for (const f of type.fieldsArray) fields.push(fieldPlan(name, f, f.repeated || f.map ? `${f.name}` : `*${f.name}`));
  }
  for (const [number, tag] of go.fields ?? []) {
    const f = byId.get(number);
    if (!f) throw new K8sProtobufError(`${name}: Go field for number ${number} has no protobuf field`);
    fields.push(fieldPlan(name, f, tag));
  }
  if (!custom && fields.length !== byId.size) {
    throw new K8sProtobufError(`${name}: ${byId.size} protobuf fields but ${fields.length} Go fields`);
  }
  const plan: MessagePlan = {
    name,
    fields,
    wireOrder: [...fields].sort((a, b) => a.number - b.number),
    byNumber: new Map(fields.map((f) => [f.number, f])),
    directJsonNames: new Set(fields.filter((f) => !f.inline).map((f) => f.json)),
    custom,
    isKind: go.kind === true,
  };
  plans.set(name, plan);
  return plan;
}

function fieldPlan(owner: string, f: protobuf.Field, tag: string): FieldPlan {
  const pointer = tag.startsWith('*');
  const [json, ...opts] = (pointer ? tag.slice(1) : tag).split(',');
  const inline = json === '' && opts.includes('inline');
  if (json === '' && !inline) throw new K8sProtobufError(`${owner}.${f.name}: Go json tag ${tag} has no name`);
  const label = f.map ? 'map' : f.repeated ? 'repeated' : 'optional';
  if (f instanceof protobuf.MapField && f.keyType !== 'string') {
    throw new K8sProtobufError(`${owner}.${f.name}: map keys of type ${f.keyType}`);
  }
  let scalar: ScalarType | undefined;
  let message: string | undefined;
  if (SCALARS.has(f.type)) scalar = f.type as ScalarType;
  else if (f.resolvedType instanceof protobuf.Type) message = f.resolvedType.fullName.replace(/^\./, '');
  else throw new K8sProtobufError(`${owner}.${f.name}: unsupported field type ${f.type}`);
  if (inline && (label !== 'optional' || !message)) throw new K8sProtobufError(`${owner}.${f.name}: inline field is not a message`);
  return {
    number: f.id,
    name: f.name,
    label,
    scalar,
    message,
    json,
    omitempty: opts.includes('omitempty'),
    omitzero: opts.includes('omitzero'),
    inline,
    pointer,
  };
}

/** Every message name in the schema (for consistency tests). */
export function allMessageNames(): string[] {
  const out: string[] = [];
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) out.push(nested.fullName.replace(/^\./, ''));
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) walk(nested);
    }
  };
  walk(schemaRoot());
  return out.sort();
}
