/**
 * Any failure to decode or encode a Kubernetes protobuf body: not the
 * protobuf envelope, truncated or malformed bytes, a kind this package has
 * no schema for, or a value Kubernetes' Go types would refuse. The API server
 * answers it with 400 Bad Request.
 */
export class K8sProtobufError extends Error {
  override readonly name = 'K8sProtobufError';
}
