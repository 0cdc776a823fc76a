import { makePod } from '../testing';
import { DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, isExtendedResourceName, podNonZeroRequests, podRequests } from './resources';

const Mi = 1024 * 1024;

describe('podRequests', () => {
  it('sums regular containers', () => {
    const pod = makePod('p', {
      containers: [
        { name: 'a', resources: { requests: { cpu: '500m', memory: '128Mi' } } },
        { name: 'b', resources: { requests: { cpu: '1', memory: '1Gi' } } },
      ],
    });
    expect(podRequests(pod)).toMatchObject({ milliCPU: 1500, memory: 1152 * Mi });
  });

  it('takes the max of the init containers and the regular sum (kube example: cpu 3, memory 3G)', () => {
    const pod = makePod('p', {
      initContainers: [
        { name: 'ic1', resources: { requests: { cpu: '2', memory: '1G' } } },
        { name: 'ic2', resources: { requests: { cpu: '2', memory: '3G' } } },
      ],
      containers: [
        { name: 'c1', resources: { requests: { cpu: '2', memory: '1G' } } },
        { name: 'c2', resources: { requests: { cpu: '1', memory: '1G' } } },
      ],
    });
    expect(podRequests(pod)).toMatchObject({ milliCPU: 3000, memory: 3e9 });
  });

  it('adds sidecars (restartPolicy Always) to later init containers and to the regular containers', () => {
    const pod = makePod('p', {
      initContainers: [
        { name: 'sidecar', restartPolicy: 'Always', resources: { requests: { cpu: '1' } } },
        { name: 'init', resources: { requests: { cpu: '3' } } },
      ],
      containers: [{ name: 'c', resources: { requests: { cpu: '1' } } }],
    });
    // init phase: sidecar 1 + init 3 = 4; running: sidecar 1 + c 1 = 2 -> 4
    expect(podRequests(pod).milliCPU).toBe(4000);
  });

  it('adds the pod overhead', () => {
    const pod = makePod('p', { cpu: '1', memory: '1Gi', overhead: { cpu: '250m', memory: '120Mi' } });
    expect(podRequests(pod)).toMatchObject({ milliCPU: 1250, memory: 1144 * Mi });
  });

  it('counts ephemeral-storage and extended resources, ignores unknown native names', () => {
    const pod = makePod('p', { requests: { 'ephemeral-storage': '1Gi', 'example.com/gpu': '2', 'hugepages-2Mi': '4Mi', 'kubernetes.io/foo': '1' } });
    const r = podRequests(pod);
    expect(r.ephemeralStorage).toBe(1024 * Mi);
    expect(r.scalar?.get('example.com/gpu')).toBe(2);
    expect(r.scalar?.get('hugepages-2Mi')).toBe(4 * Mi);
    expect(r.scalar?.has('kubernetes.io/foo')).toBe(false);
  });

  it('non-zero requests default each container without a request to 100m / 200Mi', () => {
    const pod = makePod('p', {
      containers: [
        { name: 'a', resources: {} },
        { name: 'b', resources: { requests: { cpu: '250m' } } },
      ],
    });
    expect(podNonZeroRequests(pod)).toEqual({ milliCPU: DEFAULT_MILLI_CPU_REQUEST + 250, memory: 2 * DEFAULT_MEMORY_REQUEST });
    expect(podRequests(pod)).toMatchObject({ milliCPU: 250, memory: 0 });
  });

  it('knows extended resource names', () => {
    expect(isExtendedResourceName('example.com/gpu')).toBe(true);
    expect(isExtendedResourceName('cpu')).toBe(false);
    expect(isExtendedResourceName('kubernetes.io/something')).toBe(false);
    expect(isExtendedResourceName('requests.example.com/gpu')).toBe(false);
  });
});
