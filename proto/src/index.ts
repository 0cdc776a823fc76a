// @kubets/proto: generated message and service code lives under subpaths that
// mirror the .proto package path, e.g. `@kubets/proto/kubets/sample/v1/echo`.
// This entry point exposes what gRPC server reflection needs.
import { FILE_DESCRIPTOR_SET_BASE64 } from './gen/descriptor-set';

let cached: Buffer | undefined;

/** The serialized google.protobuf.FileDescriptorSet of every kubets .proto file. */
export function fileDescriptorSet(): Buffer {
  cached ??= Buffer.from(FILE_DESCRIPTOR_SET_BASE64, 'base64');
  return cached;
}
