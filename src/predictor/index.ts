/**
 * The predictor: image bytes → decoded bitmap → 28×28 (src/image/) → probabilities (src/inference/) → the
 * answer. The server, `predict` over files and the evaluations use it through this module only.
 */
export { createPredictor } from './predictor';
export type { LineCandidateReading, Predictor, PredictorHooks, PredictResult } from './predictor';
export type { Prediction } from '../inference/postprocess';
export type { PreprocessInfo } from '../image/preprocess';
export { allFailed, predictEach } from './predict-each';
export type { ImageCounter } from './predict-each';
export { checkPredictorOptions, PREDICTOR_DEFAULTS, PREDICTOR_INTEGER_MINIMUMS, resolvePredictorOptions } from './options';
export type { PredictorOptions } from './options';
export { boundedLogit, calibrateNumber, NUMBER_CALIBRATION } from './read-number';
export type { NumberCalibration } from './read-number';
