import { join } from 'node:path';

/**
 * Where a sibling worker script is: `.js` next to the compiled code, or `.ts` run through ts-node when the
 * caller itself runs from TypeScript sources (tests, ts-node).
 */
export function workerScript(dir: string, base: string): { path: string; execArgv: string[] } {
  const ts = __filename.endsWith('.ts');
  return { path: join(dir, `${base}.${ts ? 'ts' : 'js'}`), execArgv: ts ? ['-r', 'ts-node/register/transpile-only'] : [] };
}
