// onnxruntime-node creates its output typed arrays in Node's main realm and checks inputs with
// instanceof; jest runs each test file in its own realm. Sharing the typed-array constructors makes
// both sides agree (see onnxruntime issue "A float32 tensor's data must be type of Float32Array" under jest).
const { TestEnvironment } = require('jest-environment-node');

const SHARED = ['ArrayBuffer', 'SharedArrayBuffer', 'Float32Array', 'Float64Array', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray',
  'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'];

class SharedTypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedTypedArrayEnvironment;
