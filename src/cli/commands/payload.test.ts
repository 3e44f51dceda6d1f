import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigRef, parseSecretRef } from './payload.js';

describe("--secret and --config as docker's CLI reads them", () => {
  it('takes a bare name: target = name, root, 0444', () => {
    assert.deepEqual(parseSecretRef('my-pw'), {
      File: { Name: 'my-pw', UID: '0', GID: '0', Mode: 0o444 },
      SecretID: '',
      SecretName: 'my-pw',
    });
  });
  it('takes the long form, mode in octal', () => {
    assert.deepEqual(parseSecretRef('source=pw.v2,target=pw,uid=1000,gid=1000,mode=0400'), {
      File: { Name: 'pw', UID: '1000', GID: '1000', Mode: 0o400 },
      SecretID: '',
      SecretName: 'pw.v2',
    });
    assert.deepEqual(parseConfigRef('src=nginx.conf,target=/etc/nginx/nginx.conf'), {
      File: { Name: '/etc/nginx/nginx.conf', UID: '0', GID: '0', Mode: 0o444 },
      ConfigID: '',
      ConfigName: 'nginx.conf',
    });
  });
  it("refuses what docker's CLI refuses", () => {
    assert.throws(() => parseSecretRef('target=x'), /source is required/);
    assert.throws(() => parseSecretRef('source=x,bogus=1'), /invalid field key bogus/);
    assert.throws(() => parseSecretRef('source=x,mode=rw'), /invalid mode specified: rw/);
    assert.throws(() => parseSecretRef('source=x,target'), /invalid field 'target' must be a key=value pair/);
  });
});
