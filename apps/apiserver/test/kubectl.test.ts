import { ApiEnv } from './harness';
import { kubectlScenario } from './kubectl-scenario';

jest.setTimeout(180_000);

describe('stock kubectl against kubets-apiserver on a 3-member kubets-kv', () => {
  let env: ApiEnv;
  beforeAll(async () => {
    env = await ApiEnv.start({ kv: 'kubets' });
  });
  afterAll(async () => {
    await env?.dispose();
  });

  it('runs the scenario: namespace, apply, get -o wide/yaml, strategic merge apply, scale, label, watch, describe, errors, delete', async () => {
    await kubectlScenario(env);
  });
});
