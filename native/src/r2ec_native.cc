// Native kernels for the tfjs wasm backend (issue 10): they read and write tensors *in place* on the wasm heap
// (the WebAssembly.Memory ArrayBuffer), so a kernel costs no copies. Each call gets the heap buffer, byte offsets
// of its tensors and their sizes; every access is bounds-checked against the buffer before any work is done.
//
// Matrix products go to OpenBLAS (Debian libopenblas-dev) with ONE thread: each data-parallel rank is a worker
// thread of its own and keeps one core (lib/train/parallel.ts). The other kernels are plain loops that the
// compiler vectorises (AVX2/FMA; the module refuses to load on a CPU without them).
#include <node_api.h>
#include <cblas.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

#define CHECK_NAPI(call)                                                                        \
  do {                                                                                          \
    if ((call) != napi_ok) {                                                                    \
      napi_throw_error(env, nullptr, "r2ec_native: N-API call failed: " #call);                 \
      return nullptr;                                                                           \
    }                                                                                           \
  } while (0)

struct Args {
  napi_env env;
  size_t argc;
  napi_value argv[24];
  bool ok = true;

  Args(napi_env e, napi_callback_info info, size_t expected) : env(e), argc(24) {
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < expected) {
      fail("wrong number of arguments");
    }
  }
  void fail(const char* msg) {
    if (ok) napi_throw_error(env, nullptr, (std::string("r2ec_native: ") + msg).c_str());
    ok = false;
  }
  double num(size_t i) {
    double v = 0;
    if (ok && napi_get_value_double(env, argv[i], &v) != napi_ok) fail("expected a number argument");
    return v;
  }
  int64_t i64(size_t i) { return static_cast<int64_t>(num(i)); }
  bool flag(size_t i) {
    bool v = false;
    if (ok && napi_get_value_bool(env, argv[i], &v) != napi_ok) fail("expected a boolean argument");
    return v;
  }
  /** The heap: an ArrayBuffer (WebAssembly.Memory.buffer). */
  uint8_t* heap(size_t i, size_t* len) {
    void* data = nullptr;
    *len = 0;
    if (ok && napi_get_arraybuffer_info(env, argv[i], &data, len) != napi_ok) fail("expected the wasm heap ArrayBuffer");
    return static_cast<uint8_t*>(data);
  }
};

/** Pointer to `count` floats at byte offset `off` of the heap, or null (error thrown) when out of bounds. */
float* at(Args& a, uint8_t* heap, size_t len, int64_t off, int64_t count) {
  if (!a.ok) return nullptr;
  if (off < 0 || count < 0 || (off & 3) != 0 || static_cast<uint64_t>(off) + static_cast<uint64_t>(count) * 4 > len) {
    a.fail("tensor outside the heap (bad offset or size)");
    return nullptr;
  }
  if (off == 0 && count > 0) {
    // address 0 is never a tensor: the wasm allocator returned NULL for it (the 4 GiB heap is exhausted). Writing
    // there would corrupt the wasm module's own memory, so stop with the reason instead.
    a.fail("the wasm heap is exhausted (an allocation of the tfjs wasm backend returned NULL); use a smaller model or batch");
    return nullptr;
  }
  return reinterpret_cast<float*>(heap + off);
}

// ------------------------------------------------------------------------------------------------------------------
// gemm(heap, transA, transB, M, N, K, batch, aOff, strideA, bOff, strideB, cOff, strideC, alpha, beta)
// C_i = alpha·op(A_i)·op(B_i) + beta·C_i for i < batch; a stride of 0 broadcasts that operand. Row-major; op(A) is
// [M, K] (A stored [K, M] when transposed), op(B) is [K, N]. Offsets in bytes, strides in floats.
napi_value Gemm(napi_env env, napi_callback_info info) {
  Args a(env, info, 15);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const bool ta = a.flag(1), tb = a.flag(2);
  const int64_t M = a.i64(3), N = a.i64(4), K = a.i64(5), batch = a.i64(6);
  const int64_t aOff = a.i64(7), sA = a.i64(8), bOff = a.i64(9), sB = a.i64(10), cOff = a.i64(11), sC = a.i64(12);
  const float alpha = static_cast<float>(a.num(13)), beta = static_cast<float>(a.num(14));
  if (!a.ok) return nullptr;
  if (M < 0 || N < 0 || K < 0 || batch < 0 || sA < 0 || sB < 0 || sC < 0) {
    a.fail("gemm: negative size");
    return nullptr;
  }
  if (batch == 0 || M == 0 || N == 0) return nullptr;
  const int64_t last = batch - 1;
  float* A = at(a, heap, len, aOff, sA * last + M * K);
  float* B = at(a, heap, len, bOff, sB * last + K * N);
  float* C = at(a, heap, len, cOff, sC * last + M * N);
  if (!a.ok) return nullptr;
  if (K == 0) {
    for (int64_t i = 0; i < batch; i++) {
      float* c = C + i * sC;
      for (int64_t j = 0; j < M * N; j++) c[j] = beta == 0.f ? 0.f : beta * c[j];
    }
    return nullptr;
  }
  const int lda = static_cast<int>(ta ? M : K), ldb = static_cast<int>(tb ? K : N), ldc = static_cast<int>(N);
  for (int64_t i = 0; i < batch; i++) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
                static_cast<int>(N), static_cast<int>(K), alpha, A + i * sA, lda, B + i * sB, ldb, beta, C + i * sC, ldc);
  }
  return nullptr;
}

// ------------------------------------------------------------------------------------------------------------------
// Elementwise math, branch-free so that the loops vectorise (8 floats per AVX2 instruction).

inline float bits2f(uint32_t u) { return __builtin_bit_cast(float, u); }
inline uint32_t f2bits(float f) { return __builtin_bit_cast(uint32_t, f); }

/** e^x, Cephes-style: 2^n · p(r) with r = x − n·ln2 split in two parts; max error ≈ 2 ulp. exp(x < −87.33) = 0. */
inline float fexp(float x) {
  const float hi = 88.7228317f, lo = -87.3365478515625f;
  const bool under = x < lo;
  const bool nan = x != x;
  float xc = x > hi ? hi : (x < lo ? lo : x);
  float n = __builtin_floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t e = (ni > 127 ? 127 : ni) + 127;  // 2^128 is not a float: take the last factor 2 separately
  float y = p * bits2f(static_cast<uint32_t>(e) << 23) * (ni > 127 ? 2.0f : 1.0f);
  y = x > hi ? __builtin_inff() : y;
  y = under ? 0.0f : y;
  return nan ? x : y;
}

/** ln x, Cephes-style (mantissa in [√½, √2), degree-8 polynomial); log 0 = −inf, log(x < 0) = NaN, log inf = inf. */
inline float flog(float x) {
  const bool sub = x > 0.0f && x < 1.17549435e-38f;  // subnormal: scale into the normal range first
  const float xs = sub ? x * 8388608.0f : x;
  const uint32_t u = f2bits(xs);
  int32_t ex = static_cast<int32_t>((u >> 23) & 0xff) - 126 - (sub ? 23 : 0);
  float m = bits2f((u & 0x007fffffu) | 0x3f000000u);  // [0.5, 1)
  const bool small = m < 0.707106781186547524f;
  ex = small ? ex - 1 : ex;
  m = small ? m + m - 1.0f : m - 1.0f;
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  const float fe = static_cast<float>(ex);
  y += fe * -2.12194440e-4f;
  y += -0.5f * z;
  float r = m + y + fe * 0.693359375f;
  r = x == 0.0f ? -__builtin_inff() : r;
  r = x < 0.0f || x != x ? __builtin_nanf("") : r;
  return x == __builtin_inff() ? x : r;
}

inline float fsigmoid(float x) { return 1.0f / (1.0f + fexp(-x)); }

enum BinaryOp { ADD = 0, SUB = 1, MUL = 2, DIV = 3, MAX = 4, MIN = 5, SQDIFF = 6 };

template <int OP>
inline float bin(float a, float b) {
  if constexpr (OP == ADD) return a + b;
  if constexpr (OP == SUB) return a - b;
  if constexpr (OP == MUL) return a * b;
  if constexpr (OP == DIV) return a / b;
  if constexpr (OP == MAX) return (a > b || a != a) ? a : b;  // NaN propagates as in tf.maximum
  if constexpr (OP == MIN) return (a < b || a != a) ? a : b;
  if constexpr (OP == SQDIFF) return (a - b) * (a - b);
  return 0.f;
}

/**
 * Broadcast layouts of out[i] = op(a[ia], b[ib]), i < n:
 *   0: ia = ib = i;  1: ib = i % p;  2: ib = i / p;  3: ia = i % p;  4: ia = i / p.
 * (p: the broadcast operand's period (row vector, scalar when p = 1) or repeat (column vector)).
 */
template <int OP>
void binaryLoop(const float* __restrict a, const float* __restrict b, float* __restrict o, int64_t n, int mode, int64_t p) {
  if (mode == 0) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] = bin<OP>(a[i], b[i]);
  } else if (mode == 1 || mode == 3) {
    const bool bBroad = mode == 1;
    const float* full = bBroad ? a : b;
    const float* part = bBroad ? b : a;
    for (int64_t r = 0; r < n; r += p) {
      const float* f = full + r;
      float* out = o + r;
      if (bBroad) {
#pragma omp simd
        for (int64_t j = 0; j < p; j++) out[j] = bin<OP>(f[j], part[j]);
      } else {
#pragma omp simd
        for (int64_t j = 0; j < p; j++) out[j] = bin<OP>(part[j], f[j]);
      }
    }
  } else {
    const bool bBroad = mode == 2;
    const float* full = bBroad ? a : b;
    const float* part = bBroad ? b : a;
    const int64_t rows = p == 0 ? 0 : n / p;
    for (int64_t r = 0; r < rows; r++) {
      const float s = part[r];
      const float* f = full + r * p;
      float* out = o + r * p;
      if (bBroad) {
#pragma omp simd
        for (int64_t j = 0; j < p; j++) out[j] = bin<OP>(f[j], s);
      } else {
#pragma omp simd
        for (int64_t j = 0; j < p; j++) out[j] = bin<OP>(s, f[j]);
      }
    }
  }
}

// binary(heap, op, mode, aOff, aSize, bOff, bSize, outOff, n, p)
napi_value Binary(napi_env env, napi_callback_info info) {
  Args a(env, info, 10);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int op = static_cast<int>(a.i64(1)), mode = static_cast<int>(a.i64(2));
  const int64_t n = a.i64(8), p = a.i64(9);
  float* A = at(a, heap, len, a.i64(3), a.i64(4));
  float* B = at(a, heap, len, a.i64(5), a.i64(6));
  float* O = at(a, heap, len, a.i64(7), n);
  if (!a.ok) return nullptr;
  const int64_t sa = a.i64(4), sb = a.i64(6);
  const bool shapesOk = (mode == 0 && sa == n && sb == n) || ((mode == 1 || mode == 2) && sa == n) || ((mode == 3 || mode == 4) && sb == n);
  const int64_t part = mode == 1 || mode == 2 ? sb : sa;
  const bool periodOk = mode == 0 || (p > 0 && n % p == 0 && ((mode == 1 || mode == 3) ? part == p : part * p == n));
  if (!shapesOk || !periodOk) {
    a.fail("binary: sizes do not match the broadcast layout");
    return nullptr;
  }
  switch (op) {
    case ADD: binaryLoop<ADD>(A, B, O, n, mode, p); break;
    case SUB: binaryLoop<SUB>(A, B, O, n, mode, p); break;
    case MUL: binaryLoop<MUL>(A, B, O, n, mode, p); break;
    case DIV: binaryLoop<DIV>(A, B, O, n, mode, p); break;
    case MAX: binaryLoop<MAX>(A, B, O, n, mode, p); break;
    case MIN: binaryLoop<MIN>(A, B, O, n, mode, p); break;
    case SQDIFF: binaryLoop<SQDIFF>(A, B, O, n, mode, p); break;
    default: a.fail("binary: unknown op");
  }
  return nullptr;
}

enum UnaryOp { SQUARE = 0, SQRT = 1, RSQRT = 2, EXP = 3, LOG = 4, NEG = 5, SIGMOID = 6, ABS = 7, RECIPROCAL = 8 };

template <int OP>
void unaryLoop(const float* __restrict x, float* __restrict o, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    if constexpr (OP == SQUARE) o[i] = v * v;
    if constexpr (OP == SQRT) o[i] = __builtin_sqrtf(v);
    if constexpr (OP == RSQRT) o[i] = 1.0f / __builtin_sqrtf(v);
    if constexpr (OP == EXP) o[i] = fexp(v);
    if constexpr (OP == LOG) o[i] = flog(v);
    if constexpr (OP == NEG) o[i] = -v;
    if constexpr (OP == SIGMOID) o[i] = fsigmoid(v);
    if constexpr (OP == ABS) o[i] = __builtin_fabsf(v);
    if constexpr (OP == RECIPROCAL) o[i] = 1.0f / v;
  }
}

// unary(heap, op, xOff, outOff, n)
napi_value Unary(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int op = static_cast<int>(a.i64(1));
  const int64_t n = a.i64(4);
  float* X = at(a, heap, len, a.i64(2), n);
  float* O = at(a, heap, len, a.i64(3), n);
  if (!a.ok) return nullptr;
  switch (op) {
    case SQUARE: unaryLoop<SQUARE>(X, O, n); break;
    case SQRT: unaryLoop<SQRT>(X, O, n); break;
    case RSQRT: unaryLoop<RSQRT>(X, O, n); break;
    case EXP: unaryLoop<EXP>(X, O, n); break;
    case LOG: unaryLoop<LOG>(X, O, n); break;
    case NEG: unaryLoop<NEG>(X, O, n); break;
    case SIGMOID: unaryLoop<SIGMOID>(X, O, n); break;
    case ABS: unaryLoop<ABS>(X, O, n); break;
    case RECIPROCAL: unaryLoop<RECIPROCAL>(X, O, n); break;
    default: a.fail("unary: unknown op");
  }
  return nullptr;
}

enum ReduceOp { RSUM = 0, RMEAN = 1, RMAX = 2, RMIN = 3 };

// reduce(heap, op, xOff, outOff, A, R, C): out[a, c] = op_r x[a, r, c] (the reduced axes are one contiguous block).
// Sums accumulate in double, in a fixed order (deterministic, and exact enough for long reductions).
napi_value Reduce(napi_env env, napi_callback_info info) {
  Args a(env, info, 7);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int op = static_cast<int>(a.i64(1));
  const int64_t A = a.i64(4), R = a.i64(5), C = a.i64(6);
  float* X = at(a, heap, len, a.i64(2), A * R * C);
  float* O = at(a, heap, len, a.i64(3), A * C);
  if (!a.ok) return nullptr;
  if (R <= 0) {
    a.fail("reduce: empty reduction");
    return nullptr;
  }
  for (int64_t i = 0; i < A; i++) {
    const float* x = X + i * R * C;
    float* o = O + i * C;
    if (op == RSUM || op == RMEAN) {
      const double scale = op == RMEAN ? 1.0 / static_cast<double>(R) : 1.0;
      if (C == 1) {
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t r = 0; r < R; r++) s += x[r];
        o[0] = static_cast<float>(s * scale);
      } else {
        // column sums: accumulate rows into a double buffer, blockwise
        double acc[512];
        for (int64_t c0 = 0; c0 < C; c0 += 512) {
          const int64_t w = C - c0 < 512 ? C - c0 : 512;
          for (int64_t c = 0; c < w; c++) acc[c] = 0;
          for (int64_t r = 0; r < R; r++) {
            const float* row = x + r * C + c0;
#pragma omp simd
            for (int64_t c = 0; c < w; c++) acc[c] += row[c];
          }
          for (int64_t c = 0; c < w; c++) o[c0 + c] = static_cast<float>(acc[c] * scale);
        }
      }
    } else {
      const bool isMax = op == RMAX;
      for (int64_t c = 0; c < C; c++) o[c] = x[c];
      for (int64_t r = 1; r < R; r++) {
        const float* row = x + r * C;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) {
          const float v = row[c], cur = o[c];
          o[c] = (cur != cur) ? cur : (v != v) ? v : isMax ? (v > cur ? v : cur) : (v < cur ? v : cur);
        }
      }
    }
  }
  return nullptr;
}

// softmax(heap, xOff, outOff, rows, cols): over the last axis.
napi_value Softmax(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t rows = a.i64(3), cols = a.i64(4);
  float* X = at(a, heap, len, a.i64(1), rows * cols);
  float* O = at(a, heap, len, a.i64(2), rows * cols);
  if (!a.ok) return nullptr;
  for (int64_t r = 0; r < rows; r++) {
    const float* x = X + r * cols;
    float* o = O + r * cols;
    float m = -__builtin_inff();
#pragma omp simd reduction(max : m)
    for (int64_t c = 0; c < cols; c++) m = x[c] > m ? x[c] : m;
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < cols; c++) {
      const float e = fexp(x[c] - m);
      o[c] = e;
      s += e;
    }
    const float inv = 1.0f / s;
#pragma omp simd
    for (int64_t c = 0; c < cols; c++) o[c] *= inv;
  }
  return nullptr;
}

// softmaxGrad(heap, yOff, dyOff, outOff, rows, cols): dx = (dy − Σ dy·y) · y per row (one pass instead of four kernels).
napi_value SoftmaxGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 6);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t rows = a.i64(4), cols = a.i64(5);
  float* Y = at(a, heap, len, a.i64(1), rows * cols);
  float* DY = at(a, heap, len, a.i64(2), rows * cols);
  float* O = at(a, heap, len, a.i64(3), rows * cols);
  if (!a.ok) return nullptr;
  for (int64_t r = 0; r < rows; r++) {
    const float* y = Y + r * cols;
    const float* dy = DY + r * cols;
    float* o = O + r * cols;
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < cols; c++) s += dy[c] * y[c];
#pragma omp simd
    for (int64_t c = 0; c < cols; c++) o[c] = (dy[c] - s) * y[c];
  }
  return nullptr;
}

// transpose0213(heap, xOff, outOff, d0, d1, d2, d3): [d0, d1, d2, d3] → [d0, d2, d1, d3] (attention head split/merge).
napi_value Transpose0213(napi_env env, napi_callback_info info) {
  Args a(env, info, 7);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t d0 = a.i64(3), d1 = a.i64(4), d2 = a.i64(5), d3 = a.i64(6);
  float* X = at(a, heap, len, a.i64(1), d0 * d1 * d2 * d3);
  float* O = at(a, heap, len, a.i64(2), d0 * d1 * d2 * d3);
  if (!a.ok) return nullptr;
  for (int64_t i = 0; i < d0; i++) {
    for (int64_t k = 0; k < d2; k++) {
      for (int64_t j = 0; j < d1; j++) {
        std::memcpy(O + ((i * d2 + k) * d1 + j) * d3, X + ((i * d1 + j) * d2 + k) * d3, static_cast<size_t>(d3) * 4);
      }
    }
  }
  return nullptr;
}

// ------------------------------------------------------------------------------------------------------------------
// Fused model ops (lib/model/fused-kernels.ts): one kernel forward and one backward instead of tfjs's chains of
// elementwise kernels, each of which costs a pass over memory and tens of microseconds of JavaScript.

// rmsNorm(heap, xOff, wOff, yOff, rsOff, N, d, eps, plusOne): rs[n] = (mean_j x² + eps)^(−1/2), y = x·rs·w' (w' = w or 1 + w)
napi_value RmsNorm(napi_env env, napi_callback_info info) {
  Args a(env, info, 9);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t N = a.i64(5), d = a.i64(6);
  const double eps = a.num(7);
  const bool plusOne = a.flag(8);
  float* X = at(a, heap, len, a.i64(1), N * d);
  float* W = at(a, heap, len, a.i64(2), d);
  float* Y = at(a, heap, len, a.i64(3), N * d);
  float* RS = at(a, heap, len, a.i64(4), N);
  if (!a.ok) return nullptr;
  std::vector<float> w(W, W + d);
  if (plusOne) for (auto& v : w) v += 1.0f;
  for (int64_t n = 0; n < N; n++) {
    const float* x = X + n * d;
    float* y = Y + n * d;
    // float32 like the tfjs formulation (mean(square(x))): the same overflow to inf (then rs = 0) on diverged weights
    float ss = 0;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < d; j++) ss += x[j] * x[j];
    const float rs = 1.0f / __builtin_sqrtf(ss / static_cast<float>(d) + static_cast<float>(eps));
    RS[n] = rs;
#pragma omp simd
    for (int64_t j = 0; j < d; j++) y[j] = x[j] * rs * w[j];
  }
  return nullptr;
}

// rmsNormGrad(heap, xOff, wOff, rsOff, dyOff, dxOff, dwOff, N, d, plusOne):
//   dx = rs·(dy·w') − x·rs³·(Σ_j dy·w'·x)/d;  dw = Σ_n dy·x·rs
napi_value RmsNormGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 10);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t N = a.i64(7), d = a.i64(8);
  const bool plusOne = a.flag(9);
  float* X = at(a, heap, len, a.i64(1), N * d);
  float* W = at(a, heap, len, a.i64(2), d);
  float* RS = at(a, heap, len, a.i64(3), N);
  float* DY = at(a, heap, len, a.i64(4), N * d);
  float* DX = at(a, heap, len, a.i64(5), N * d);
  float* DW = at(a, heap, len, a.i64(6), d);
  if (!a.ok) return nullptr;
  std::vector<float> w(W, W + d);
  if (plusOne) for (auto& v : w) v += 1.0f;
  std::vector<double> dw(static_cast<size_t>(d), 0.0);
  for (int64_t n = 0; n < N; n++) {
    const float* x = X + n * d;
    const float* dy = DY + n * d;
    float* dx = DX + n * d;
    const float rs = RS[n];
    float dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < d; j++) dot += dy[j] * w[j] * x[j];
    const float c = dot / static_cast<float>(d) * rs * rs * rs;
#pragma omp simd
    for (int64_t j = 0; j < d; j++) dx[j] = rs * dy[j] * w[j] - c * x[j];
    double* acc = dw.data();
#pragma omp simd
    for (int64_t j = 0; j < d; j++) acc[j] += static_cast<double>(dy[j] * x[j] * rs);
  }
  for (int64_t j = 0; j < d; j++) DW[j] = static_cast<float>(dw[j]);
  return nullptr;
}

// swiglu(heap, gOff, uOff, yOff, n): y = silu(g)·u = g·σ(g)·u
napi_value Swiglu(napi_env env, napi_callback_info info) {
  Args a(env, info, 5);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t n = a.i64(4);
  float* G = at(a, heap, len, a.i64(1), n);
  float* U = at(a, heap, len, a.i64(2), n);
  float* Y = at(a, heap, len, a.i64(3), n);
  if (!a.ok) return nullptr;
#pragma omp simd
  for (int64_t i = 0; i < n; i++) Y[i] = G[i] * fsigmoid(G[i]) * U[i];
  return nullptr;
}

// swigluGrad(heap, gOff, uOff, dyOff, dgOff, duOff, n): dg = dy·u·σ(g)·(1 + g·(1 − σ(g))), du = dy·g·σ(g)
napi_value SwigluGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 7);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t n = a.i64(6);
  float* G = at(a, heap, len, a.i64(1), n);
  float* U = at(a, heap, len, a.i64(2), n);
  float* DY = at(a, heap, len, a.i64(3), n);
  float* DG = at(a, heap, len, a.i64(4), n);
  float* DU = at(a, heap, len, a.i64(5), n);
  if (!a.ok) return nullptr;
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float g = G[i], s = fsigmoid(g), dy = DY[i];
    DG[i] = dy * U[i] * s * (1.0f + g * (1.0f - s));
    DU[i] = dy * g * s;
  }
  return nullptr;
}

// rope(heap, xOff, cosOff, sinOff, yOff, rows, dh, transpose): y = x·cos + R(x)·sin with R(x) = [−x₂, x₁] (rotate_half);
// transpose = the gradient: dx = dy·cos + Rᵀ(dy·sin) with Rᵀ(z) = [z₂, −z₁].
napi_value Rope(napi_env env, napi_callback_info info) {
  Args a(env, info, 8);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t rows = a.i64(5), dh = a.i64(6);
  const bool tr = a.flag(7);
  float* X = at(a, heap, len, a.i64(1), rows * dh);
  float* C = at(a, heap, len, a.i64(2), rows * dh);
  float* S = at(a, heap, len, a.i64(3), rows * dh);
  float* Y = at(a, heap, len, a.i64(4), rows * dh);
  if (!a.ok) return nullptr;
  if (dh % 2 != 0) {
    a.fail("rope: odd head size");
    return nullptr;
  }
  const int64_t h = dh / 2;
  for (int64_t r = 0; r < rows; r++) {
    const float* x = X + r * dh;
    const float* c = C + r * dh;
    const float* s = S + r * dh;
    float* y = Y + r * dh;
    if (!tr) {
#pragma omp simd
      for (int64_t i = 0; i < h; i++) {
        y[i] = x[i] * c[i] - x[i + h] * s[i];
        y[i + h] = x[i + h] * c[i + h] + x[i] * s[i + h];
      }
    } else {
#pragma omp simd
      for (int64_t i = 0; i < h; i++) {
        y[i] = x[i] * c[i] + x[i + h] * s[i + h];
        y[i + h] = x[i + h] * c[i + h] - x[i] * s[i];
      }
    }
  }
  return nullptr;
}

// attention(heap, qOff, kOff, vOff, maskOff, oOff, pOff, B, Hkv, G, T, Tk, dh, pastLen, window)
// q, o: [B, Hkv, G·T, dh] (the G query heads of a key/value head stacked, as the decoder lays them out); k, v:
// [B, Hkv, Tk, dh]; mask: int32 [B, Tk] (1 = real key); p: [B, Hkv, G·T, Tk] the attention probabilities (kept for
// the gradient). Query row r sits at position pastLen + r % T and sees the real keys j ≤ it, fewer than `window`
// back. The score scale is already folded into q. A row that sees no key attends uniformly (as the stock −1e9 bias).
napi_value Attention(napi_env env, napi_callback_info info) {
  Args a(env, info, 15);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t B = a.i64(7), Hkv = a.i64(8), G = a.i64(9), T = a.i64(10), Tk = a.i64(11), dh = a.i64(12);
  const int64_t pastLen = a.i64(13), window = a.i64(14);
  const int64_t M = G * T;
  float* Q = at(a, heap, len, a.i64(1), B * Hkv * M * dh);
  float* K = at(a, heap, len, a.i64(2), B * Hkv * Tk * dh);
  float* V = at(a, heap, len, a.i64(3), B * Hkv * Tk * dh);
  const int32_t* mask = reinterpret_cast<const int32_t*>(at(a, heap, len, a.i64(4), B * Tk));
  float* O = at(a, heap, len, a.i64(5), B * Hkv * M * dh);
  float* P = at(a, heap, len, a.i64(6), B * Hkv * M * Tk);
  if (!a.ok) return nullptr;
  for (int64_t b = 0; b < B; b++) {
    for (int64_t hk = 0; hk < Hkv; hk++) {
      const int64_t bh = b * Hkv + hk;
      const float* q = Q + bh * M * dh;
      const float* k = K + bh * Tk * dh;
      const float* v = V + bh * Tk * dh;
      float* p = P + bh * M * Tk;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(Tk), static_cast<int>(dh), 1.0f, q,
                  static_cast<int>(dh), k, static_cast<int>(dh), 0.0f, p, static_cast<int>(Tk));
      const int32_t* km = mask + b * Tk;
      for (int64_t r = 0; r < M; r++) {
        float* row = p + r * Tk;
        const int64_t qpos = pastLen + r % T;
        // keys that can be visible: j in [lo, hi] (causal and window); within it, the key mask decides
        const int64_t hi = qpos < Tk - 1 ? qpos : Tk - 1;
        const int64_t lo = qpos - window + 1 > 0 ? qpos - window + 1 : 0;
        float m = -__builtin_inff();
        int64_t seen = 0;
        for (int64_t j = lo; j <= hi; j++) seen += km[j] != 0;
        if (seen == 0) {
          // no visible key (a left-pad query): uniform, as softmax over an all −1e9 row; its output is never read
          const float u = 1.0f / static_cast<float>(Tk);
          for (int64_t j = 0; j < Tk; j++) row[j] = u;
          continue;
        }
#pragma omp simd reduction(max : m)
        for (int64_t j = lo; j <= hi; j++) {
          const float v = km[j] != 0 ? row[j] : -__builtin_inff();
          m = v > m ? v : m;
        }
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = lo; j <= hi; j++) {
          const float e = km[j] != 0 ? fexp(row[j] - m) : 0.0f;
          row[j] = e;
          s += e;
        }
        const float inv = 1.0f / s;
#pragma omp simd
        for (int64_t j = lo; j <= hi; j++) row[j] *= inv;
        for (int64_t j = 0; j < lo; j++) row[j] = 0.0f;
        for (int64_t j = hi + 1; j < Tk; j++) row[j] = 0.0f;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(M), static_cast<int>(dh), static_cast<int>(Tk), 1.0f, p,
                  static_cast<int>(Tk), v, static_cast<int>(dh), 0.0f, O + bh * M * dh, static_cast<int>(dh));
    }
  }
  return nullptr;
}

// attentionGrad(heap, qOff, kOff, vOff, pOff, dOOff, dqOff, dkOff, dvOff, B, Hkv, G, T, Tk, dh)
//   dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO (per batch row and kv head)
napi_value AttentionGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, 15);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t B = a.i64(9), Hkv = a.i64(10), G = a.i64(11), T = a.i64(12), Tk = a.i64(13), dh = a.i64(14);
  const int64_t M = G * T;
  float* Q = at(a, heap, len, a.i64(1), B * Hkv * M * dh);
  float* K = at(a, heap, len, a.i64(2), B * Hkv * Tk * dh);
  float* V = at(a, heap, len, a.i64(3), B * Hkv * Tk * dh);
  float* P = at(a, heap, len, a.i64(4), B * Hkv * M * Tk);
  float* DO = at(a, heap, len, a.i64(5), B * Hkv * M * dh);
  float* DQ = at(a, heap, len, a.i64(6), B * Hkv * M * dh);
  float* DK = at(a, heap, len, a.i64(7), B * Hkv * Tk * dh);
  float* DV = at(a, heap, len, a.i64(8), B * Hkv * Tk * dh);
  if (!a.ok) return nullptr;
  std::vector<float> ds(static_cast<size_t>(M * Tk));
  const int m = static_cast<int>(M), tk = static_cast<int>(Tk), d = static_cast<int>(dh);
  for (int64_t bh = 0; bh < B * Hkv; bh++) {
    const float* q = Q + bh * M * dh;
    const float* k = K + bh * Tk * dh;
    const float* v = V + bh * Tk * dh;
    const float* p = P + bh * M * Tk;
    const float* dO = DO + bh * M * dh;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, tk, d, 1.0f, dO, d, v, d, 0.0f, ds.data(), tk);
    for (int64_t r = 0; r < M; r++) {
      float* row = ds.data() + r * Tk;
      const float* pr = p + r * Tk;
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < Tk; j++) s += row[j] * pr[j];
#pragma omp simd
      for (int64_t j = 0; j < Tk; j++) row[j] = pr[j] * (row[j] - s);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d, tk, 1.0f, ds.data(), tk, k, d, 0.0f, DQ + bh * M * dh, d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, tk, d, m, 1.0f, ds.data(), tk, q, d, 0.0f, DK + bh * Tk * dh, d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, tk, d, m, 1.0f, p, tk, dO, d, 0.0f, DV + bh * Tk * dh, d);
  }
  return nullptr;
}

// adamw(heap, pOff, gOff, mOff, vOff, pOutOff, mOutOff, vOutOff, n, lr, β1, 1−β1, β2, 1−β2, ε, wd, gradScale, bc1, bc2)
// One AdamW update of one parameter into new tensors (tensors are immutable): g' = g·gradScale,
// m' = β1·m + (1−β1)·g', v' = β2·v + (1−β2)·g'², p' = p − lr·((m'/bc1)/(√(v'/bc2) + ε) + wd·p), operation by
// operation as lib/train/optimizer.ts writes it with tfjs ops (the constants are rounded to float32 the same way).
napi_value AdamW(napi_env env, napi_callback_info info) {
  Args a(env, info, 19);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t n = a.i64(8);
  const float lr = static_cast<float>(a.num(9)), b1 = static_cast<float>(a.num(10)), c1 = static_cast<float>(a.num(11));
  const float b2 = static_cast<float>(a.num(12)), c2 = static_cast<float>(a.num(13)), eps = static_cast<float>(a.num(14));
  const float wd = static_cast<float>(a.num(15)), gs = static_cast<float>(a.num(16));
  const float bc1 = static_cast<float>(a.num(17)), bc2 = static_cast<float>(a.num(18));
  float* Pp = at(a, heap, len, a.i64(1), n);
  float* Gg = at(a, heap, len, a.i64(2), n);
  float* Mm = at(a, heap, len, a.i64(3), n);
  float* Vv = at(a, heap, len, a.i64(4), n);
  float* Po = at(a, heap, len, a.i64(5), n);
  float* Mo = at(a, heap, len, a.i64(6), n);
  float* Vo = at(a, heap, len, a.i64(7), n);
  if (!a.ok) return nullptr;
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    const float g = gs == 1.0f ? Gg[i] : Gg[i] * gs;
    const float m = Mm[i] * b1 + g * c1;
    const float v = Vv[i] * b2 + (g * g) * c2;
    Mo[i] = m;
    Vo[i] = v;
    float upd = (m / bc1) / (__builtin_sqrtf(v / bc2) + eps);
    upd = wd > 0.0f ? upd + Pp[i] * wd : upd;
    Po[i] = Pp[i] - upd * lr;
  }
  return nullptr;
}

// sumSquares(heap, xOff, n): Σ x² in double (the global gradient norm, one call per gradient tensor).
napi_value SumSquares(napi_env env, napi_callback_info info) {
  Args a(env, info, 3);
  size_t len;
  uint8_t* heap = a.heap(0, &len);
  const int64_t n = a.i64(2);
  float* X = at(a, heap, len, a.i64(1), n);
  if (!a.ok) return nullptr;
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += static_cast<double>(X[i]) * X[i];
  napi_value out;
  if (napi_create_double(env, s, &out) != napi_ok) return nullptr;
  return out;
}

// ------------------------------------------------------------------------------------------------------------------
napi_value Info(napi_env env, napi_callback_info info) {
  napi_value obj, v;
  CHECK_NAPI(napi_create_object(env, &obj));
  CHECK_NAPI(napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(napi_set_named_property(env, obj, "blas", v));
  CHECK_NAPI(napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &v));
  CHECK_NAPI(napi_set_named_property(env, obj, "core", v));
  CHECK_NAPI(napi_create_int32(env, openblas_get_num_threads(), &v));
  CHECK_NAPI(napi_set_named_property(env, obj, "threads", v));
  return obj;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a(env, info, 1);
  const int64_t n = a.i64(0);
  if (!a.ok) return nullptr;
  openblas_set_num_threads(static_cast<int>(n < 1 ? 1 : n));
  return nullptr;
}

}  // namespace

// Context-aware: every worker thread (data-parallel rank) loads its own instance of the module.
NAPI_MODULE_INIT() {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    napi_throw_error(env, nullptr, "r2ec_native: this CPU lacks AVX2/FMA, which the module was compiled for");
    return nullptr;
  }
  // One BLAS thread per rank (the ranks are the parallelism); OPENBLAS_NUM_THREADS=1 set before loading avoids
  // even starting OpenBLAS's pool, this call covers the case where it was not.
  openblas_set_num_threads(1);
  napi_property_descriptor props[] = {
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, Binary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, Unary, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reduce", nullptr, Reduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmax", nullptr, Softmax, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxGrad", nullptr, SoftmaxGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"transpose0213", nullptr, Transpose0213, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rmsNorm", nullptr, RmsNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rmsNormGrad", nullptr, RmsNormGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"swiglu", nullptr, Swiglu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"swigluGrad", nullptr, SwigluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rope", nullptr, Rope, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"attention", nullptr, Attention, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"attentionGrad", nullptr, AttentionGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamw", nullptr, AdamW, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumSquares", nullptr, SumSquares, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return nullptr;
  return exports;
}
