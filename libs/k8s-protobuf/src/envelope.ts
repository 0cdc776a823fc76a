// Kubernetes' protobuf envelope (k8s.io/apimachinery/pkg/runtime/serializer/protobuf):
// the 4 bytes "k8s\0", then a runtime.Unknown whose typeMeta names the
// object's apiVersion and kind and whose raw holds the typed message.
import { K8sProtobufError } from './errors';
import { GROUP_VERSIONS } from './gen/go-structs';
import { fromGoJson, toGoJson, type JsonObject } from './go-json';
import { messagePlan } from './schema';
import { decodeMessage, encodeMessage, newMsg, type Msg } from './wire';

/** The media type of Kubernetes' protobuf encoding. */
export const K8S_PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
const UNKNOWN = 'k8s.io.apimachinery.pkg.runtime.Unknown';
const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';

/** Client-go registers these meta/v1 kinds in every group version (DELETE bodies are DeleteOptions in v1, apps/v1, ...). */
const OPTIONS_KINDS: ReadonlySet<string> = new Set(['CreateOptions', 'DeleteOptions', 'GetOptions', 'ListOptions', 'PatchOptions', 'UpdateOptions']);
const GROUP_VERSION = /^(?:[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?v[0-9]+(?:(?:alpha|beta)[0-9]+)?$/;

/** Where nested objects (a RawExtension holding another envelope) stop. */
const MAX_NESTING = 8;
let nesting = 0;

export interface DecodedObject {
  apiVersion: string;
  kind: string;
  /** The object as Kubernetes' JSON, apiVersion and kind included. */
  object: Record<string, unknown>;
}

/** Whether a Content-Type header names Kubernetes' protobuf encoding (parameters ignored). */
export function isK8sProtobuf(contentType: string | null | undefined): boolean {
  if (!contentType) return false;
  return contentType.split(';', 1)[0].trim().toLowerCase() === K8S_PROTOBUF_CONTENT_TYPE;
}

/** The protobuf message of a kind, or undefined when this package has none. */
export function messageNameFor(apiVersion: string, kind: string): string | undefined {
  const gv = Object.hasOwn(GROUP_VERSIONS, apiVersion) ? GROUP_VERSIONS[apiVersion] : undefined;
  if (gv?.kinds.includes(kind)) return `${gv.package}.${kind}`;
  if (OPTIONS_KINDS.has(kind) && GROUP_VERSION.test(apiVersion)) return `${META}.${kind}`;
  return undefined;
}

/** Whether decodeK8sProtobuf / encodeK8sProtobuf know this kind. */
export function isSupportedKind(apiVersion: string, kind: string): boolean {
  return messageNameFor(apiVersion, kind) !== undefined;
}

function messageFor(apiVersion: string, kind: string): string {
  const name = messageNameFor(apiVersion, kind);
  if (!name) throw new K8sProtobufError(`no protobuf schema for kind ${JSON.stringify(kind)} in ${JSON.stringify(apiVersion)}`);
  return name;
}

function asBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/**
 * Decodes a request body in Kubernetes' protobuf encoding into the object's
 * JSON form, exactly as client-go's JSON encoding of the same Go object
 * would read. Throws K8sProtobufError for anything else: no magic, bytes that
 * are not a valid message, an unknown kind, values Go would refuse.
 */
export function decodeK8sProtobuf(body: Uint8Array): DecodedObject {
  const buf = asBuffer(body);
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new K8sProtobufError('not a Kubernetes protobuf object: the data does not start with "k8s\\x00"');
  }
  const unknown = decodeMessage(messagePlan(UNKNOWN), buf, MAGIC.length);
  const typeMeta = unknown.typeMeta as Msg | undefined;
  const apiVersion = typeof typeMeta?.apiVersion === 'string' ? typeMeta.apiVersion : '';
  const kind = typeof typeMeta?.kind === 'string' ? typeMeta.kind : '';
  if (kind === '') throw new K8sProtobufError('the protobuf object has no kind');
  if (apiVersion === '') throw new K8sProtobufError(`the protobuf ${kind} has no apiVersion`);
  if (typeof unknown.contentEncoding === 'string' && unknown.contentEncoding !== '') {
    throw new K8sProtobufError(`unsupported protobuf content encoding ${JSON.stringify(unknown.contentEncoding)}`);
  }
  if (typeof unknown.contentType === 'string' && unknown.contentType !== '' && !isK8sProtobuf(unknown.contentType)) {
    throw new K8sProtobufError(`unsupported content type ${JSON.stringify(unknown.contentType)} inside the protobuf envelope`);
  }
  const plan = messagePlan(messageFor(apiVersion, kind));
  const raw = Buffer.isBuffer(unknown.raw) ? unknown.raw : Buffer.alloc(0);
  const typed = decodeMessage(plan, raw);
  const object: JsonObject = { apiVersion, kind };
  Object.assign(object, toGoJson(plan, typed, kind));
  return { apiVersion, kind, object };
}

/** A nested object (RawExtension) in the protobuf envelope, as JSON. */
export function decodeNestedObject(raw: Buffer, where: string): Record<string, unknown> {
  if (nesting >= MAX_NESTING) throw new K8sProtobufError(`${where}: objects nested more than ${MAX_NESTING} deep`);
  nesting++;
  try {
    return decodeK8sProtobuf(raw).object;
  } finally {
    nesting--;
  }
}

/**
 * Encodes an object (Kubernetes JSON with apiVersion and kind) the way
 * client-go does: byte for byte what kubectl sends for the same Go object.
 */
export function encodeK8sProtobuf(object: Record<string, unknown>): Buffer {
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== 'string' || apiVersion === '') throw new K8sProtobufError('the object has no apiVersion');
  if (typeof kind !== 'string' || kind === '') throw new K8sProtobufError('the object has no kind');
  const plan = messagePlan(messageFor(apiVersion, kind));
  const raw = encodeMessage(plan, fromGoJson(plan, object, kind));
  const typeMeta = Object.assign(newMsg(), { apiVersion, kind });
  const unknown = Object.assign(newMsg(), { typeMeta, raw, contentEncoding: '', contentType: '' });
  return Buffer.concat([MAGIC, encodeMessage(messagePlan(UNKNOWN), unknown)]);
}
