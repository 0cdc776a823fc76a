import {
  aggregateCauses,
  duplicate,
  fieldForbidden,
  fieldNotFound,
  invalidValue,
  isCIdentifier,
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
  maskTrailingDash,
  nameIsDNSLabel,
  nameIsDNSSubdomain,
  notSupported,
  required,
  tooLong,
  typeInvalid,
  validateObjectMetaCommon,
  validateObjectMetaUpdate,
} from './validation';

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const NAME_PART_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

describe('DNS names', () => {
  it('isDNS1123Subdomain', () => {
    for (const ok of ['a', 'web', 'web-1', 'a.b.c', '0', 'x'.repeat(253)]) expect(isDNS1123Subdomain(ok)).toEqual([]);
    expect(isDNS1123Subdomain('Bad_Name')).toEqual([SUBDOMAIN_MSG]);
    for (const bad of ['', '-a', 'a-', 'a..b', '.a', 'A']) expect(isDNS1123Subdomain(bad)).toEqual([SUBDOMAIN_MSG]);
    expect(isDNS1123Subdomain('x'.repeat(254))).toEqual(['must be no more than 253 characters']);
    expect(isDNS1123Subdomain('X'.repeat(254))).toEqual(['must be no more than 253 characters', SUBDOMAIN_MSG]);
  });

  it('isDNS1123Label', () => {
    expect(isDNS1123Label('kube-system')).toEqual([]);
    expect(isDNS1123Label('a.b')).toEqual(['must not contain dots']);
    expect(isDNS1123Label('Default')).toEqual([LABEL_MSG]);
    expect(isDNS1123Label('x'.repeat(64))).toEqual(['must be no more than 63 characters']);
  });

  it('isDNS1035Label', () => {
    expect(isDNS1035Label('my-svc')).toEqual([]);
    expect(isDNS1035Label('1svc')).toEqual([
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    ]);
  });

  it('name validators mask a trailing dash of a generateName', () => {
    expect(maskTrailingDash('web-')).toBe('wea');
    expect(maskTrailingDash('-')).toBe('-');
    expect(maskTrailingDash('web')).toBe('web');
    expect(nameIsDNSSubdomain('web-', true)).toEqual([]);
    expect(nameIsDNSSubdomain('web-')).toEqual([SUBDOMAIN_MSG]);
    expect(nameIsDNSLabel('a.b-', true)).toEqual(['must not contain dots']);
  });
});

describe('qualified names and label values', () => {
  it('accepts plain and prefixed keys', () => {
    for (const ok of ['app', 'App_1.x', 'example.com/MyName', 'app.kubernetes.io/name', 'a'.repeat(63)]) {
      expect(isQualifiedName(ok)).toEqual([]);
    }
  });

  it('rejects bad names with kube messages', () => {
    expect(isQualifiedName('-app')).toEqual([NAME_PART_MSG]);
    expect(isQualifiedName('')).toEqual(['name part must be non-empty', NAME_PART_MSG]);
    expect(isQualifiedName('example.com/')).toEqual(['name part must be non-empty', NAME_PART_MSG]);
    expect(isQualifiedName('/app')).toEqual(['prefix part must be non-empty']);
    expect(isQualifiedName('Example.com/app')).toEqual(['prefix part ' + SUBDOMAIN_MSG]);
    expect(isQualifiedName('a'.repeat(64))).toEqual(['name part must be no more than 63 bytes']);
    expect(isQualifiedName('a/b/c')).toEqual([
      "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ]);
  });

  it('label values', () => {
    for (const ok of ['', 'v1', 'my_value', 'a.b-c', 'x'.repeat(63)]) expect(isValidLabelValue(ok)).toEqual([]);
    expect(isValidLabelValue('-bad')).toEqual([LABEL_VALUE_MSG]);
    expect(isValidLabelValue('a b')).toEqual([LABEL_VALUE_MSG]);
    expect(isValidLabelValue('x'.repeat(64))).toEqual(['must be no more than 63 bytes']);
  });
});

describe('ports, identifiers and keys', () => {
  it('isValidPortNum', () => {
    expect(isValidPortNum(1)).toEqual([]);
    expect(isValidPortNum(65535)).toEqual([]);
    for (const bad of [0, 65536, -1, 1.5]) expect(isValidPortNum(bad)).toEqual(['must be between 1 and 65535, inclusive']);
  });

  it('isValidPortName', () => {
    expect(isValidPortName('http')).toEqual([]);
    expect(isValidPortName('web-80')).toEqual([]);
    expect(isValidPortName('a-very-long-port-name')).toEqual(['must be no more than 15 characters']);
    expect(isValidPortName('HTTP')).toEqual([
      'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      'must contain at least one letter (a-z)',
    ]);
    expect(isValidPortName('8080')).toEqual(['must contain at least one letter (a-z)']);
    expect(isValidPortName('a--b')).toEqual(['must not contain consecutive hyphens']);
    expect(isValidPortName('-ab')).toEqual(['must not begin or end with a hyphen']);
  });

  it('isCIdentifier', () => {
    expect(isCIdentifier('_my_var1')).toEqual([]);
    expect(isCIdentifier('1var')).toEqual([
      "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')",
    ]);
  });

  it('isEnvVarName', () => {
    for (const ok of ['PATH', 'my.env-name', '_x', '.a']) expect(isEnvVarName(ok)).toEqual([]);
    const re =
      "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";
    expect(isEnvVarName('1ABC')).toEqual([re]);
    expect(isEnvVarName('A=B')).toEqual([re]);
    expect(isEnvVarName('.')).toEqual(["must not be '.'"]);
    expect(isEnvVarName('..')).toEqual(["must not be '..'"]);
    expect(isEnvVarName('..a')).toEqual(["must not start with '..'"]);
  });

  it('isConfigMapKey', () => {
    expect(isConfigMapKey('app.properties')).toEqual([]);
    expect(isConfigMapKey('a/b')).toEqual([
      "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    ]);
    expect(isConfigMapKey('..data')).toEqual(["must not start with '..'"]);
    expect(isConfigMapKey('k'.repeat(254))).toEqual(['must be no more than 253 characters']);
  });
});

describe('IP addresses', () => {
  it('accepts canonical addresses', () => {
    for (const ok of ['10.0.0.1', '0.0.0.0', '255.255.255.255', '::', '::1', '2001:db8::1', 'fe80::1:2', '1:2:3:4:5:6:7:8']) {
      expect(isValidIP(ok)).toEqual([]);
    }
  });

  it('rejects garbage', () => {
    for (const bad of ['', 'x', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.-1', '2001:db8:::1', ':::', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', '12345::']) {
      expect(isValidIP(bad)).toEqual(['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']);
    }
  });

  it('rejects sloppy and non-canonical forms', () => {
    expect(isValidIP('010.1.1.1')).toEqual(['must not have leading 0s']);
    expect(isValidIP('::ffff:1.2.3.4')).toEqual(['must not be an IPv4-mapped IPv6 address']);
    expect(isValidIP('2001:DB8::1')).toEqual(['must be in canonical form ("2001:db8::1")']);
    expect(isValidIP('2001:db8:0:0:1:0:0:1')).toEqual(['must be in canonical form ("2001:db8::1:0:0:1")']);
    expect(isValidIP('2001:db8::0:1')).toEqual(['must be in canonical form ("2001:db8::1")']);
    expect(isValidIP('1:0:2:3:4:5:6:7')).toEqual([]);
    expect(isValidIP('::1.2.3.4')).toEqual(['must be in canonical form ("::102:304")']);
  });

  it('CIDRs', () => {
    for (const ok of ['10.0.0.0/8', '0.0.0.0/0', '10.1.2.3/32', '2001:db8::/64', '::/0']) expect(isValidCIDR(ok)).toEqual([]);
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/x', 'foo/8', '2001:db8::/129']) {
      expect(isValidCIDR(bad)).toEqual(['must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']);
    }
    expect(isValidCIDR('10.0.0.1/24')).toEqual(['must not have bits set beyond the prefix length']);
    expect(isValidCIDR('010.0.0.0/8')).toEqual(['must not have leading 0s in IP or prefix length']);
    expect(isValidCIDR('10.0.0.0/08')).toEqual(['must not have leading 0s in IP or prefix length']);
    expect(isValidCIDR('::ffff:10.0.0.0/104')).toEqual(['must not have an IPv4-mapped IPv6 address']);
    expect(isValidCIDR('2001:DB8::/64')).toEqual(['must be in canonical form ("2001:db8::/64")']);
  });
});

describe('cause helpers', () => {
  it('format messages as field.Error.ErrorBody()', () => {
    expect(required('metadata.name', 'name or generateName is required')).toEqual({
      reason: 'FieldValueRequired',
      message: 'Required value: name or generateName is required',
      field: 'metadata.name',
    });
    expect(required('spec.containers').message).toBe('Required value');
    expect(invalidValue('spec.replicas', -1, 'must be greater than or equal to 0')).toEqual({
      reason: 'FieldValueInvalid',
      message: 'Invalid value: -1: must be greater than or equal to 0',
      field: 'spec.replicas',
    });
    expect(invalidValue('x', 'Bad_Name', 'detail').message).toBe('Invalid value: "Bad_Name": detail');
    expect(invalidValue('x', true, 'd').message).toBe('Invalid value: true: d');
    expect(invalidValue('x', null, 'd').message).toBe('Invalid value: null: d');
    expect(invalidValue('x', 1.5).message).toBe('Invalid value: 1.5');
    expect(invalidValue('x', ['a', 'b'], 'd').message).toBe('Invalid value: ["a","b"]: d');
    expect(invalidValue('x', { k: '<&>' }, 'd').message).toBe('Invalid value: {"k":"\\u003c\\u0026\\u003e"}: d');
    expect(invalidValue('x', 'tab\there\u0001', 'd').message).toBe('Invalid value: "tab\\there\\x01": d');
    expect(invalidValue('x', 'héllo', 'd').message).toBe('Invalid value: "héllo": d');
    expect(notSupported('spec.restartPolicy', 'Sometimes', ['Always', 'OnFailure', 'Never'])).toEqual({
      reason: 'FieldValueNotSupported',
      message: 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
      field: 'spec.restartPolicy',
    });
    expect(notSupported('x', 'y', []).message).toBe('Unsupported value: "y"');
    expect(duplicate('spec.containers[1].name', 'web')).toEqual({
      reason: 'FieldValueDuplicate',
      message: 'Duplicate value: "web"',
      field: 'spec.containers[1].name',
    });
    expect(fieldForbidden('spec', 'pod updates may not change fields other than `spec.containers[*].image`').message).toBe(
      'Forbidden: pod updates may not change fields other than `spec.containers[*].image`',
    );
    expect(tooLong('metadata.annotations', 262144)).toEqual({
      reason: 'FieldValueTooLong',
      message: 'Too long: may not be more than 262144 bytes',
      field: 'metadata.annotations',
    });
    expect(tooLong('x', 1).message).toBe('Too long: may not be more than 1 byte');
    expect(tooLong('x', -1).message).toBe('Too long: value is too long');
    expect(typeInvalid('spec.replicas', 'string', 'must be integer')).toEqual({
      reason: 'FieldValueTypeInvalid',
      message: 'Invalid value: "string": must be integer',
      field: 'spec.replicas',
    });
    expect(fieldNotFound('spec.x', 'y').message).toBe('Not found: "y"');
  });

  it('aggregateCauses', () => {
    expect(aggregateCauses([])).toBe('');
    expect(aggregateCauses([required('a')])).toBe('a: Required value');
    expect(aggregateCauses([required('a'), required('b'), required('a')])).toBe('[a: Required value, b: Required value]');
    expect(aggregateCauses([required('a'), required('a')])).toBe('a: Required value');
  });
});

describe('validateObjectMetaCommon', () => {
  const ns = { namespaced: true };

  it('accepts valid metadata', () => {
    expect(
      validateObjectMetaCommon(
        {
          name: 'web',
          namespace: 'default',
          labels: { app: 'web', 'app.kubernetes.io/name': 'x', empty: '' },
          annotations: { 'Example.com/Note': 'anything goes here' },
          finalizers: ['kubernetes.io/pv-protection'],
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'u1', controller: true }],
        },
        ns,
      ),
    ).toEqual([]);
  });

  it('requires a name or generateName', () => {
    expect(validateObjectMetaCommon({ namespace: 'default' }, ns)).toEqual([
      { reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' },
    ]);
    expect(validateObjectMetaCommon({ generateName: 'web-', namespace: 'default' }, ns)).toEqual([]);
    expect(validateObjectMetaCommon({ generateName: 'Web-', namespace: 'default' }, ns)).toEqual([
      { reason: 'FieldValueInvalid', message: `Invalid value: "Web-": ${SUBDOMAIN_MSG}`, field: 'metadata.generateName' },
    ]);
  });

  it('checks the name', () => {
    expect(validateObjectMetaCommon({ name: 'Bad_Name', namespace: 'default' }, ns)).toEqual([
      { reason: 'FieldValueInvalid', message: `Invalid value: "Bad_Name": ${SUBDOMAIN_MSG}`, field: 'metadata.name' },
    ]);
    const causes = validateObjectMetaCommon({ name: 'a.b' }, { namespaced: false, nameValidator: nameIsDNSLabel });
    expect(causes).toEqual([{ reason: 'FieldValueInvalid', message: 'Invalid value: "a.b": must not contain dots', field: 'metadata.name' }]);
    // A validator that takes only the name works too.
    expect(validateObjectMetaCommon({ name: 'x' }, { namespaced: false, nameValidator: (n: string) => (n === 'x' ? ['no x'] : []) })).toEqual([
      { reason: 'FieldValueInvalid', message: 'Invalid value: "x": no x', field: 'metadata.name' },
    ]);
  });

  it('namespace presence', () => {
    expect(validateObjectMetaCommon({ name: 'web' }, ns)).toEqual([
      { reason: 'FieldValueRequired', message: 'Required value', field: 'metadata.namespace' },
    ]);
    expect(validateObjectMetaCommon({ name: 'web', namespace: 'Bad' }, ns)).toEqual([
      { reason: 'FieldValueInvalid', message: `Invalid value: "Bad": ${LABEL_MSG}`, field: 'metadata.namespace' },
    ]);
    expect(validateObjectMetaCommon({ name: 'node1', namespace: 'default' }, { namespaced: false })).toEqual([
      { reason: 'FieldValueForbidden', message: 'Forbidden: not allowed on this type', field: 'metadata.namespace' },
    ]);
  });

  it('generation', () => {
    expect(validateObjectMetaCommon({ name: 'n', generation: -1 }, { namespaced: false })).toEqual([
      { reason: 'FieldValueInvalid', message: 'Invalid value: -1: must be greater than or equal to 0', field: 'metadata.generation' },
    ]);
  });

  it('labels: keys and values, reported on metadata.labels', () => {
    expect(validateObjectMetaCommon({ name: 'n', labels: { '-bad': 'ok', good: '-bad value' } }, { namespaced: false })).toEqual([
      { reason: 'FieldValueInvalid', message: `Invalid value: "-bad": ${NAME_PART_MSG}`, field: 'metadata.labels' },
      { reason: 'FieldValueInvalid', message: `Invalid value: "-bad value": ${LABEL_VALUE_MSG}`, field: 'metadata.labels' },
    ]);
  });

  it('annotations: keys (case-insensitive) and total size', () => {
    expect(validateObjectMetaCommon({ name: 'n', annotations: { 'a b': 'x' } }, { namespaced: false })).toEqual([
      { reason: 'FieldValueInvalid', message: `Invalid value: "a b": ${NAME_PART_MSG}`, field: 'metadata.annotations' },
    ]);
    const big = { a: 'x'.repeat(262143) };
    expect(validateObjectMetaCommon({ name: 'n', annotations: big }, { namespaced: false })).toEqual([]);
    const tooBig = { a: 'x'.repeat(262144) };
    expect(validateObjectMetaCommon({ name: 'n', annotations: tooBig }, { namespaced: false })).toEqual([
      { reason: 'FieldValueTooLong', message: 'Too long: may not be more than 262144 bytes', field: 'metadata.annotations' },
    ]);
    // Sizes are in bytes (UTF-8).
    const multiByte = { a: 'é'.repeat(131072) };
    expect(validateObjectMetaCommon({ name: 'n', annotations: multiByte }, { namespaced: false })[0].reason).toBe('FieldValueTooLong');
  });

  it('ownerReferences', () => {
    const causes = validateObjectMetaCommon(
      {
        name: 'n',
        ownerReferences: [
          { apiVersion: 'apps/', kind: '', name: '', uid: '' },
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'a', uid: '1', controller: true },
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'b', uid: '2', controller: true },
        ],
      },
      { namespaced: false },
    );
    expect(causes.map((c) => [c.field, c.message])).toEqual([
      ['metadata.ownerReferences.apiVersion', 'Invalid value: "apps/": version must not be empty'],
      ['metadata.ownerReferences.kind', 'Invalid value: "": must not be empty'],
      ['metadata.ownerReferences.name', 'Invalid value: "": must not be empty'],
      ['metadata.ownerReferences.uid', 'Invalid value: "": must not be empty'],
      [
        'metadata.ownerReferences',
        expect.stringMatching(
          /: Only one reference can have Controller set to true\. Found "true" in references for ReplicaSet\/a and ReplicaSet\/b$/,
        ),
      ],
    ]);
  });

  it('finalizers', () => {
    const causes = validateObjectMetaCommon({ name: 'n', finalizers: ['a b', 'orphan', 'foregroundDeletion'] }, { namespaced: false });
    expect(causes.map((c) => c.message)).toEqual([
      `Invalid value: "a b": ${NAME_PART_MSG}`,
      'Invalid value: ["a b","orphan","foregroundDeletion"]: finalizer orphan and foregroundDeletion cannot be both set',
    ]);
  });

  it('uses a custom path', () => {
    expect(validateObjectMetaCommon({}, { namespaced: false, path: 'spec.template.metadata' })[0].field).toBe(
      'spec.template.metadata.name',
    );
  });

  it('survives junk', () => {
    expect(validateObjectMetaCommon(null, { namespaced: false })).toHaveLength(1);
    expect(validateObjectMetaCommon({ name: 'n', labels: 'x', annotations: 5, finalizers: {}, ownerReferences: 'y' }, { namespaced: false })).toEqual([]);
  });
});

describe('validateObjectMetaUpdate', () => {
  const old = { name: 'web', namespace: 'default', uid: 'u1', creationTimestamp: '2026-01-01T00:00:00Z', generation: 3 };

  it('accepts unchanged immutable fields', () => {
    expect(validateObjectMetaUpdate({ ...old, labels: { a: 'b' } }, old)).toEqual([]);
  });

  it('refuses changes to immutable fields', () => {
    const causes = validateObjectMetaUpdate({ ...old, name: 'other', uid: 'u2', generation: 2 }, old);
    expect(causes.map((c) => [c.field, c.message])).toEqual([
      ['metadata.generation', 'Invalid value: 2: must not be decremented'],
      ['metadata.name', 'Invalid value: "other": field is immutable'],
      ['metadata.uid', 'Invalid value: "u2": field is immutable'],
    ]);
  });

  it('refuses new finalizers once deletion started', () => {
    const deleting = { ...old, deletionTimestamp: '2026-01-02T00:00:00Z', finalizers: ['a'] };
    const causes = validateObjectMetaUpdate({ ...deleting, finalizers: ['a', 'c', 'b'] }, deleting);
    expect(causes).toEqual([
      {
        reason: 'FieldValueForbidden',
        message: 'Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"b", "c"}',
        field: 'metadata.finalizers',
      },
    ]);
  });
});
