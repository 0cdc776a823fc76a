// coordination.k8s.io/v1 leases and discovery.k8s.io/v1 endpointslices.
import { defaultEndpointSlice } from '../defaults';
import { duplicate, invalidValue, isDNS1123Subdomain, isQualifiedName, isValidIP, isValidPortNum, notSupported, required } from '../machinery';
import { ENDPOINT_SLICE_TABLE, LEASE_TABLE } from '../printers';
import { LEASE } from '../schemas/coordination';
import { ENDPOINT_SLICE } from '../schemas/discovery';
import type { FieldCause, KObject } from '../types';
import { asArray, asObject, isSet, type Causes } from '../util';
import { validateDNS1123Label, validateLabels } from '../validation';
import { validateEndpointAddressIP } from './core-small';
import { define } from './define';

export function validateLease(lease: KObject): FieldCause[] {
  const errs: Causes = [];
  const spec = asObject(lease.spec);
  if (isSet(spec.leaseDurationSeconds) && Number(spec.leaseDurationSeconds) <= 0) {
    errs.push(invalidValue('spec.leaseDurationSeconds', Number(spec.leaseDurationSeconds), 'must be greater than 0'));
  }
  if (isSet(spec.leaseTransitions) && Number(spec.leaseTransitions) < 0) {
    errs.push(invalidValue('spec.leaseTransitions', Number(spec.leaseTransitions), 'must be greater than or equal to 0'));
  }
  if (isSet(spec.strategy) && spec.strategy !== 'OldestEmulationVersion') {
    for (const m of isQualifiedName(String(spec.strategy))) errs.push(invalidValue('spec.strategy', String(spec.strategy), m));
  }
  if (isSet(spec.preferredHolder) && spec.preferredHolder !== '' && !isSet(spec.holderIdentity)) {
    errs.push(invalidValue('spec.preferredHolder', String(spec.preferredHolder), 'may only be set if holderIdentity is set'));
  }
  return errs;
}

export const leases = define({
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  resource: 'leases',
  singular: 'lease',
  namespaced: true,
  schema: LEASE,
  validate: validateLease,
  table: LEASE_TABLE,
});

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];
const MAX_ENDPOINTS = 1000;
const MAX_ADDRESSES = 100;
const MAX_PORTS = 20000;

const tooMany = (field: string, actual: number, max: number): FieldCause => ({
  reason: 'FieldValueInvalid',
  field,
  message: `Too many: ${actual}: must have at most ${max} items`,
});

export function validateEndpointSlice(es: KObject, old?: KObject): FieldCause[] {
  const errs: Causes = [];
  const addressType = String(es.addressType ?? '');
  const eps = asArray(es.endpoints);
  if (eps.length > MAX_ENDPOINTS) errs.push(tooMany('endpoints', eps.length, MAX_ENDPOINTS));
  else {
    eps.forEach((ep, i) => {
      const p = `endpoints[${i}]`;
      const addrs = asArray<string>(ep?.addresses);
      if (addrs.length === 0) errs.push(required(`${p}.addresses`, 'must contain at least 1 address'));
      else if (addrs.length > MAX_ADDRESSES) errs.push(tooMany(`${p}.addresses`, addrs.length, MAX_ADDRESSES));
      addrs.forEach((a, j) => {
        const ap = `${p}.addresses[${j}]`;
        const v = String(a);
        if (addressType === 'IPv4') {
          if (isValidIP(v).length > 0 || v.includes(':')) errs.push(invalidValue(ap, v, 'must be a valid IPv4 address'));
          else validateEndpointAddressIP(v, ap, errs);
        } else if (addressType === 'IPv6') {
          if (isValidIP(v).length > 0 || !v.includes(':')) errs.push(invalidValue(ap, v, 'must be a valid IPv6 address'));
          else validateEndpointAddressIP(v, ap, errs);
        } else if (addressType === 'FQDN') {
          for (const m of isDNS1123Subdomain(v)) errs.push(invalidValue(ap, v, m));
          if (!v.includes('.')) errs.push(invalidValue(ap, v, 'should be a domain with at least two segments separated by dots'));
        }
      });
      if (isSet(ep?.nodeName)) for (const m of isDNS1123Subdomain(String(ep.nodeName))) errs.push(invalidValue(`${p}.nodeName`, String(ep.nodeName), m));
      validateLabels(ep?.deprecatedTopology, `${p}.deprecatedTopology`, errs);
      if (isSet(ep?.hostname)) validateDNS1123Label(String(ep.hostname), `${p}.hostname`, errs);
    });
  }
  const ports = asArray(es.ports);
  if (ports.length > MAX_PORTS) errs.push(tooMany('ports', ports.length, MAX_PORTS));
  else {
    const names = new Set<string>();
    ports.forEach((port, i) => {
      const p = `ports[${i}]`;
      const name = String(port?.name ?? '');
      if (name) validateDNS1123Label(name, `${p}.name`, errs);
      if (names.has(name)) errs.push(duplicate(`${p}.name`, name));
      else names.add(name);
      if (!isSet(port?.protocol)) errs.push(required(`${p}.protocol`, ''));
      else if (!['SCTP', 'TCP', 'UDP'].includes(port.protocol)) errs.push(notSupported(`${p}.protocol`, String(port.protocol), ['SCTP', 'TCP', 'UDP']));
      if (isSet(port?.port)) for (const m of isValidPortNum(Number(port.port))) errs.push(invalidValue(`${p}.port`, Number(port.port), m));
      if (isSet(port?.appProtocol)) for (const m of isQualifiedName(String(port.appProtocol))) errs.push(invalidValue(`${p}.appProtocol`, String(port.appProtocol), m));
    });
  }
  if (!old) {
    if (!addressType) errs.push(required('addressType', ''));
    else if (!ADDRESS_TYPES.includes(addressType)) errs.push(notSupported('addressType', addressType, ADDRESS_TYPES));
  } else if (addressType !== String(old.addressType ?? '')) {
    errs.push(invalidValue('addressType', addressType, 'field is immutable'));
  }
  return errs;
}

export const endpointslices = define({
  group: 'discovery.k8s.io',
  version: 'v1',
  kind: 'EndpointSlice',
  resource: 'endpointslices',
  singular: 'endpointslice',
  namespaced: true,
  schema: ENDPOINT_SLICE,
  tracksGeneration: true,
  defaults: defaultEndpointSlice,
  validate: validateEndpointSlice,
  table: ENDPOINT_SLICE_TABLE,
});
