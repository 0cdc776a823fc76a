import { Writable } from 'node:stream';
import { main, NOT_WIRED_MESSAGE } from './main';

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

describe('kubets-scheduler main (placeholder)', () => {
  it("parses kube-scheduler's flags and says it is not wired yet", () => {
    const err = sink();
    const log = sink();
    const code = main({
      argv: ['--kubeconfig', '/tmp/admin.kubeconfig', '--leader-elect=false', '--secure-port', '10260', '--bind-address', '127.0.0.1'],
      env: {},
      err: err.stream,
      logDestination: log.stream,
    });
    expect(code).toBe(1);
    expect(err.text()).toContain(NOT_WIRED_MESSAGE);
    expect(err.text()).toContain('not wired to the cluster yet');
    const started = JSON.parse(log.text().split('\n')[0]!);
    expect(started.config).toMatchObject({
      kubeconfig: '/tmp/admin.kubeconfig',
      leaderElect: false,
      securePort: 10260,
      bindAddress: '127.0.0.1',
      leaderElectLeaseDuration: 15000,
      leaderElectRenewDeadline: 10000,
      leaderElectRetryPeriod: 2000,
    });
  });

  it('defaults to port 10259 and leader election on, and checks the renew deadline', () => {
    const log = sink();
    const err = sink();
    expect(main({ argv: [], env: {}, err: err.stream, logDestination: log.stream })).toBe(1);
    expect(JSON.parse(log.text().split('\n')[0]!).config).toMatchObject({ securePort: 10259, leaderElect: true, bindAddress: '0.0.0.0' });
    const err2 = sink();
    expect(main({ argv: ['--leader-elect-renew-deadline', '20s'], env: {}, err: err2.stream, logDestination: sink().stream })).toBe(2);
    expect(err2.text()).toContain('--leader-elect-renew-deadline must be less than --leader-elect-lease-duration');
  });
});
