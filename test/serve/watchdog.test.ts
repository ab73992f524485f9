import { spawn } from 'node:child_process';
import { join } from 'node:path';

describe('watchdog', () => {
  it('kills a process whose event loop stays blocked past the limit (SIGTERM could not be handled)', async () => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, '..', 'fixtures', 'workers', 'blocked-loop.ts'), '500'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    const t0 = performance.now();
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    expect(out).toMatch(/blocking/);
    expect(signal).toBe('SIGKILL');
    expect(code).toBeNull();
    expect(err).toMatch(/watchdog: the HTTP thread has been blocked for \d+ ms/);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });

});
