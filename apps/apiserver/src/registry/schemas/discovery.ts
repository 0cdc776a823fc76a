// discovery.k8s.io/v1 EndpointSlice.
import { bool, int, list, obj, set, str, stringMap } from './builders';
import { OBJECT_REFERENCE, topLevel } from './meta';

export const ENDPOINT_SLICE = topLevel(
  'EndpointSlice represents a subset of the endpoints that implement a service.',
  {
    addressType: str('addressType specifies the type of address carried by this EndpointSlice. Supported types are IPv4, IPv6 and FQDN.'),
    endpoints: list(
      obj(
        {
          addresses: set(str(), 'addresses of this endpoint.'),
          conditions: obj({
            ready: bool('ready indicates that this endpoint is prepared to receive traffic, according to whatever system is managing the endpoint.'),
            serving: bool('serving is identical to ready except that it is set regardless of the terminating state of endpoints.'),
            terminating: bool('terminating indicates that this endpoint is terminating.'),
          }),
          hostname: str('hostname of this endpoint.'),
          targetRef: OBJECT_REFERENCE,
          deprecatedTopology: stringMap('deprecatedTopology contains topology information part of the v1beta1 API.'),
          nodeName: str('nodeName represents the name of the Node hosting this endpoint.'),
          zone: str('zone is the name of the Zone this endpoint exists in.'),
          hints: obj({ forZones: list(obj({ name: str() }, { required: ['name'] })), forNodes: list(obj({ name: str() }, { required: ['name'] })) }),
        },
        { required: ['addresses'] },
      ),
      'endpoints is a list of unique endpoints in this slice.',
    ),
    ports: list(obj({ name: str(), protocol: str(), port: int(), appProtocol: str() }), 'ports specifies the list of network ports exposed by each endpoint in this slice.'),
  },
  ['addressType'],
);
