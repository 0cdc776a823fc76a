import { status } from '@grpc/grpc-js';
import { GrpcStatusError } from '@kubets/service-kit';

/**
 * etcd's client-visible errors: the same gRPC codes and messages as etcd 3.4
 * (clientv3 and etcdctl map these exact strings to typed errors).
 */
function e(code: status, message: string): () => GrpcStatusError {
  return () => new GrpcStatusError(code, message);
}

export const Errors = {
  emptyKey: e(status.INVALID_ARGUMENT, 'etcdserver: key is not provided'),
  keyNotFound: e(status.INVALID_ARGUMENT, 'etcdserver: key not found'),
  valueProvided: e(status.INVALID_ARGUMENT, 'etcdserver: value is provided'),
  leaseProvided: e(status.INVALID_ARGUMENT, 'etcdserver: lease is provided'),
  tooManyOps: e(status.INVALID_ARGUMENT, 'etcdserver: too many operations in txn request'),
  duplicateKey: e(status.INVALID_ARGUMENT, 'etcdserver: duplicate key given in txn request'),
  compacted: e(status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: e(status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  noSpace: e(status.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'),
  leaseNotFound: e(status.NOT_FOUND, 'etcdserver: requested lease not found'),
  leaseExist: e(status.FAILED_PRECONDITION, 'etcdserver: lease already exists'),
  leaseTTLTooLarge: e(status.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),
  memberNotFound: e(status.NOT_FOUND, 'etcdserver: member not found'),
  memberExist: e(status.FAILED_PRECONDITION, 'etcdserver: member ID already exist'),
  peerURLExist: e(status.FAILED_PRECONDITION, 'etcdserver: Peer URLs already exists'),
  memberBadURLs: e(status.INVALID_ARGUMENT, 'etcdserver: given member URLs are invalid'),
  memberNotLearner: e(status.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member'),
  learnerNotReady: e(status.FAILED_PRECONDITION, 'etcdserver: can only promote a learner member which is in sync with leader'),
  requestTooLarge: e(status.INVALID_ARGUMENT, 'etcdserver: request is too large'),
  noLeader: e(status.UNAVAILABLE, 'etcdserver: no leader'),
  notLeader: e(status.FAILED_PRECONDITION, 'etcdserver: not leader'),
  leaderChanged: e(status.UNAVAILABLE, 'etcdserver: leader changed'),
  stopped: e(status.UNAVAILABLE, 'etcdserver: server stopped'),
  timeout: e(status.UNAVAILABLE, 'etcdserver: request timed out'),
  timeoutDueToLeaderFail: e(status.UNAVAILABLE, 'etcdserver: request timed out, possibly due to previous leader failure'),
  timeoutWaitAppliedIndex: e(status.UNAVAILABLE, 'etcdserver: request timed out, waiting for the applied index took too long'),
  badLeaderTransferee: e(status.FAILED_PRECONDITION, 'etcdserver: bad leader transferee'),
  authNotEnabled: e(status.FAILED_PRECONDITION, 'etcdserver: authentication is not enabled'),
} as const;

/** A state-machine error that every member reaches identically when applying an entry. */
export class ApplyError extends Error {
  constructor(readonly grpc: GrpcStatusError) {
    super(grpc.message);
    this.name = 'ApplyError';
  }
}
