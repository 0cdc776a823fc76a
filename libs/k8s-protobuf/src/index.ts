// @kubets/k8s-protobuf: Kubernetes' protobuf encoding
// (application/vnd.kubernetes.protobuf) of the objects kubectl writes,
// decoded into the JSON form Kubernetes' Go types give, and encoded back.
// The wire schemas live in proto/k8s.io (generated from Kubernetes'
// generated.proto files); the JSON shape of each Go type in src/gen/go-structs.ts.
export {
  K8S_PROTOBUF_CONTENT_TYPE,
  decodeK8sProtobuf,
  encodeK8sProtobuf,
  isK8sProtobuf,
  isSupportedKind,
  type DecodedObject,
} from './envelope';
export { K8sProtobufError } from './errors';
export { KUBERNETES_RELEASE } from './gen/go-structs';
