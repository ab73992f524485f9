import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The OpenAPI description of the HTTP API (docs/openapi.yaml, turned into dist/openapi.json by the
 * build), from the compiled server or from the TypeScript sources; undefined when it was not built.
 */
export function loadOpenApi(): Record<string, unknown> | undefined {
  const file = [join(__dirname, '..', '..', 'openapi.json'), join(__dirname, '..', '..', 'dist', 'openapi.json')].find((f) => existsSync(f));
  return file ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}
