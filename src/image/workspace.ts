/**
 * Working memory that one thread's image code reuses from picture to picture. A new typed array the size
 * of a working picture (512 × 384) costs ~0.7 ms here (zeroed memory, fresh pages, and the garbage
 * collection it brings), as much as a pass over the picture, and finding a digit needs a dozen of them.
 *
 * Each slot belongs to one step: a view it hands out stays valid until that slot is asked for again. A
 * step takes one for memory it is done with before it returns, or for what it returns when its caller
 * knows the answer lasts only until the step runs again with the same workspace (findInk's page ink,
 * digitFromInk's digit). Two answers that must live side by side need two workspaces.
 */
export interface Workspace {
  float32(slot: Float32Slot, n: number): Float32Array;
  /** All zeros. */
  zeroedFloat32(slot: Float32Slot, n: number): Float32Array;
  int32(slot: Int32Slot, n: number): Int32Array;
  /** All zeros. */
  zeroedInt32(slot: Int32Slot, n: number): Int32Array;
  /** All zeros. */
  zeroedUint8(slot: Uint8Slot, n: number): Uint8Array;
}

/** The page's illumination, its ink before and after the blur, the blur's first pass, the found digit's ink. */
export type Float32Slot = 'background' | 'ink' | 'blur' | 'smooth' | 'digit';
/** The page's part labels, flood-fill stacks of the steps that label or grow, the line's owners of soft ink. */
export type Int32Slot = 'labels' | 'components' | 'grow' | 'line-grow' | 'line-owner';
/** The stroke mask and the digit's grown pixels. */
export type Uint8Slot = 'mask' | 'keep';

/** Slots up to this many values are kept: a working picture (its longer side at most 512) fits. */
const KEEP_MAX = 512 * 512;

interface TypedArray<T> { readonly length: number; subarray(begin: number, end: number): T; fill(value: number): T }

function slots<S extends string, T extends TypedArray<T>>(make: (n: number) => T): (slot: S, n: number, zeroed: boolean) => T {
  const kept = new Map<S, T>();
  return (slot, n, zeroed) => {
    if (n > KEEP_MAX) return make(n);
    const have = kept.get(slot);
    if (!have || have.length < n) {
      const fresh = make(n); // zeroed already
      kept.set(slot, fresh);
      return fresh;
    }
    const view = have.subarray(0, n);
    return zeroed ? view.fill(0) : view;
  };
}

/**
 * A workspace for one thread (the preprocessor owns one). Functions that take an optional workspace
 * default to a fresh one, which allocates as they always did.
 * @example const work = createWorkspace(); work.zeroedUint8('mask', 4).length // 4
 */
export function createWorkspace(): Workspace {
  const f32 = slots<Float32Slot, Float32Array>((n) => new Float32Array(n));
  const i32 = slots<Int32Slot, Int32Array>((n) => new Int32Array(n));
  const u8 = slots<Uint8Slot, Uint8Array>((n) => new Uint8Array(n));
  return {
    float32: (slot, n) => f32(slot, n, false),
    zeroedFloat32: (slot, n) => f32(slot, n, true),
    int32: (slot, n) => i32(slot, n, false),
    zeroedInt32: (slot, n) => i32(slot, n, true),
    zeroedUint8: (slot, n) => u8(slot, n, true),
  };
}
