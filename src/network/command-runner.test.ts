import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostRunner } from './command-runner.js';

describe('hostRunner', () => {
  it('a command that exits without reading its input fails with its code; the daemon does not crash on EPIPE', async () => {
    // More than a pipe buffer, so the write is still pending when the command is gone.
    const input = 'x'.repeat(4 * 1024 * 1024);
    const r = await hostRunner.run('sh', ['-c', 'exit 3'], input);
    assert.equal(r.code, 3);
  });

  it('passes input and returns output', async () => {
    const r = await hostRunner.run('cat', [], 'hello\n');
    assert.deepEqual(r, { code: 0, stdout: 'hello\n', stderr: '' });
  });
});
