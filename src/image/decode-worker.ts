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
    const { bitmap, header } = await decodeImage(bytes, maxPixels, decoder);
    // Large JPEGs are decoded shrunk: boxes are given in the picture's own pixels, upright.
    const result = preprocessor.run(bitmap, header.orientation >= 5 ? header.height : header.width);
    const owned = Float32Array.from(result.input); // the preprocessor's buffer stays with it; this copy moves
    const transfer: ArrayBuffer[] = [owned.buffer];
    if (result.line) transfer.push(result.line.inputs.buffer as ArrayBuffer);
    return new Transfer({ ...result, input: owned }, transfer);
  },
}, 'IMAGE_UNDECODABLE');
