import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { ValidateFunction } from 'ajv';
import { load } from 'js-yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { resolveServeConfig, SERVE_DEFAULTS, SERVE_ENV, serveConfigFromEnv } from '../../src/serve/config';
import { startServer } from '../../src/serve/server';
import { startTestServer } from '../helpers/server';
import { V2_MODEL_NAME } from '../../src/serve/v2-protocol';

/**
 * The Dockerfile, the Kubernetes manifests and the KServe objects: each validated against its schema, and
 * held against the server's configuration (ports, probe paths, environment, drain time, user).
 */

const ROOT = join(__dirname, '..', '..');
const KUBE = join(ROOT, 'deploy', 'kubernetes');
const KSERVE = join(ROOT, 'deploy', 'kserve');
const KSERVE_RELEASE = 'v0.20.0';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const yamlFile = (dir: string, name: string) => load(readFileSync(join(dir, name), 'utf8')) as Obj;

const deployment = yamlFile(KUBE, 'deployment.yaml');
const service = yamlFile(KUBE, 'service.yaml');
const hpa = yamlFile(KUBE, 'hpa.yaml');
const pdb = yamlFile(KUBE, 'pdb.yaml');
const kustomization = yamlFile(KUBE, 'kustomization.yaml');
const runtime = yamlFile(KSERVE, 'serving-runtime.yaml');
const isvc = yamlFile(KSERVE, 'inference-service.yaml');
const pod = deployment.spec.template.spec;
const server = pod.containers[0];
const envOf = (container: Obj) => Object.fromEntries((container.env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));

/**
 * A KServe CRD's schema, as kubectl's strict field validation applies it: an object that lists its
 * properties and does not preserve unknown fields refuses the others, so a misspelt field fails.
 */
function kserveValidator(file: string, version: string): ValidateFunction {
  const crd = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'kserve', file), 'utf8')) as { source: { tag: string }; versions: Array<{ name: string; schema: Obj }> };
  expect(crd.source.tag).toBe(KSERVE_RELEASE);
  const strict = (s: unknown): unknown => {
    if (Array.isArray(s)) return s.map(strict);
    if (!s || typeof s !== 'object') return s;
    const out: Obj = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v as Obj).map(([p, ps]) => [p, strict(ps)])) : strict(v)]));
    if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
    return out;
  };
  const schema = crd.versions.find((v) => v.name === version)?.schema;
  if (!schema) throw new Error(`${file} has no version ${version}`);
  // apiVersion, kind and metadata are the API server's, not in the CRD's schema.
  const withMeta = strict(schema) as Obj;
  withMeta.properties.metadata = { type: 'object' };
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  return ajv.compile(withMeta);
}

function errorsOf(validate: ValidateFunction, obj: unknown): string[] {
  return validate(obj) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}

describe('Kubernetes manifests validate against their schemas (kubernetes-models)', () => {
  it.each([
    ['deployment.yaml', () => new Deployment(deployment as never)],
    ['service.yaml', () => new Service(service as never)],
    ['hpa.yaml', () => new HorizontalPodAutoscaler(hpa as never)],
    ['pdb.yaml', () => new PodDisruptionBudget(pdb as never)],
  ])('%s', (_name, make) => {
    expect(() => make().validate()).not.toThrow();
  });

  it('the validator refuses a malformed object (the check can fail)', () => {
    const bad = structuredClone(deployment);
    bad.spec.replicas = 'two';
    expect(() => new Deployment(bad as never).validate()).toThrow(/replicas must be integer/);
  });

  it('the kustomization lists every manifest and names the Deployment\'s image', () => {
    expect([...kustomization.resources].sort()).toEqual(['deployment.yaml', 'hpa.yaml', 'pdb.yaml', 'service.yaml']);
    expect(kustomization.images.map((i: Obj) => i.name)).toEqual([server.image.split(':')[0]]);
  });

  it('every manifest pins the image of this release (package.json\'s version)', () => {
    const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
    expect(server.image).toBe(`mnist-onnx:${version}`);
    expect(kustomization.images[0].newTag).toBe(version);
    expect(runtime.spec.containers[0].image).toBe(`mnist-onnx:${version}`);
  });

  it('the Service, HPA and PDB point at the Deployment and its pods', () => {
    const labels = deployment.spec.template.metadata.labels;
    for (const selector of [service.spec.selector, pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels]) {
      for (const [k, v] of Object.entries(selector)) expect(labels[k]).toBe(v);
    }
    expect(service.spec.ports[0].targetPort).toBe(server.ports[0].name);
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
  });
});

describe(`KServe objects validate against the CRD schemas of KServe ${KSERVE_RELEASE}`, () => {
  const runtimeSchema = kserveValidator(`servingruntimes-${KSERVE_RELEASE}.schema.json`, 'v1alpha1');
  const isvcSchema = kserveValidator(`inferenceservices-${KSERVE_RELEASE}.schema.json`, 'v1beta1');

  it('ServingRuntime', () => {
    expect(runtime.apiVersion).toBe('serving.kserve.io/v1alpha1');
    expect(errorsOf(runtimeSchema, runtime)).toEqual([]);
  });

  it('InferenceService', () => {
    expect(isvc.apiVersion).toBe('serving.kserve.io/v1beta1');
    expect(errorsOf(isvcSchema, isvc)).toEqual([]);
  });

  it('the schemas refuse a misspelt field and a wrong type (the check can fail)', () => {
    const bad = structuredClone(isvc);
    bad.spec.predictor.model.protocolVersoin = 'v2';
    expect(errorsOf(isvcSchema, bad).join()).toMatch(/additionalProperty.*protocolVersoin/);
    const badRuntime = structuredClone(runtime);
    badRuntime.spec.containers[0].ports[0].containerPort = '8080';
    expect(errorsOf(runtimeSchema, badRuntime).join()).toMatch(/containerPort must be integer/);
  });

  it('the InferenceService uses the runtime, protocol v2, and the model name the server answers to', () => {
    const model = isvc.spec.predictor.model;
    expect(model.runtime).toBe(runtime.metadata.name);
    expect(model.protocolVersion).toBe('v2');
    expect(runtime.spec.protocolVersions).toContain('v2');
    expect(runtime.spec.supportedModelFormats).toContainEqual(expect.objectContaining(model.modelFormat));
    expect(isvc.metadata.name).toBe(V2_MODEL_NAME);
  });
});

describe('the manifests agree with the server', () => {
  it('every environment variable is one the server reads, with a valid value', () => {
    for (const container of [server, runtime.spec.containers[0]]) {
      const env = envOf(container);
      for (const name of Object.keys(env)) expect(Object.values(SERVE_ENV)).toContain(name);
      expect(() => resolveServeConfig(serveConfigFromEnv(env))).not.toThrow();
    }
  });

  it('the container port is the port the server listens on', () => {
    for (const container of [server, runtime.spec.containers[0]]) {
      const port = resolveServeConfig(serveConfigFromEnv(envOf(container))).port;
      expect(container.ports[0].containerPort).toBe(port);
    }
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${SERVE_DEFAULTS.port}$`, 'm'));
    expect(dockerfile).toMatch(new RegExp(`PORT=${SERVE_DEFAULTS.port}\\b`));
  });

  it('the grace period outlasts the preStop pause plus the drain', () => {
    const drainS = resolveServeConfig(serveConfigFromEnv(envOf(server))).drainTimeoutMs / 1000;
    const preStopS = server.lifecycle.preStop.sleep.seconds;
    expect(preStopS).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopS + drainS);
  });

  it('one inference worker per requested CPU, and a memory limit above the worst peak measured', () => {
    const config = resolveServeConfig(serveConfigFromEnv(envOf(server)));
    expect(Number(server.resources.requests.cpu)).toBe(config.workers);
    const bench = JSON.parse(readFileSync(join(ROOT, 'artifacts', 'bench.json'), 'utf8')) as { summary: { photoOverloadRssPeakMb: number } };
    const limitMb = Number(String(server.resources.limits.memory).replace(/Gi$/, '')) * 1024;
    expect(limitMb).toBeGreaterThan(bench.summary.photoOverloadRssPeakMb);
  });

  it('the image runs as the user the pod requires', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const user = /^USER (\d+):(\d+)$/m.exec(dockerfile);
    expect(user).not.toBeNull();
    expect(Number(user![1])).toBe(pod.securityContext.runAsUser);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
  });

  it('the image\'s HEALTHCHECK asks the liveness path', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(/^HEALTHCHECK[^\n]*\\\n\s*CMD .*'(\/\w+)'/m.exec(dockerfile)?.[1]).toBe(server.livenessProbe.httpGet.path);
  });

  it('every probe path answers 200 on a running server configured by the manifest\'s environment', async () => {
    const env = envOf(server);
    const running = await startServer({ ...serveConfigFromEnv(env), port: 0, host: '127.0.0.1', workers: 1, logLevel: 'silent', watchdogMs: 0 });
    try {
      await running.predictor.ready;
      const probes = [server.startupProbe, server.readinessProbe, server.livenessProbe, runtime.spec.containers[0].readinessProbe, runtime.spec.containers[0].livenessProbe];
      for (const probe of probes) {
        const res = await fetch(`${running.url}${probe.httpGet.path}`);
        expect([probe.httpGet.path, res.status]).toEqual([probe.httpGet.path, 200]);
      }
      const port = server.readinessProbe.httpGet.port;
      expect(port === 'http' ? server.ports[0].containerPort : port).toBe(Number(env.PORT));
    } finally {
      await running.shutdown();
    }
  });

  it('readiness fails while the server drains, so the pod leaves the endpoints', async () => {
    const running = await startTestServer();
    await running.predictor.ready;
    const closing = running.shutdown();
    // The listener still accepts during the drain's grace, and the probe is answered: not ready.
    const res = await fetch(`${running.url}${server.readinessProbe.httpGet.path}`);
    expect(res.status).toBe(503);
    await closing;
  });
});
