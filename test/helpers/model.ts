/** The committed model, or another one named by TEST_MODEL (a retrained model is checked with the same tests). */
export const TEST_MODEL = process.env.TEST_MODEL ?? 'artifacts/mnist-cnn.int8.onnx';
