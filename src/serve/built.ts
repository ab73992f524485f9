import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * A file the build writes into dist/ (`relative` to it), found from the compiled server (dist/src/serve)
 * or from the TypeScript sources (src/serve, as the tests run them); undefined when it was not built.
 */
function builtFile(relative: string): string | undefined {
  return [join(__dirname, '..', '..', relative), join(__dirname, '..', '..', 'dist', relative)].find((f) => existsSync(f));
}

/** The compiled drawing page's folder (dist/web). */
export function webDir(): string | undefined {
  const app = builtFile(join('web', 'app.js'));
  return app ? dirname(app) : undefined;
}

/** The OpenAPI description of the HTTP API (docs/openapi.yaml, turned into dist/openapi.json by the build). */
export function loadOpenApi(): Record<string, unknown> | undefined {
  const file = builtFile('openapi.json');
  return file ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}
