import { ApiEnv } from './harness';
import { kubectlScenario } from './kubectl-scenario';

jest.setTimeout(180_000);

describe('stock kubectl against kubets-apiserver on a real etcd 3.4', () => {
  let env: ApiEnv;
  beforeAll(async () => {
    env = await ApiEnv.start({ kv: 'etcd' });
  });
  afterAll(async () => {
    await env?.dispose();
  });

  it('runs the same scenario unchanged', async () => {
    await kubectlScenario(env);
  });
});
