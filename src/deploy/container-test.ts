import { spawn, spawnSync, SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../errors';
import { burstAcrossStop, postAlone, StopOutcome } from './stop-under-load';

/**
 * `make container-test`: builds the image from the Dockerfile with podman, runs it, and checks it the way
 * a user's deployment would use it: ready on /readyz, the README's examples answered, configuration taken
 * from the environment, not running as root, the HEALTHCHECK passing, and `podman stop` during a burst of
 * requests losing none of them and exiting 0.
 */

export interface ContainerTestOptions {
  image: string; // tag of the image built
  base: string; // 'local': the Debian base built here with debootstrap; else any image name for ARG BASE
  localBase: string; // tag of that local base
  debianMirror: string;
  readyTimeoutMs: number; // ms from `podman run` to /readyz answering 200
  burstConnections: number; // clients posting photos and PNGs, each a new connection per request; fewer than the decode queue holds (16), so a refusal would be the stop's, not overload's
  burstBeforeStopMs: number; // ms of load before `podman stop`
  stopTimeoutS: number; // podman stop's grace before SIGKILL (longer than the server's drain timeout)
  maxBodyBytes: number; // set through MNIST_MAX_BODY_BYTES, to check that the environment configures the server
  keep: boolean; // leave the stopped container behind
  log: (line: string) => void;
}

export const CONTAINER_TEST_DEFAULTS: Readonly<Omit<ContainerTestOptions, 'log'>> = Object.freeze({
  image: 'localhost/mnist-onnx:test',
  base: 'local',
  localBase: 'localhost/mnist-onnx-base:trixie',
  debianMirror: 'http://deb.debian.org/debian',
  readyTimeoutMs: 60_000,
  burstConnections: 12,
  burstBeforeStopMs: 1_500,
  stopTimeoutS: 30,
  maxBodyBytes: 1_000_000,
  keep: false,
});

export interface ContainerTestResult {
  image: string;
  base: string;
  imageBytes: number;
  buildSeconds: number;
  startToReadyMs: number;
  examples: Array<{ request: string; expected: number[]; got: number[] }>;
  processUsers: string[];
  healthcheck: 'healthy' | 'unhealthy';
  bodyLimitFromEnv: number; // status for a body one byte over MNIST_MAX_BODY_BYTES
  stop: StopOutcome & { exitCode: number; stopSeconds: number; unansweredLogged: number | undefined };
  passed: boolean;
  failures: string[];
}

// The repository, from the compiled file (dist/src/deploy) or the source (src/deploy).
const REPO_DIR = [join(__dirname, '..', '..', '..'), join(__dirname, '..', '..')].find((d) => existsSync(join(d, 'Dockerfile'))) ?? process.cwd();
const DEPLOY_DIR = join(REPO_DIR, 'deploy', 'container');
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const CONTAINER_NAME = 'mnist-onnx-container-test';

function podmanEnv(): NodeJS.ProcessEnv {
  return { ...process.env, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? join(DEPLOY_DIR, 'containers.conf') };
}

/** Runs a command to completion; throws with its stderr when it fails (unless `allowFail`). */
function sh(cmd: string, args: string[], opts: SpawnSyncOptions & { allowFail?: boolean } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: podmanEnv(), maxBuffer: 64 * 1024 * 1024, ...opts });
  if (r.error) throw new AppError('CONFIG_INVALID', `${cmd} could not run: ${r.error.message}`);
  const out = { status: r.status ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  if (out.status !== 0 && !opts.allowFail) throw new AppError('INTERNAL_ERROR', `${cmd} ${args.join(' ')} failed (${out.status}): ${out.stderr.slice(-2000)}`);
  return out;
}

/** The Debian base with Node.js and npm, built once and kept in podman's image store. */
function ensureLocalBase(o: ContainerTestOptions): void {
  if (sh('podman', ['image', 'exists', o.localBase], { allowFail: true }).status === 0) {
    o.log(`base ${o.localBase}: cached`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mnist-onnx-rootfs-'));
  try {
    o.log('base: debootstrap --variant=minbase trixie (about 25 s)');
    sh('debootstrap', ['--variant=minbase', 'trixie', join(dir, 'root'), o.debianMirror], { stdio: ['ignore', 'ignore', 'pipe'] });
    sh('bash', ['-c', `tar -C "${join(dir, 'root')}" -c . | podman import - localhost/debian-minbase:trixie`]);
    o.log('base: Debian\'s nodejs and npm');
    sh('podman', ['build', '--network', 'host', '-f', join(DEPLOY_DIR, 'local-base.Containerfile'), '-t', o.localBase, DEPLOY_DIR], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** This process's hard limit on open files ('unlimited' or a number). */
function openFilesLimit(): string {
  return sh('sh', ['-c', 'ulimit -Hn']).stdout.trim();
}

function buildImage(o: ContainerTestOptions, base: string): number {
  const args = ['build', '--format', 'docker', '--network', 'host', '--build-arg', `BASE=${base}`, '-t', o.image];
  // Build steps get 1,024 open files by default, too few for `npm ci` at times (EMFILE seen here); they
  // may have as many as this process (raising it further is refused without default ulimits).
  const nofile = openFilesLimit();
  if (/^\d+$/.test(nofile)) args.push('--ulimit', `nofile=${nofile}:${nofile}`);
  // A proxy that re-signs TLS: the build's npm trusts the host's CA bundle, mounted for the build only.
  if (existsSync(HOST_CA_BUNDLE)) args.push('-v', `${HOST_CA_BUNDLE}:/run/host-ca.crt:ro`, '--build-arg', 'NODE_EXTRA_CA_CERTS=/run/host-ca.crt');
  const start = performance.now();
  sh('podman', [...args, REPO_DIR], { stdio: ['ignore', 'ignore', 'pipe'] });
  return (performance.now() - start) / 1000;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

function multipart(files: Array<{ name: string; bytes: Buffer }>): { body: Buffer; type: string } {
  const boundary = 'mnist-onnx-container-test';
  const parts = files.flatMap((f) => [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${f.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    f.bytes, Buffer.from('\r\n'),
  ]);
  return { body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

/** The digits of an answer: one for a single image, one per file for several. */
export function digits(answer: Awaited<ReturnType<typeof postAlone>>): number[] {
  if (answer.kind !== 'answer' || answer.status !== 200) return [];
  const json = JSON.parse(answer.body) as { digit?: number; predictions?: Array<{ digit: number }> };
  return json.predictions ? json.predictions.map((p) => p.digit) : [json.digit ?? -1];
}

async function waitReady(url: string, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) return performance.now() - start;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new AppError('INTERNAL_ERROR', `the container was not ready within ${timeoutMs} ms`);
}

/** Builds, runs and checks the image; the result says what passed and what did not. */
export async function runContainerTest(o: ContainerTestOptions): Promise<ContainerTestResult> {
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => { if (!ok) failures.push(what); };
  let base = o.base;
  if (base === 'local') {
    ensureLocalBase(o);
    base = o.localBase;
  }
  o.log(`image: podman build --build-arg BASE=${base}`);
  const buildSeconds = buildImage(o, base);
  const imageBytes = Number(sh('podman', ['image', 'inspect', '--format', '{{.Size}}', o.image]).stdout.trim());
  o.log(`image: ${(imageBytes / 1e6).toFixed(0)} MB, built in ${buildSeconds.toFixed(0)} s`);

  sh('podman', ['rm', '-f', CONTAINER_NAME], { allowFail: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const runStart = performance.now();
  // Locked down as deploy/kubernetes/deployment.yaml runs it: read-only root, no capabilities.
  sh('podman', ['run', '-d', '--name', CONTAINER_NAME, '--health-interval', 'disable', '-p', `127.0.0.1:${port}:8080`,
    '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '-e', `MNIST_MAX_BODY_BYTES=${o.maxBodyBytes}`, o.image]);
  try {
    await waitReady(url, o.readyTimeoutMs);
    const startToReadyMs = performance.now() - runStart;
    o.log(`run: ready after ${startToReadyMs.toFixed(0)} ms`);

    const ex = (name: string) => ({ name, bytes: readFileSync(join(REPO_DIR, 'examples', name)) });
    const examples: ContainerTestResult['examples'] = [];
    const post = (body: Uint8Array, type: string) => postAlone(`${url}/predict`, { body, type });
    const raw = await post(ex('digit.png').bytes, 'image/png');
    examples.push({ request: 'raw examples/digit.png', expected: [7], got: digits(raw) });
    const one = multipart([ex('canvas-one.png')]);
    examples.push({ request: 'multipart examples/canvas-one.png', expected: [1], got: digits(await post(one.body, one.type)) });
    const two = multipart([ex('digit.png'), ex('two-on-paper.jpg')]);
    examples.push({ request: 'multipart digit.png + two-on-paper.jpg', expected: [7, 2], got: digits(await post(two.body, two.type)) });
    for (const e of examples) check(JSON.stringify(e.expected) === JSON.stringify(e.got), `${e.request}: expected ${e.expected}, got ${e.got}`);

    const overLimit = await post(Buffer.alloc(o.maxBodyBytes + 1), 'image/png');
    const bodyLimitFromEnv = overLimit.kind === 'answer' ? overLimit.status : 0;
    check(bodyLimitFromEnv === 413, `MNIST_MAX_BODY_BYTES not applied: ${bodyLimitFromEnv} for a body over it`);

    const processUsers = sh('podman', ['top', CONTAINER_NAME, 'user']).stdout.trim().split('\n').slice(1).map((s) => s.trim());
    check(processUsers.length > 0 && processUsers.every((u) => u !== 'root' && u !== '0'), `processes run as ${processUsers}`);
    const healthcheck = sh('podman', ['healthcheck', 'run', CONTAINER_NAME], { allowFail: true }).status === 0 ? 'healthy' : 'unhealthy';
    check(healthcheck === 'healthy', 'HEALTHCHECK failed');

    o.log(`stop: ${o.burstConnections} clients posting, podman stop after ${o.burstBeforeStopMs} ms`);
    const bodies = ['digit.png', 'two-on-paper.jpg'].map((name) => ({ body: ex(name).bytes, type: 'application/octet-stream' }));
    const { stop: stopSeconds, ...burst } = await burstAcrossStop(`${url}/predict`, bodies, o.burstConnections, o.burstBeforeStopMs, () => new Promise<number>((resolve) => {
      const start = performance.now();
      // spawnSync would block the clients' event loop; podman stop runs beside them.
      const child = spawn('podman', ['stop', '-t', String(o.stopTimeoutS), CONTAINER_NAME], { env: podmanEnv(), stdio: 'ignore' });
      child.on('exit', () => resolve((performance.now() - start) / 1000));
    }));
    const exitCode = Number(sh('podman', ['inspect', '--format', '{{.State.ExitCode}}', CONTAINER_NAME]).stdout.trim());
    const logs = sh('podman', ['logs', CONTAINER_NAME], { allowFail: true });
    const stopped = `${logs.stdout}${logs.stderr}`.split('\n').map((l) => { try { return JSON.parse(l); } catch { return undefined; } })
      .find((l) => l?.msg === 'stopped') as { unanswered?: number } | undefined;
    const stop = { ...burst, stopSeconds, exitCode, unansweredLogged: stopped?.unanswered };
    check(stop.lost === 0, `${stop.lost} requests lost during the stop: ${stop.lostDetail.slice(0, 5).join('; ')}`);
    check(stop.answeredAfterStop > 0, 'no request was in flight when the container was stopped: the stop was not tested under load');
    check(exitCode === 0, `exit code ${exitCode} after podman stop`);
    check(stop.unansweredLogged === 0, `the server logged ${stop.unansweredLogged} unanswered requests`);
    return {
      image: o.image, base, imageBytes, buildSeconds: Number(buildSeconds.toFixed(1)), startToReadyMs: Math.round(startToReadyMs),
      examples, processUsers, healthcheck, bodyLimitFromEnv, stop, passed: failures.length === 0, failures,
    };
  } finally {
    if (!o.keep) sh('podman', ['rm', '-f', CONTAINER_NAME], { allowFail: true });
  }
}
