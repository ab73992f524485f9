import { workerData } from 'node:worker_threads';
import { answerTasks, Transfer } from '../workers/protocol';
import { decodeImage, loadSharp } from './decode';
import { createPreprocessor } from './preprocess';
import { lowerThreadPriority } from '../workers/thread-priority';
import type { DecodeProtocol, DecodeWorkerData } from './protocol';

const { nice, decoder } = workerData as DecodeWorkerData;
lowerThreadPriority(nice);
const preprocessor = createPreprocessor();
// Loaded now, not on the first photo: a spare worker is then warm when it takes a replaced one's place.
if (decoder === 'sharp') loadSharp();

/** Decodes and preprocesses every image our own PNG decoder does not take, off the HTTP thread. */
answerTasks<DecodeProtocol>({
  async decode({ bytes, maxPixels }) {
    const { bitmap } = await decodeImage(bytes, maxPixels, decoder);
    const { input, info } = preprocessor.run(bitmap);
    const owned = Float32Array.from(input); // the preprocessor's buffer stays with it; this copy moves
    return new Transfer({ input: owned, info }, [owned.buffer]);
  },
}, 'IMAGE_UNDECODABLE');
