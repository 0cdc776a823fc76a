// coordination.k8s.io/v1 Lease.
import { int, obj, str, time } from './builders';
import { topLevel } from './meta';

export const LEASE = topLevel('Lease defines a lease concept.', {
  spec: obj({
    holderIdentity: str('holderIdentity contains the identity of the holder of a current lease.'),
    leaseDurationSeconds: int('leaseDurationSeconds is a duration that candidates for a lease need to wait to force acquire it.'),
    acquireTime: time('acquireTime is a time when the current lease was acquired (MicroTime).'),
    renewTime: time('renewTime is a time when the current holder of a lease has last updated the lease (MicroTime).'),
    leaseTransitions: int('leaseTransitions is the number of transitions of a lease between holders.'),
    strategy: str('Strategy indicates the strategy for picking the leader for coordinated leader election.'),
    preferredHolder: str('PreferredHolder signals to a lease holder that the lease has a more optimal holder and should be given up.'),
  }),
});
