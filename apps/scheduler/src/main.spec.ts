import { Writable } from 'node:stream';
import { configure } from './main';

function sink(): { stream: Writable; text: () => string } {
  let buf = '';
  return {
    stream: new Writable({
      write(chunk, _enc, cb) {
        buf += String(chunk);
        cb();
      },
    }),
    text: () => buf,
  };
}

describe('kubets-scheduler flags', () => {
  it("parses kube-scheduler's flags", () => {
    const err = sink();
    const log = sink();
    const svc = configure({
      argv: ['--kubeconfig', '/tmp/admin.kubeconfig', '--leader-elect=false', '--secure-port', '10260', '--bind-address', '127.0.0.1', '--nats-url', 'nats://127.0.0.1:4222'],
      env: {},
      err: err.stream,
      logDestination: log.stream,
    });
    expect(typeof svc).toBe('object');
    expect(err.text()).toBe('');
    const started = JSON.parse(log.text().split('\n')[0]!);
    expect(started.config).toMatchObject({
      kubeconfig: '/tmp/admin.kubeconfig',
      leaderElect: false,
      securePort: 10260,
      bindAddress: '127.0.0.1',
      leaderElectLeaseDuration: 15000,
      leaderElectRenewDeadline: 10000,
      leaderElectRetryPeriod: 2000,
      natsUrl: 'nats://127.0.0.1:4222',
      schedulerName: 'default-scheduler',
    });
  });

  it('defaults to port 10259 and leader election on, and checks the renew deadline and kubeconfig', () => {
    const log = sink();
    const err = sink();
    expect(configure({ argv: [], env: {}, err: err.stream, logDestination: log.stream })).toBe(2);
    expect(err.text()).toContain('--kubeconfig is required');
    expect(JSON.parse(log.text().split('\n')[0]!).config).toMatchObject({ securePort: 10259, leaderElect: true, bindAddress: '0.0.0.0' });
    const err2 = sink();
    expect(configure({ argv: ['--kubeconfig', 'k', '--leader-elect-renew-deadline', '20s'], env: {}, err: err2.stream, logDestination: sink().stream })).toBe(2);
    expect(err2.text()).toContain('--leader-elect-renew-deadline must be less than --leader-elect-lease-duration');
  });
});
