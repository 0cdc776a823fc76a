import {
  OPTIMISTIC_LOCK_MESSAGE,
  StatusError,
  alreadyExists,
  badRequest,
  conflict,
  expired,
  forbidden,
  forbiddenError,
  generateNameConflict,
  gone,
  internal,
  invalid,
  isAlreadyExists,
  isConflict,
  isInvalid,
  isNotFound,
  isStatusError,
  methodNotAllowed,
  methodNotSupported,
  notAcceptable,
  notFound,
  reasonForError,
  requestEntityTooLarge,
  resourceExpired,
  serverTimeout,
  serviceUnavailable,
  statusErrorFromStatus,
  statusFromError,
  timeout,
  tooManyRequests,
  unauthorized,
  unsupportedMediaType,
} from './status';
import { invalidValue, required } from './validation';

describe('StatusError', () => {
  it('is an Error carrying code, reason and details', () => {
    const e = notFound('', 'pods', 'web');
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(StatusError);
    expect(e.name).toBe('StatusError');
    expect(e.code).toBe(404);
    expect(e.reason).toBe('NotFound');
    expect(e.message).toBe('pods "web" not found');
    expect(e.details).toEqual({ name: 'web', group: '', kind: 'pods' });
  });

  it('renders a metav1.Status with kube field order and empty fields omitted', () => {
    const s = notFound('', 'pods', 'web').toStatus();
    expect(JSON.stringify(s)).toBe(
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"web\\" not found",' +
        '"reason":"NotFound","details":{"name":"web","kind":"pods"},"code":404}',
    );
    // JSON.stringify of the error itself gives the same Status.
    expect(JSON.parse(JSON.stringify(notFound('', 'pods', 'web')))).toEqual(s);
  });

  it('keeps the group in messages and details', () => {
    const e = notFound('apps', 'deployments', 'web');
    expect(e.message).toBe('deployments.apps "web" not found');
    expect(e.toStatus().details).toEqual({ name: 'web', group: 'apps', kind: 'deployments' });
  });

  it('quotes names as Go %q does', () => {
    expect(notFound('', 'pods', 'a"b\n').message).toBe('pods "a\\"b\\n" not found');
  });

  it('leaves details out when there are none', () => {
    const s = badRequest('nope').toStatus();
    expect(s).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'nope',
      reason: 'BadRequest',
      code: 400,
    });
    expect('details' in s).toBe(false);
  });
});

describe('factories', () => {
  it('alreadyExists', () => {
    const e = alreadyExists('', 'configmaps', 'cfg');
    expect([e.code, e.reason, e.message]).toEqual([409, 'AlreadyExists', 'configmaps "cfg" already exists']);
  });

  it('generateNameConflict', () => {
    const e = generateNameConflict('', 'pods', 'web-abcde');
    expect(e.code).toBe(409);
    expect(e.reason).toBe('AlreadyExists');
    expect(e.message).toBe(
      'pods "web-abcde" already exists, the server was not able to generate a unique name for the object',
    );
    expect(e.details?.retryAfterSeconds).toBe(1);
  });

  it('conflict with the optimistic lock message', () => {
    const e = conflict('apps', 'deployments', 'web', OPTIMISTIC_LOCK_MESSAGE);
    expect(e.code).toBe(409);
    expect(e.reason).toBe('Conflict');
    expect(e.message).toBe(
      'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again',
    );
  });

  describe('invalid', () => {
    it('one cause: no brackets', () => {
      const e = invalid('', 'Pod', 'web', [required('spec.containers[0].image')]);
      expect(e.code).toBe(422);
      expect(e.reason).toBe('Invalid');
      expect(e.message).toBe('Pod "web" is invalid: spec.containers[0].image: Required value');
      expect(e.toStatus().details).toEqual({
        name: 'web',
        kind: 'Pod',
        causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' }],
      });
    });

    it('several causes: bracketed, comma-separated, duplicates dropped from the message only', () => {
      const causes = [
        required('spec.containers[0].image'),
        invalidValue('metadata.name', 'Bad_Name', 'must be lower case'),
        required('spec.containers[0].image'),
      ];
      const e = invalid('apps', 'Deployment', 'Bad_Name', causes);
      expect(e.message).toBe(
        'Deployment.apps "Bad_Name" is invalid: [spec.containers[0].image: Required value, metadata.name: Invalid value: "Bad_Name": must be lower case]',
      );
      expect(e.details?.causes).toHaveLength(3);
      expect(e.details?.group).toBe('apps');
      expect(e.details?.kind).toBe('Deployment');
    });

    it('no causes', () => {
      expect(invalid('', 'Pod', 'web', []).message).toBe('Pod "web" is invalid');
    });
  });

  it('badRequest, unauthorized, notAcceptable, serviceUnavailable', () => {
    expect([badRequest('x').code, badRequest('x').reason]).toEqual([400, 'BadRequest']);
    expect([unauthorized().code, unauthorized().reason, unauthorized().message]).toEqual([401, 'Unauthorized', 'Unauthorized']);
    expect(unauthorized('').message).toBe('not authorized');
    expect([notAcceptable('only json').code, notAcceptable('only json').reason]).toEqual([406, 'NotAcceptable']);
    const su = serviceUnavailable('etcd is down');
    expect([su.code, su.reason, su.message]).toEqual([503, 'ServiceUnavailable', 'etcd is down']);
  });

  describe('forbidden', () => {
    it('as a 403 StatusError (four arguments)', () => {
      const e = forbidden('', 'pods', 'web', 'User "bob" cannot get resource "pods"');
      expect(e.code).toBe(403);
      expect(e.reason).toBe('Forbidden');
      expect(e.message).toBe('pods "web" is forbidden: User "bob" cannot get resource "pods"');
    });

    it('as a field cause (two arguments)', () => {
      expect(forbidden('metadata.namespace', 'not allowed on this type')).toEqual({
        reason: 'FieldValueForbidden',
        message: 'Forbidden: not allowed on this type',
        field: 'metadata.namespace',
      });
      expect(forbidden('spec').message).toBe('Forbidden');
    });

    it('without a name or resource', () => {
      expect(forbiddenError('apps', 'deployments', '', 'denied').message).toBe('deployments.apps is forbidden: denied');
      expect(forbiddenError('', '', '', 'denied').message).toBe('forbidden: denied');
    });
  });

  it('methodNotAllowed and methodNotSupported', () => {
    expect(methodNotAllowed('no').code).toBe(405);
    const e = methodNotSupported('', 'bindings', 'list');
    expect([e.code, e.reason, e.message]).toEqual([405, 'MethodNotAllowed', 'list is not supported on resources of kind "bindings"']);
  });

  it('unsupportedMediaType', () => {
    const e = unsupportedMediaType('text/plain');
    expect([e.code, e.reason]).toEqual([415, 'UnsupportedMediaType']);
    expect(e.message).toBe(
      'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml',
    );
    expect(unsupportedMediaType('text/plain', ['application/json-patch+json', 'application/merge-patch+json']).message).toBe(
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json',
    );
  });

  it('requestEntityTooLarge', () => {
    const e = requestEntityTooLarge('limit is 3145728');
    expect([e.code, e.reason, e.message]).toEqual([413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728']);
  });

  it('expired, gone and resourceExpired', () => {
    for (const e of [expired('x'), gone('x')]) expect([e.code, e.reason]).toEqual([410, 'Expired']);
    const e = resourceExpired(5, 20);
    expect([e.code, e.reason, e.message]).toEqual([410, 'Expired', 'too old resource version: 5 (20)']);
    expect(resourceExpired('5', 20n).message).toBe('too old resource version: 5 (20)');
  });

  it('internal', () => {
    const e = internal('boom');
    expect([e.code, e.reason, e.message]).toEqual([500, 'InternalError', 'Internal error occurred: boom']);
    expect(e.toStatus().details).toEqual({ causes: [{ message: 'boom' }] });
  });

  it('timeout and serverTimeout', () => {
    const t = timeout('request did not complete within requested timeout - context deadline exceeded', 2);
    expect([t.code, t.reason]).toEqual([504, 'Timeout']);
    expect(t.message).toBe('Timeout: request did not complete within requested timeout - context deadline exceeded');
    expect(t.toStatus().details).toEqual({ retryAfterSeconds: 2 });
    expect(timeout('x').toStatus().details).toEqual({});
    const st = serverTimeout('', 'pods', 'create', 1);
    expect([st.code, st.reason]).toEqual([500, 'ServerTimeout']);
    expect(st.message).toBe('The create operation against pods could not be completed at this time, please try again.');
  });

  it('tooManyRequests', () => {
    const e = tooManyRequests('slow down', 3);
    expect([e.code, e.reason, e.message]).toEqual([429, 'TooManyRequests', 'slow down']);
    expect(e.details?.retryAfterSeconds).toBe(3);
  });
});

describe('helpers', () => {
  it('isStatusError recognises StatusErrors, also from another copy of the module', () => {
    expect(isStatusError(badRequest('x'))).toBe(true);
    expect(isStatusError(new Error('x'))).toBe(false);
    expect(isStatusError(null)).toBe(false);
    expect(isStatusError('x')).toBe(false);
    const foreign = Object.assign(new Error('x'), { code: 400, reason: 'BadRequest' });
    Object.defineProperty(foreign, Symbol.for('@kubets/api-machinery.StatusError'), { value: true });
    expect(isStatusError(foreign)).toBe(true);
  });

  it('statusFromError', () => {
    const se = conflict('', 'pods', 'a', 'b');
    expect(statusFromError(se)).toBe(se);
    const fromError = statusFromError(new TypeError('cannot read x'));
    expect([fromError.code, fromError.message]).toEqual([500, 'Internal error occurred: cannot read x']);
    expect(statusFromError('plain').message).toBe('Internal error occurred: plain');
    expect(statusFromError({ a: 1 }).message).toBe('Internal error occurred: {"a":1}');
    expect(statusFromError(undefined).code).toBe(500);
  });

  it('statusErrorFromStatus round-trips a Status', () => {
    const s = notFound('apps', 'deployments', 'web').toStatus();
    const e = statusErrorFromStatus(s);
    expect(e.toStatus()).toEqual(s);
  });

  it('reason predicates', () => {
    expect(isNotFound(notFound('', 'pods', 'x'))).toBe(true);
    expect(isNotFound(new Error('x'))).toBe(false);
    expect(isAlreadyExists(alreadyExists('', 'pods', 'x'))).toBe(true);
    expect(isConflict(conflict('', 'pods', 'x', 'y'))).toBe(true);
    expect(isInvalid(invalid('', 'Pod', 'x', []))).toBe(true);
    expect(reasonForError(42)).toBe('');
  });
});
