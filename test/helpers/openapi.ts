import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020';
import { load } from 'js-yaml';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** An answer as the client saw it. */
export interface Answer { method: string; path: string; status: number; contentType: string; body: unknown }

/**
 * Checks real answers against docs/openapi.yaml: the route and method must be described, the status
 * listed for it, the content type declared, and a JSON body valid against its schema (JSON Schema
 * 2020-12, as OpenAPI 3.1 uses). `check` returns the problems, [] when the answer fits.
 */
export function openApiChecker(file = 'docs/openapi.yaml') {
  const spec = load(readFileSync(file, 'utf8')) as Obj;
  // Schemas refer to '#/components/...' of the document: give the document an id to resolve them in.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const rebased = JSON.parse(JSON.stringify(spec).replaceAll('"#/components/', '"openapi#/components/')) as Obj;
  ajv.addSchema({ $id: 'openapi', components: rebased.components });
  const deref = (o: Obj): Obj => (o.$ref ? deref(o.$ref.replace(/^openapi#\//, '').split('/').reduce((a: Obj, k: string) => a[k], rebased)) : o);
  const templates = Object.keys(spec.paths).map((t) => ({
    template: t,
    regex: new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  }));
  const seen = new Set<string>();

  return {
    spec,
    check(a: Answer): string[] {
      const path = a.path.split('?')[0];
      const t = templates.find((x) => x.regex.test(path));
      if (!t) return [`${path} is not described`];
      const op = rebased.paths[t.template][a.method.toLowerCase()];
      if (!op) return [`${a.method} ${t.template} is not described`];
      seen.add(`${a.method.toUpperCase()} ${t.template}`);
      const response = op.responses[String(a.status)];
      if (!response) return [`${a.method} ${t.template} does not list status ${a.status}`];
      const content = deref(response).content as Obj | undefined;
      const type = a.contentType.split(';')[0].trim();
      if (!content?.[type]) return [`${a.method} ${t.template} ${a.status} does not declare ${type}`];
      if (type !== 'application/json') return [];
      const validate = ajv.compile(content[type].schema);
      return validate(a.body) ? [] : (validate.errors ?? []).map((e) => `${a.method} ${path} ${a.status}: ${e.instancePath} ${e.message}`);
    },
    /** Problems of `body` against the named schema of the document's components. */
    checkSchema(name: string, body: unknown): string[] {
      const validate = ajv.getSchema(`openapi#/components/schemas/${name}`);
      if (!validate) return [`no schema ${name}`];
      return validate(body) ? [] : (validate.errors ?? []).map((e) => `${name}: ${e.instancePath} ${e.message}`);
    },
    /** Operations of the document that no checked answer reached. */
    unchecked(): string[] {
      return Object.entries(spec.paths as Obj).flatMap(([t, item]) => Object.keys(item).filter((m) => m !== 'parameters')
        .map((m) => `${m.toUpperCase()} ${t}`)).filter((k) => !seen.has(k));
    },
  };
}
