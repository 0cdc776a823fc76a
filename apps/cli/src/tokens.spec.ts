import { BOOTSTRAP_TOKEN_PATTERN, bootstrapUser, formatTokenFile, generateBearerToken, generateBootstrapToken, parseTokenFile } from './tokens';

test('generated bootstrap tokens match kubeadm format', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const t = generateBootstrapToken();
    expect(t).toMatch(BOOTSTRAP_TOKEN_PATTERN);
    seen.add(t);
  }
  expect(seen.size).toBe(50);
  expect(bootstrapUser('abcdef.0123456789abcdef')).toBe('system:bootstrap:abcdef');
  expect(() => bootstrapUser('nope')).toThrow(/not a bootstrap token/);
  expect(generateBearerToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
});

test('token file: kube-apiserver format, round trip', () => {
  const entries = [
    { token: 'abcdef.0123456789abcdef', user: 'system:bootstrap:abcdef', uid: 'bootstrap-token-abcdef', groups: ['system:bootstrappers', 'system:bootstrappers:kubeadm:default-node-token'] },
    { token: 'secret', user: 'admin', uid: 'admin', groups: ['system:masters'] },
    { token: 'nogroups', user: 'bob', uid: '42', groups: [] },
  ];
  const text = formatTokenFile(entries);
  expect(text).toBe(
    'abcdef.0123456789abcdef,system:bootstrap:abcdef,bootstrap-token-abcdef,"system:bootstrappers,system:bootstrappers:kubeadm:default-node-token"\n' +
      'secret,admin,admin,"system:masters"\n' +
      'nogroups,bob,42\n',
  );
  expect(parseTokenFile(text)).toEqual(entries);
  expect(parseTokenFile('# comment\n\nt,"user name",u,"a, b",ignored\n')).toEqual([{ token: 't', user: 'user name', uid: 'u', groups: ['a', 'b'] }]);
  expect(() => parseTokenFile('t,u\n')).toThrow(/line 1: want at least 3 columns/);
  expect(() => parseTokenFile('t,"u,x\n')).toThrow(/unterminated/);
  expect(() => formatTokenFile([{ token: 'a,b', user: 'u', uid: 'u', groups: [] }])).toThrow(/comma/);
});
