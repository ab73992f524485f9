import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * This package's version from its package.json, found from the calling code's folder whether it runs
 * compiled (dist/src/...) or from the TypeScript sources (src/...); 'unknown' when there is none.
 * @example packageVersion() // '0.7.4'
 */
export function packageVersion(): string {
  for (let dir = __dirname, i = 0; i < 4; i++, dir = join(dir, '..')) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}
