import { parentPort, workerData } from 'node:worker_threads';
import { decodeImage, Decoder } from './decode';
import { preprocess } from './preprocess';
import { lowerThreadPriority } from './thread-priority';

const { nice, decoder } = workerData as { nice: number; decoder: Decoder };
lowerThreadPriority(nice);

/** Decodes and preprocesses every image our own PNG decoder does not take, off the HTTP thread. */
parentPort!.on('message', async (msg: { id: number; bytes: Uint8Array; maxPixels: number }) => {
  try {
    const { bitmap } = await decodeImage(msg.bytes, msg.maxPixels, decoder);
    const result = preprocess(bitmap);
    const input = Float32Array.from(result.input); // its own buffer: preprocess's inputs share theirs
    parentPort!.postMessage({ id: msg.id, ok: true, input, info: result.info }, [input.buffer]);
  } catch (err) {
    const e = err as Error & { code?: string };
    parentPort!.postMessage({ id: msg.id, ok: false, error: { code: e.code ?? 'IMAGE_UNDECODABLE', message: e.message } });
  }
});
