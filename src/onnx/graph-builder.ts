import { onnx } from 'onnx-proto';
import { AppError } from '../errors';

/** ONNX IR version written into every model (the onnx-proto schema is ONNX 1.10, IR 8). */
export const ONNX_IR_VERSION = 8;
/** The default-domain opset the graphs use; onnxruntime-node 1.30 runs it. */
export const ONNX_OPSET = 15;

/** Element types we write, with their TensorProto.DataType codes. */
export const DTYPE = Object.freeze({
  float32: onnx.TensorProto.DataType.FLOAT, // 1
  uint8: onnx.TensorProto.DataType.UINT8, // 2
  int8: onnx.TensorProto.DataType.INT8, // 3
  int32: onnx.TensorProto.DataType.INT32, // 6
  int64: onnx.TensorProto.DataType.INT64, // 7
});
export type DType = keyof typeof DTYPE;

/** A dimension: a number, or a name for a symbolic one (the batch, `N`). */
export type Dim = number | string;
export type AttrValue = number | number[] | string | { float: number };

interface TensorInfo { dtype: DType; shape: Dim[] }

interface NodeSpec {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

type TypedData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'object') return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.INT, i: v };
}

function valueInfo(name: string, info: TensorInfo): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DTYPE[info.dtype],
        shape: { dim: info.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Assembles an ONNX graph node by node, infers and checks shapes as it goes, validates the whole graph,
 * and encodes it with the ONNX protobuf schema (onnx-proto).
 * @example
 * const g = new GraphBuilder('tiny');
 * g.input('x', 'float32', ['N', 4]);
 * g.initializer('w', new Float32Array(8), [4, 2]);
 * g.node('MatMul', 'fc', ['x', 'w'], ['y']);
 * g.output('y');
 * const bytes = g.toBytes({ producerName: 'demo', producerVersion: '1' });
 */
export class GraphBuilder {
  private readonly nodes: NodeSpec[] = [];
  private readonly inits = new Map<string, { data: TypedData; dtype: DType; shape: number[] }>();
  private readonly inputs: string[] = [];
  private readonly outputs: string[] = [];
  private readonly infos = new Map<string, TensorInfo>();

  constructor(readonly name: string) {}

  input(name: string, dtype: DType, shape: Dim[]): string {
    this.define(name, { dtype, shape }, 'graph input');
    this.inputs.push(name);
    return name;
  }

  initializer(name: string, data: TypedData, shape: number[], dtype?: DType): string {
    const dt: DType = dtype ?? (data instanceof Float32Array ? 'float32' : data instanceof Int8Array ? 'int8'
      : data instanceof Uint8Array ? 'uint8' : data instanceof Int32Array ? 'int32' : 'int64');
    if (sizeOf(shape) !== data.length) {
      throw new AppError('ONNX_GRAPH_INVALID', `initializer '${name}' has ${data.length} values for shape [${shape}]`);
    }
    this.define(name, { dtype: dt, shape }, `initializer`);
    this.inits.set(name, { data, dtype: dt, shape });
    return name;
  }

  /** Adds a node; its outputs' types and shapes are inferred now, so a mismatch fails here, naming the node. */
  node(opType: string, name: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): string {
    if (this.nodes.some((n) => n.name === name)) throw new AppError('ONNX_GRAPH_INVALID', `node name '${name}' is used twice`);
    const ins = inputs.map((i) => {
      if (i === '') return undefined;
      const info = this.infos.get(i);
      if (!info) throw new AppError('ONNX_GRAPH_INVALID', `node '${name}' (${opType}) reads '${i}', which no node, input or initializer produces`);
      return info;
    });
    const inferred = inferShapes(opType, name, ins, attrs);
    if (inferred.length < outputs.length) throw new AppError('ONNX_GRAPH_INVALID', `node '${name}' (${opType}) has ${outputs.length} outputs, expected ${inferred.length}`);
    outputs.forEach((o, k) => this.define(o, inferred[k], `output of node '${name}'`));
    this.nodes.push({ opType, name, inputs, outputs, attrs });
    return outputs[0];
  }

  output(name: string): void {
    if (!this.infos.has(name)) throw new AppError('ONNX_GRAPH_INVALID', `graph output '${name}' is not produced by any node`);
    this.outputs.push(name);
  }

  shapeOf(name: string): Dim[] {
    const info = this.infos.get(name);
    if (!info) throw new AppError('ONNX_GRAPH_INVALID', `no value named '${name}'`);
    return info.shape;
  }

  private define(name: string, info: TensorInfo, what: string): void {
    if (!name) throw new AppError('ONNX_GRAPH_INVALID', `${what} has an empty name`);
    if (this.infos.has(name)) throw new AppError('ONNX_GRAPH_INVALID', `value name '${name}' (${what}) is defined twice`);
    this.infos.set(name, info);
  }

  /**
   * Checks the whole graph: outputs exist, every initializer is used, and the nodes are in an order
   * where each input is defined before it is read (node() already enforced that, and shapes).
   */
  validate(): void {
    if (this.inputs.length === 0 || this.outputs.length === 0) throw new AppError('ONNX_GRAPH_INVALID', `graph '${this.name}' needs inputs and outputs`);
    const used = new Set(this.nodes.flatMap((n) => n.inputs));
    for (const name of this.inits.keys()) {
      if (!used.has(name)) throw new AppError('ONNX_GRAPH_INVALID', `initializer '${name}' is not read by any node`);
    }
  }

  /** Encodes the model; `metadata` becomes metadata_props. */
  toBytes(meta: { producerName: string; producerVersion: string; docString?: string; metadata?: Record<string, string> }): Uint8Array {
    this.validate();
    const model: onnx.IModelProto = {
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: meta.producerName,
      producerVersion: meta.producerVersion,
      docString: meta.docString ?? '',
      metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes.map((n) => ({
          opType: n.opType, name: n.name, input: n.inputs, output: n.outputs,
          attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
        })),
        initializer: [...this.inits.entries()].map(([name, t]) => ({
          name, dims: t.shape, dataType: DTYPE[t.dtype],
          rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
        })),
        input: this.inputs.map((i) => valueInfo(i, this.infos.get(i)!)),
        output: this.outputs.map((o) => valueInfo(o, this.infos.get(o)!)),
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}

function fail(name: string, opType: string, why: string): never {
  throw new AppError('ONNX_GRAPH_INVALID', `node '${name}' (${opType}): ${why}`);
}

function sameDim(a: Dim, b: Dim): boolean {
  return a === b || typeof a === 'string' || typeof b === 'string';
}

/** Broadcast shapes of elementwise ops (numpy rules). */
function broadcast(name: string, op: string, a: Dim[], b: Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || sameDim(x, y)) out.push(x);
    else fail(name, op, `shapes [${a}] and [${b}] do not broadcast`);
  }
  return out;
}

/** Output types and shapes for the operators this project writes. */
function inferShapes(op: string, name: string, ins: Array<TensorInfo | undefined>, attrs: Record<string, AttrValue>): TensorInfo[] {
  const x = ins[0];
  if (!x) fail(name, op, 'first input missing');
  const f32 = (shape: Dim[]): TensorInfo => ({ dtype: 'float32', shape });
  switch (op) {
    case 'Relu':
    case 'Softmax':
    case 'Identity':
    case 'Round':
      return [x];
    case 'Clip':
      if ((ins[1] && ins[1].shape.length !== 0) || (ins[2] && ins[2].shape.length !== 0)) fail(name, op, 'min and max must be scalars');
      return [x];
    case 'ReduceMax': {
      const axes = ((attrs.axes as number[]) ?? x.shape.map((_, i) => i)).map((a) => (a < 0 ? a + x.shape.length : a));
      const keep = attrs.keepdims !== 0;
      return [{ dtype: x.dtype, shape: x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d])) }];
    }
    case 'Cast':
      return [{ dtype: (Object.keys(DTYPE) as DType[]).find((k) => DTYPE[k] === attrs.to) ?? fail(name, op, `unknown cast target ${attrs.to}`), shape: x.shape }];
    case 'Add':
    case 'Mul':
    case 'Div':
    case 'Max': {
      const y = ins[1] ?? fail(name, op, 'second input missing');
      if (x.dtype !== y.dtype) fail(name, op, `element types ${x.dtype} and ${y.dtype} differ`);
      return [{ dtype: x.dtype, shape: broadcast(name, op, x.shape, y.shape) }];
    }
    case 'Conv': {
      const w = ins[1] ?? fail(name, op, 'weights missing');
      if (x.shape.length !== 4 || w.shape.length !== 4) fail(name, op, 'expects NCHW input and OIHW weights');
      if (!sameDim(x.shape[1], w.shape[1])) fail(name, op, `input has ${x.shape[1]} channels, weights expect ${w.shape[1]}`);
      const b = ins[2];
      if (b && (b.shape.length !== 1 || b.shape[0] !== w.shape[0])) fail(name, op, `bias shape [${b.shape}] does not match ${w.shape[0]} filters`);
      const pads = (attrs.pads as number[]) ?? [0, 0, 0, 0];
      const strides = (attrs.strides as number[]) ?? [1, 1];
      const out = [0, 1].map((i) => {
        const d = x.shape[2 + i];
        return typeof d === 'number' ? Math.floor((d + pads[i] + pads[i + 2] - (w.shape[2 + i] as number)) / strides[i]) + 1 : d;
      });
      return [f32([x.shape[0], w.shape[0], out[0], out[1]])];
    }
    case 'MaxPool': {
      const k = attrs.kernel_shape as number[];
      const s = (attrs.strides as number[]) ?? k;
      return [f32([x.shape[0], x.shape[1], ...[0, 1].map((i) => {
        const d = x.shape[2 + i];
        return typeof d === 'number' ? Math.floor((d - k[i]) / s[i]) + 1 : d;
      })])];
    }
    case 'Concat': {
      const axis = attrs.axis as number;
      let total = 0;
      for (const t of ins) {
        if (!t || t.shape.length !== x.shape.length) fail(name, op, 'inputs differ in rank');
        t.shape.forEach((d, i) => { if (i !== axis && !sameDim(d, x.shape[i])) fail(name, op, `inputs differ in dimension ${i}`); });
        total += t.shape[axis] as number;
      }
      const shape = [...x.shape];
      shape[axis] = total;
      return [{ dtype: x.dtype, shape }];
    }
    case 'Flatten': {
      const rest = x.shape.slice(1);
      if (rest.some((d) => typeof d !== 'number')) fail(name, op, 'only the batch dimension may be symbolic');
      return [{ dtype: x.dtype, shape: [x.shape[0], (rest as number[]).reduce((a, b) => a * b, 1)] }];
    }
    case 'Gemm':
    case 'MatMul':
    case 'MatMulInteger': {
      const w = ins[1] ?? fail(name, op, 'second input missing');
      if (x.shape.length !== 2 || w.shape.length !== 2) fail(name, op, 'expects 2-D operands');
      const transB = op === 'Gemm' && attrs.transB === 1;
      const [k, n] = transB ? [w.shape[1], w.shape[0]] : [w.shape[0], w.shape[1]];
      if (!sameDim(x.shape[1], k)) fail(name, op, `inner dimensions ${x.shape[1]} and ${k} differ`);
      if (op === 'Gemm' && ins[2] && !(ins[2].shape.length === 1 && ins[2].shape[0] === n)) fail(name, op, `bias shape [${ins[2].shape}] does not match ${n}`);
      if (op === 'MatMulInteger') {
        if (x.dtype !== 'uint8' && x.dtype !== 'int8') fail(name, op, `A must be 8-bit, is ${x.dtype}`);
        if (w.dtype !== 'uint8' && w.dtype !== 'int8') fail(name, op, `B must be 8-bit, is ${w.dtype}`);
        return [{ dtype: 'int32', shape: [x.shape[0], n] }];
      }
      return [f32([x.shape[0], n])];
    }
    case 'DynamicQuantizeLinear':
      if (x.dtype !== 'float32') fail(name, op, 'input must be float32');
      return [{ dtype: 'uint8', shape: x.shape }, { dtype: 'float32', shape: [] }, { dtype: 'uint8', shape: [] }];
    default:
      return fail(name, op, 'operator not supported by this exporter');
  }
}
