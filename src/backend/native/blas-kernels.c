/*
 * Training kernels for the tfjs wasm backend, computed natively with OpenBLAS.
 *
 * The wasm backend's matmuls run on 128-bit wasm SIMD without fused multiply-add (~22 GFLOP/s on one
 * core here); OpenBLAS's AVX-512 kernels reach 150-200 GFLOP/s on the same core. Every function works in
 * place on the wasm heap: tensors are given as byte offsets into the backend's memory (an ArrayBuffer),
 * so nothing is copied in or out. All arrays are row-major float32, images NHWC, filters HWIO.
 *
 * Convolutions go through im2col: a patch matrix [M, K] with M = images * OH * OW rows and
 * K = FH * FW * CIN columns, so that y = cols * W, dW = cols' * dy and dcols = dy * W'. The patch matrix
 * lives in a per-thread scratch buffer and is built for a chunk of images at a time to bound its size.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * OpenBLAS picks its kernels once, when the library loads, from OPENBLAS_CORETYPE or the CPU. Version
 * 0.3.21 (Debian 12) takes AMD Zen 5 for a Haswell (AVX2), and this machine's environment pins
 * OPENBLAS_CORETYPE=Haswell for other tools; its SkylakeX (AVX-512) kernels run 1.6-2x faster here. So the
 * library is opened here, after choosing: MNIST_OPENBLAS_CORETYPE if set, else SkylakeX on a CPU with
 * AVX-512 F/BW/DQ/VL, else whatever OPENBLAS_CORETYPE or OpenBLAS itself says.
 */
typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const enum CBLAS_TRANSPOSE, const blasint,
                         const blasint, const blasint, const float, const float *, const blasint, const float *,
                         const blasint, const float, float *, const blasint);
static sgemm_fn sgemm;
static void (*set_num_threads)(int);
static char *(*get_corename)(void);
static char open_error[256];
static pthread_once_t opened = PTHREAD_ONCE_INIT;

static void open_openblas(void) {
  const char *chosen = getenv("MNIST_OPENBLAS_CORETYPE");
  if (chosen && *chosen) setenv("OPENBLAS_CORETYPE", chosen, 1);
  else if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  void *lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!lib) lib = dlopen("libopenblas.so", RTLD_NOW | RTLD_LOCAL);
  if (!lib) { snprintf(open_error, sizeof open_error, "cannot open OpenBLAS: %s", dlerror()); return; }
  sgemm = (sgemm_fn)dlsym(lib, "cblas_sgemm");
  set_num_threads = (void (*)(int))dlsym(lib, "openblas_set_num_threads");
  get_corename = (char *(*)(void))dlsym(lib, "openblas_get_corename");
  if (!sgemm || !set_num_threads || !get_corename) snprintf(open_error, sizeof open_error, "OpenBLAS lacks cblas_sgemm");
}

/* Bytes of patch matrix built at once; larger batches are processed in chunks of images. */
#define DEFAULT_PATCH_LIMIT (64 << 20)
static int64_t patch_limit = DEFAULT_PATCH_LIMIT;

/* Each worker thread loads its own instance of this module, so the scratch buffer is per thread. */
static __thread float *scratch = NULL;
static __thread size_t scratch_floats = 0;

static float *scratch_for(size_t floats) {
  if (floats > scratch_floats) {
    free(scratch);
    scratch = malloc(floats * sizeof(float));
    scratch_floats = scratch ? floats : 0;
  }
  return scratch;
}

typedef struct {
  int64_t n, h, w, cin, oh, ow, cout, fh, fw, sh, sw, dh, dw, pad_top, pad_left;
} conv_dims;

/* Reads the wasm memory and `count` integers after it; returns the memory's base or NULL (error thrown). */
static char *read_args(napi_env env, napi_callback_info info, size_t count, int64_t *out) {
  napi_value argv[24];
  size_t argc = 24;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != count + 1) {
    napi_throw_type_error(env, NULL, "blas-kernels: wrong number of arguments");
    return NULL;
  }
  void *base = NULL;
  size_t length = 0;
  if (napi_get_arraybuffer_info(env, argv[0], &base, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "blas-kernels: the first argument must be the wasm memory's ArrayBuffer");
    return NULL;
  }
  for (size_t i = 0; i < count; i++) {
    if (napi_get_value_int64(env, argv[i + 1], &out[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "blas-kernels: arguments after the memory must be integers");
      return NULL;
    }
  }
  return (char *)base;
}

static void read_dims(const int64_t *a, conv_dims *d) {
  d->n = a[0]; d->h = a[1]; d->w = a[2]; d->cin = a[3]; d->oh = a[4]; d->ow = a[5]; d->cout = a[6];
  d->fh = a[7]; d->fw = a[8]; d->sh = a[9]; d->sw = a[10]; d->dh = a[11]; d->dw = a[12];
  d->pad_top = a[13]; d->pad_left = a[14];
}

/* Patches of images [first, first + count) into cols [count * OH * OW, K]; zero where the patch is off the image. */
static void im2col(const float *x, float *cols, const conv_dims *d, int64_t first, int64_t count) {
  const int64_t k = d->fh * d->fw * d->cin;
  const size_t run = (size_t)d->cin * sizeof(float);
  for (int64_t b = 0; b < count; b++) {
    const float *img = x + (first + b) * d->h * d->w * d->cin;
    for (int64_t y = 0; y < d->oh; y++) {
      for (int64_t xo = 0; xo < d->ow; xo++) {
        float *row = cols + ((b * d->oh + y) * d->ow + xo) * k;
        for (int64_t ky = 0; ky < d->fh; ky++) {
          const int64_t iy = y * d->sh - d->pad_top + ky * d->dh;
          for (int64_t kx = 0; kx < d->fw; kx++, row += d->cin) {
            const int64_t ix = xo * d->sw - d->pad_left + kx * d->dw;
            if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) memset(row, 0, run);
            else memcpy(row, img + (iy * d->w + ix) * d->cin, run);
          }
        }
      }
    }
  }
}

/* The adjoint of im2col: adds each patch row of dcols back onto the image positions it came from. */
static void col2im(const float *cols, float *dx, const conv_dims *d, int64_t first, int64_t count) {
  const int64_t k = d->fh * d->fw * d->cin;
  for (int64_t b = 0; b < count; b++) {
    float *img = dx + (first + b) * d->h * d->w * d->cin;
    for (int64_t y = 0; y < d->oh; y++) {
      for (int64_t xo = 0; xo < d->ow; xo++) {
        const float *row = cols + ((b * d->oh + y) * d->ow + xo) * k;
        for (int64_t ky = 0; ky < d->fh; ky++) {
          const int64_t iy = y * d->sh - d->pad_top + ky * d->dh;
          for (int64_t kx = 0; kx < d->fw; kx++, row += d->cin) {
            const int64_t ix = xo * d->sw - d->pad_left + kx * d->dw;
            if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
            float *dst = img + (iy * d->w + ix) * d->cin;
            for (int64_t c = 0; c < d->cin; c++) dst[c] += row[c];
          }
        }
      }
    }
  }
}

/* Images per chunk so that the chunk's patch matrix fits the patch limit (at least one image). */
static int64_t chunk_images(const conv_dims *d) {
  const int64_t per_image = d->oh * d->ow * d->fh * d->fw * d->cin * (int64_t)sizeof(float);
  int64_t c = per_image > 0 ? patch_limit / per_image : d->n;
  if (c < 1) c = 1;
  return c > d->n ? d->n : c;
}

static napi_value undefined_value(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

/* A kernel's two operands and its output, all in the wasm heap. */
typedef struct {
  const float *a, *b;
  float *out;
} operands;

/*
 * Reads (memory, aOffset, bOffset, outOffset, ...rest): the three tensors into `ops` and the `count`
 * integers after them into `rest`. Returns 0 when it threw.
 */
static int read_operands(napi_env env, napi_callback_info info, size_t count, operands *ops, int64_t *rest) {
  int64_t a[24];
  char *mem = read_args(env, info, count + 3, a);
  if (!mem) return 0;
  ops->a = (const float *)(mem + a[0]);
  ops->b = (const float *)(mem + a[1]);
  ops->out = (float *)(mem + a[2]);
  memcpy(rest, a + 3, count * sizeof(int64_t));
  return 1;
}

/* One convolution call: its operands, its dimensions and patch buffer. */
typedef struct {
  operands ops;
  conv_dims d;
  int64_t k, rows, chunk; /* patch width FH*FW*CIN, output positions per image, images per chunk */
  float *cols;
} conv_call;

/* Reads (memory, aOffset, bOffset, outOffset, ...dims) and readies the patch buffer; 0 when it threw. */
static int conv_begin(napi_env env, napi_callback_info info, conv_call *c) {
  int64_t dims[15];
  if (!read_operands(env, info, 15, &c->ops, dims)) return 0;
  read_dims(dims, &c->d);
  c->k = c->d.fh * c->d.fw * c->d.cin;
  c->rows = c->d.oh * c->d.ow;
  c->chunk = chunk_images(&c->d);
  c->cols = scratch_for((size_t)(c->chunk * c->rows * c->k));
  if (!c->cols) napi_throw_error(env, NULL, "blas-kernels: out of memory for the patch matrix");
  return c->cols != NULL;
}

/* conv2d(memory, xOffset, filterOffset, yOffset, ...dims): y[N, OH, OW, COUT] = x * filter. */
static napi_value conv2d(napi_env env, napi_callback_info info) {
  conv_call c;
  if (!conv_begin(env, info, &c)) return NULL;
  const int64_t cout = c.d.cout;
  for (int64_t first = 0; first < c.d.n; first += c.chunk) {
    const int64_t count = c.d.n - first < c.chunk ? c.d.n - first : c.chunk;
    im2col(c.ops.a, c.cols, &c.d, first, count);
    sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(count * c.rows), (int)cout, (int)c.k,
          1.0f, c.cols, (int)c.k, c.ops.b, (int)cout, 0.0f, c.ops.out + first * c.rows * cout, (int)cout);
  }
  return undefined_value(env);
}

/* conv2dBackpropFilter(memory, xOffset, dyOffset, dwOffset, ...dims): dW[FH, FW, CIN, COUT] = cols' * dy. */
static napi_value conv2d_backprop_filter(napi_env env, napi_callback_info info) {
  conv_call c;
  if (!conv_begin(env, info, &c)) return NULL;
  const int64_t cout = c.d.cout;
  for (int64_t first = 0; first < c.d.n; first += c.chunk) {
    const int64_t count = c.d.n - first < c.chunk ? c.d.n - first : c.chunk;
    im2col(c.ops.a, c.cols, &c.d, first, count);
    sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)c.k, (int)cout, (int)(count * c.rows),
          1.0f, c.cols, (int)c.k, c.ops.b + first * c.rows * cout, (int)cout, first == 0 ? 0.0f : 1.0f, c.ops.out, (int)cout);
  }
  return undefined_value(env);
}

/* conv2dBackpropInput(memory, dyOffset, filterOffset, dxOffset, ...dims): dx = col2im(dy * filter'). */
static napi_value conv2d_backprop_input(napi_env env, napi_callback_info info) {
  conv_call c;
  if (!conv_begin(env, info, &c)) return NULL;
  const int64_t cout = c.d.cout;
  memset(c.ops.out, 0, (size_t)(c.d.n * c.d.h * c.d.w * c.d.cin) * sizeof(float));
  for (int64_t first = 0; first < c.d.n; first += c.chunk) {
    const int64_t count = c.d.n - first < c.chunk ? c.d.n - first : c.chunk;
    sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(count * c.rows), (int)c.k, (int)cout,
          1.0f, c.ops.a + first * c.rows * cout, (int)cout, c.ops.b, (int)cout, 0.0f, c.cols, (int)c.k);
    col2im(c.cols, c.ops.out, &c.d, first, count);
  }
  return undefined_value(env);
}

/*
 * maxPoolGrad(memory, dyOffset, xOffset, dxOffset, n, h, w, c, oh, ow, fh, fw, sh, sw, padTop, padLeft):
 * each output's gradient goes to the first position of its window holding the window's maximum (the rule
 * of tfjs's reference backend).
 */
static napi_value max_pool_grad(napi_env env, napi_callback_info info) {
  operands ops;
  int64_t a[12];
  if (!read_operands(env, info, 12, &ops, a)) return NULL;
  const float *dy = ops.a, *x = ops.b;
  float *dx = ops.out;
  const int64_t n = a[0], h = a[1], w = a[2], c = a[3], oh = a[4], ow = a[5], fh = a[6], fw = a[7];
  const int64_t sh = a[8], sw = a[9], pad_top = a[10], pad_left = a[11];
  float *best = scratch_for((size_t)c);
  if (!best) { napi_throw_error(env, NULL, "blas-kernels: out of memory"); return NULL; }
  int64_t *where = malloc((size_t)c * sizeof(int64_t));
  if (!where) { napi_throw_error(env, NULL, "blas-kernels: out of memory"); return NULL; }
  memset(dx, 0, (size_t)(n * h * w * c) * sizeof(float));
  for (int64_t b = 0; b < n; b++) {
    const float *img = x + b * h * w * c;
    float *grad = dx + b * h * w * c;
    for (int64_t y = 0; y < oh; y++) {
      for (int64_t xo = 0; xo < ow; xo++) {
        for (int64_t ch = 0; ch < c; ch++) { best[ch] = -INFINITY; where[ch] = -1; }
        for (int64_t ky = 0; ky < fh; ky++) {
          const int64_t iy = y * sh - pad_top + ky;
          if (iy < 0 || iy >= h) continue;
          for (int64_t kx = 0; kx < fw; kx++) {
            const int64_t ix = xo * sw - pad_left + kx;
            if (ix < 0 || ix >= w) continue;
            const int64_t at = (iy * w + ix) * c;
            for (int64_t ch = 0; ch < c; ch++) {
              if (img[at + ch] > best[ch]) { best[ch] = img[at + ch]; where[ch] = at + ch; }
            }
          }
        }
        const float *g = dy + ((b * oh + y) * ow + xo) * c;
        for (int64_t ch = 0; ch < c; ch++) if (where[ch] >= 0) grad[where[ch]] += g[ch];
      }
    }
  }
  free(where);
  return undefined_value(env);
}

/*
 * matmul(memory, aOffset, bOffset, cOffset, batch, m, n, k, transposeA, transposeB, strideA, strideB):
 * c[i] = op(a[i]) * op(b[i]) for i < batch, strides in floats (0 broadcasts one matrix over the batch).
 */
static napi_value matmul(napi_env env, napi_callback_info info) {
  operands ops;
  int64_t a[8];
  if (!read_operands(env, info, 8, &ops, a)) return NULL;
  const float *pa = ops.a, *pb = ops.b;
  float *pc = ops.out;
  const int64_t batch = a[0], m = a[1], n = a[2], k = a[3], ta = a[4], tb = a[5], stride_a = a[6], stride_b = a[7];
  for (int64_t i = 0; i < batch; i++) {
    sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0f, pa + i * stride_a, ta ? (int)m : (int)k, pb + i * stride_b, tb ? (int)k : (int)n,
                0.0f, pc + i * m * n, (int)n);
  }
  return undefined_value(env);
}

/* BLAS threads per calling thread: 1 when the trainer runs one replica per core. */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  int64_t a[1];
  napi_value argv[1];
  size_t argc = 1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int64(env, argv[0], &a[0]) != napi_ok || a[0] < 1) {
    napi_throw_type_error(env, NULL, "blas-kernels: setThreads takes a positive integer");
    return NULL;
  }
  set_num_threads((int)a[0]);
  return undefined_value(env);
}

/* setPatchLimit(bytes): the patch matrix's size limit, 0 for the default (tests use a small one). */
static napi_value set_patch_limit(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  int64_t bytes;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int64(env, argv[0], &bytes) != napi_ok || bytes < 0) {
    napi_throw_type_error(env, NULL, "blas-kernels: setPatchLimit takes a byte count >= 0");
    return NULL;
  }
  patch_limit = bytes ? bytes : DEFAULT_PATCH_LIMIT;
  return undefined_value(env);
}

static napi_value core_name(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  napi_create_string_utf8(env, get_corename(), NAPI_AUTO_LENGTH, &s);
  return s;
}

NAPI_MODULE_INIT() {
  pthread_once(&opened, open_openblas);
  if (open_error[0]) {
    napi_throw_error(env, NULL, open_error);
    return NULL;
  }
  const napi_property_descriptor fns[] = {
    { "conv2d", NULL, conv2d, NULL, NULL, NULL, napi_default, NULL },
    { "conv2dBackpropFilter", NULL, conv2d_backprop_filter, NULL, NULL, NULL, napi_default, NULL },
    { "conv2dBackpropInput", NULL, conv2d_backprop_input, NULL, NULL, NULL, napi_default, NULL },
    { "maxPoolGrad", NULL, max_pool_grad, NULL, NULL, NULL, napi_default, NULL },
    { "matmul", NULL, matmul, NULL, NULL, NULL, napi_default, NULL },
    { "setPatchLimit", NULL, set_patch_limit, NULL, NULL, NULL, napi_default, NULL },
    { "setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL },
    { "coreName", NULL, core_name, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof(fns) / sizeof(fns[0]), fns);
  return exports;
}
