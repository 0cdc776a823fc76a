import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, parseDuration, parseFlags, redactConfig, usage, type FlagSpecs } from './flags';

const specs = {
  name: { type: 'string', default: 'default', description: 'member name' },
  'data-dir': { type: 'string', description: 'data directory' },
  'snapshot-count': { type: 'number', default: 100000, integer: true, min: 1, description: 'entries per snapshot' },
  'enable-pprof': { type: 'boolean', description: 'profiling' },
  'listen-client-urls': { type: 'list', default: ['http://localhost:2379'], description: 'client URLs' },
  'election-timeout': { type: 'duration', default: '1s', description: 'election timeout' },
  'proxy-mode': { type: 'string', choices: ['ipvs', 'nftables'], description: 'mode' },
  token: { type: 'string', secret: true, description: 'a secret' },
} as const satisfies FlagSpecs;

describe('parseFlags', () => {
  it('applies defaults and camelCases names', () => {
    const { config } = parseFlags(specs, { argv: [], env: {} });
    expect(config).toEqual({
      name: 'default',
      dataDir: undefined,
      snapshotCount: 100000,
      enablePprof: false,
      listenClientUrls: ['http://localhost:2379'],
      electionTimeout: 1000,
      proxyMode: undefined,
      token: undefined,
    });
  });

  it('accepts --flag value, --flag=value, bare booleans and positionals', () => {
    const { config, positionals } = parseFlags(specs, {
      argv: ['--name', 'infra1', '--data-dir=/var/lib/kv', '--enable-pprof', 'extra', '--listen-client-urls=http://a:1,http://b:2', '--', '--not-a-flag'],
      env: {},
    });
    expect(config.name).toBe('infra1');
    expect(config.dataDir).toBe('/var/lib/kv');
    expect(config.enablePprof).toBe(true);
    expect(config.listenClientUrls).toEqual(['http://a:1', 'http://b:2']);
    expect(positionals).toEqual(['extra', '--not-a-flag']);
  });

  it('takes precedence flags > env > file > default', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kit-flags-'));
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, 'name: from-file\ndataDir: /file\nsnapshot-count: 7\nelection-timeout: 2s\n');
    const { config } = parseFlags(specs, {
      argv: ['--config', file, '--name', 'from-flag'],
      env: { ETCD_NAME: 'from-env', ETCD_DATA_DIR: '/env' },
      envPrefix: 'ETCD',
    });
    expect(config.name).toBe('from-flag');
    expect(config.dataDir).toBe('/env');
    expect(config.snapshotCount).toBe(7);
    expect(config.electionTimeout).toBe(2000);
    fs.rmSync(dir, { recursive: true });
  });

  it('rejects bad input with the flag and the reason', () => {
    const bad = (argv: string[], env: NodeJS.ProcessEnv = {}) => () => parseFlags(specs, { argv, env, envPrefix: 'ETCD' });
    expect(bad(['--nope'])).toThrow(new ConfigError('unknown flag: --nope'));
    expect(bad(['-x'])).toThrow('unknown shorthand flag: -x');
    expect(bad(['--name'])).toThrow('flag needs an argument: --name');
    expect(bad(['--snapshot-count', 'many'])).toThrow('flag: --snapshot-count: "many" is not a number');
    expect(bad(['--snapshot-count', '1.5'])).toThrow('is not an integer');
    expect(bad(['--snapshot-count', '0'])).toThrow('below the minimum 1');
    expect(bad(['--enable-pprof=maybe'])).toThrow('"maybe" is not a boolean');
    expect(bad(['--election-timeout', '5 parsecs'])).toThrow('invalid duration');
    expect(bad(['--proxy-mode', 'userspace'])).toThrow('"userspace" is not one of ipvs, nftables');
    expect(bad([], { ETCD_SNAPSHOT_COUNT: 'x' })).toThrow('env ETCD_SNAPSHOT_COUNT: --snapshot-count');
    expect(bad(['--config', '/no/such/file.yaml'])).toThrow(/config file \/no\/such\/file.yaml/);
  });

  it('rejects unknown fields and non-mappings in a config file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kit-flags-'));
    const unknown = path.join(dir, 'u.yaml');
    fs.writeFileSync(unknown, 'nmae: typo\n');
    expect(() => parseFlags(specs, { argv: ['--config', unknown], env: {} })).toThrow('unknown field "nmae"');
    const list = path.join(dir, 'l.yaml');
    fs.writeFileSync(list, '- a\n- b\n');
    expect(() => parseFlags(specs, { argv: ['--config', list], env: {} })).toThrow('expected a mapping');
    const broken = path.join(dir, 'b.yaml');
    fs.writeFileSync(broken, 'name: [unclosed\n');
    expect(() => parseFlags(specs, { argv: ['--config', broken], env: {} })).toThrow(ConfigError);
    fs.rmSync(dir, { recursive: true });
  });

  it('enforces required flags unless --help', () => {
    const req = { server: { type: 'string', required: true, description: 's' } } as const satisfies FlagSpecs;
    expect(() => parseFlags(req, { argv: [], env: {} })).toThrow('required flag --server is not set');
    expect(parseFlags(req, { argv: ['--help'], env: {} }).help).toBe(true);
  });

  it('prints usage with defaults and env names, and redacts secrets', () => {
    const text = usage('kubets-kv', 'The KV.', specs, { envPrefix: 'ETCD' });
    expect(text).toContain('--snapshot-count number');
    expect(text).toContain('(default 100000) [$ETCD_SNAPSHOT_COUNT]');
    expect(text).toContain('--listen-client-urls strings');
    const { config } = parseFlags(specs, { argv: ['--token', 's3cr3t'], env: {} });
    expect(redactConfig(specs, config).token).toBe('[REDACTED]');
    expect(JSON.stringify(redactConfig(specs, config))).not.toContain('s3cr3t');
  });
});

describe('parseDuration', () => {
  it.each([
    ['40s', 40_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1.5s', 1_500],
    ['100', 100],
  ])('%s = %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 's', '10x', '5m garbage', '-1s'])('rejects "%s"', (text) => expect(() => parseDuration(text)).toThrow('invalid duration'));
});
