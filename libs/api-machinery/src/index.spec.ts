import * as api from './index';

describe('public API', () => {
  it('exports what other packages import', () => {
    const names = [
      'StatusError', 'StatusReason', 'OPTIMISTIC_LOCK_MESSAGE', 'isStatusError', 'statusFromError', 'notFound', 'alreadyExists',
      'conflict', 'invalid', 'badRequest', 'unauthorized', 'forbidden', 'methodNotAllowed', 'unsupportedMediaType',
      'requestEntityTooLarge', 'gone', 'expired', 'resourceExpired', 'internal', 'timeout', 'serviceUnavailable',
      'tooManyRequests', 'notAcceptable',
      'isDNS1123Subdomain', 'isDNS1123Label', 'isDNS1035Label', 'isQualifiedName', 'isValidLabelValue', 'isValidPortNum',
      'isValidIP', 'isValidCIDR', 'isValidPortName', 'isCIdentifier', 'isEnvVarName', 'isConfigMapKey',
      'validateObjectMetaCommon', 'required', 'invalidValue', 'notSupported', 'duplicate', 'tooLong', 'fieldForbidden',
      'parseSelector', 'selectorFromLabelSelector', 'Selector', 'parseFieldSelector', 'FieldSelector',
      'applyMergePatch', 'applyJsonPatch', 'applyStrategicMergePatch',
      'humanDuration', 'rfc3339', 'generateNameSuffix', 'newUid',
      'findUnknownFields', 'checkTypes', 'toOpenApiV3',
    ];
    for (const n of names) expect(typeof (api as Record<string, unknown>)[n]).not.toBe('undefined');
  });
});
