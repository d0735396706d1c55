// Softmax cross-entropy with class-index targets, fused: forward in one kernel, backward in one kernel.
//
// Logits x (N, C) row-major, targets y (N,) (int32 or int64), optional class weights w (C,). With
// lse_i = log sum_c exp(x_ic), keep_i = (y_i != ignore_index) and wy_i = keep_i * w[y_i] (w = 1 without
// weights), label smoothing eps and W = sum_c w_c, the loss of row i is (as in PyTorch)
//     loss_i = (1 - eps) * wy_i * (lse_i - x_iy) + keep_i * eps / C * (W * lse_i - sum_c w_c x_ic)
// reduced by "none" (loss_rows), "sum" or "mean" (divided by sum_i wy_i).
//
// Forward: a block of 256 threads is 8 groups of 32 lanes; a group owns one row at a time (grid-stride
// over rows) and reduces it in shared memory: pass 1 the max, pass 2 sum exp(x - max), sum w_c x_c and
// W. It writes lse_i for the backward, and also performs the target range check: a target outside [0, C)
// that is not ignore_index sets *flag = 1 (deepcore/backend/index_checks.py reads it at the next host
// sync) and counts as ignored, so no bad address is read. For "sum"/"mean" each block writes its partial
// sums (loss, weight) to `partials`; the last block to finish (a ticket counter, reset to 0 afterwards)
// adds them in block order, so the reduction is one launch and deterministic.
// out[0] = the reduced loss, out[1] = sum_i wy_i (the "mean" divisor), out[2] = W.
//
// Backward: gx_ic = g_i * (softmax_ic * S_i - coef_ic), coef_ic = (1 - eps) wy_i [c == y_i] +
// keep_i eps / C w_c, S_i = sum_c coef_ic = (1 - eps) wy_i + keep_i eps / C W; g_i = gy[i] ("none"),
// gy[0] ("sum") or gy[0] / out[1] ("mean"). One thread per element, no reduction.
// Launch: forward blocks of 256 threads (see deepcore/ops/loss.py); backward 1-D grid-stride.

#define CE_LANES 32
#define CE_ROWS 8
#define RED_NONE 0
#define RED_SUM 1
#define RED_MEAN 2

__device__ __forceinline__ float exp_(float v) { return expf(v); }
__device__ __forceinline__ double exp_(double v) { return exp(v); }
__device__ __forceinline__ float log_(float v) { return logf(v); }
__device__ __forceinline__ double log_(double v) { return log(v); }

template <typename T> __device__ __forceinline__ T neg_inf();
template <> __device__ __forceinline__ float neg_inf<float>() { return __int_as_float((int)0xff800000u); }
template <> __device__ __forceinline__ double neg_inf<double>() {
    return __longlong_as_double((long long)0xfff0000000000000ULL);
}

// Sum (or max) over the 32 lanes of each row group, in shared memory; every thread of the block calls it.
template <typename T>
__device__ T group_reduce(T* sh, T v, bool is_max) {
    const int tid = threadIdx.x, lane = tid % CE_LANES;
    sh[tid] = v;
    __syncthreads();
    for (int half = CE_LANES / 2; half > 0; half /= 2) {
        if (lane < half) {
            const T a = sh[tid], b = sh[tid + half];
            sh[tid] = is_max ? ((a > b || a != a) ? a : b) : a + b;
        }
        __syncthreads();
    }
    const T r = sh[tid - lane];
    __syncthreads();
    return r;
}

template <typename T, typename I>
__device__ void ce_fwd_impl(const T* __restrict__ x, const I* __restrict__ y, const T* __restrict__ w,
                            T* __restrict__ lse, T* __restrict__ loss_rows, T* partials,
                            unsigned int* ticket, T* out, int* flag, long long N, int C,
                            long long ignore_index, T eps, int reduction, T* sh, T* sh2, T* sh3) {
    const int tid = threadIdx.x, lane = tid % CE_LANES, group = tid / CE_LANES;
    T block_loss = T(0), block_weight = T(0);    // kept by lane 0 of each group
    for (long long row0 = (long long)blockIdx.x * CE_ROWS; row0 < N; row0 += (long long)gridDim.x * CE_ROWS) {
        const long long i = row0 + group;
        const bool valid = i < N;
        const T* xi = x + (valid ? i : 0) * C;
        T m = neg_inf<T>();
        if (valid) {
            for (int c = lane; c < C; c += CE_LANES) {
                const T v = xi[c];
                m = (v > m || v != v) ? v : m;
            }
        }
        m = group_reduce(sh, m, true);
        T se = T(0), wx = T(0), ws = T(0);
        if (valid) {
            for (int c = lane; c < C; c += CE_LANES) {
                const T v = xi[c];
                const T wc = w != nullptr ? w[c] : T(1);
                se += exp_(v - m);
                wx += wc * v;
                ws += wc;
            }
        }
        se = group_reduce(sh, se, false);
        wx = group_reduce(sh2, wx, false);
        ws = group_reduce(sh3, ws, false);
        if (valid && lane == 0) {
            const T l = m + log_(se);
            lse[i] = l;
            const long long t = (long long)y[i];
            bool keep = t != ignore_index;
            if (keep && (t < 0 || t >= C)) {
                *flag = 1;            // out of range: reported at the next host sync, counted as ignored here
                keep = false;
            }
            T loss = T(0), wy = T(0);
            if (keep) {
                wy = w != nullptr ? w[t] : T(1);
                loss = (T(1) - eps) * wy * (l - xi[t]) + eps / T(C) * (ws * l - wx);
            }
            if (loss_rows != nullptr) loss_rows[i] = loss;
            block_loss += loss;
            block_weight += wy;
        }
        if (blockIdx.x == 0 && tid == 0) out[2] = ws;   // W, the same for every row
    }
    if (reduction == RED_NONE) return;
    // Block partials: lane 0 of each group holds its rows' sums; thread 0 adds the 8 of them.
    sh[tid] = block_loss;
    sh2[tid] = block_weight;
    __syncthreads();
    if (tid == 0) {
        T bl = T(0), bw = T(0);
        for (int g = 0; g < CE_ROWS; ++g) {
            bl += sh[g * CE_LANES];
            bw += sh2[g * CE_LANES];
        }
        partials[2 * blockIdx.x] = bl;
        partials[2 * blockIdx.x + 1] = bw;
        __threadfence();                                  // partials visible before the ticket is taken
        const unsigned int done = atomicAdd(ticket, 1u);
        if (done == gridDim.x - 1) {                      // the last block: every partial is written
            __threadfence();
            T total = T(0), weight = T(0);
            volatile T* p = partials;
            for (unsigned int b = 0; b < gridDim.x; ++b) {
                total += p[2 * b];
                weight += p[2 * b + 1];
            }
            out[0] = reduction == RED_MEAN ? total / weight : total;
            out[1] = weight;
            *ticket = 0u;                                 // ready for the next launch
        }
    }
}

template <typename T, typename I>
__device__ void ce_bwd_impl(const T* __restrict__ x, const I* __restrict__ y, const T* __restrict__ w,
                            const T* __restrict__ lse, const T* __restrict__ gy, const T* __restrict__ out,
                            T* __restrict__ gx, long long N, int C, long long ignore_index, T eps, int reduction) {
    const long long total = N * C;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        const long long i = idx / C;
        const int c = (int)(idx % C);
        const long long t = (long long)y[i];
        const bool keep = t != ignore_index && t >= 0 && t < C;
        T g = T(0);
        if (keep) {
            const T wy = w != nullptr ? w[t] : T(1);
            const T wc = w != nullptr ? w[c] : T(1);
            const T scale = reduction == RED_NONE ? gy[i] : (reduction == RED_SUM ? gy[0] : gy[0] / out[1]);
            const T s = (T(1) - eps) * wy + eps / T(C) * out[2];
            const T coef = (c == t ? (T(1) - eps) * wy : T(0)) + eps / T(C) * wc;
            g = scale * (exp_(x[idx] - lse[i]) * s - coef);
        }
        gx[idx] = g;
    }
}

#define DEFINE_CE(T, TS, I, IS)                                                                             \
extern "C" __global__ void ce_fwd_##TS##_##IS(const T* x, const I* y, const T* w, T* lse, T* loss_rows,     \
                                              T* partials, unsigned int* ticket, T* out, int* flag,         \
                                              long long N, int C, long long ignore_index, T eps,            \
                                              int reduction) {                                              \
    __shared__ T sh[CE_LANES * CE_ROWS], sh2[CE_LANES * CE_ROWS], sh3[CE_LANES * CE_ROWS];                  \
    ce_fwd_impl<T, I>(x, y, w, lse, loss_rows, partials, ticket, out, flag, N, C, ignore_index, eps,        \
                      reduction, sh, sh2, sh3);                                                             \
}                                                                                                           \
extern "C" __global__ void ce_bwd_##TS##_##IS(const T* x, const I* y, const T* w, const T* lse, const T* gy, \
                                              const T* out, T* gx, long long N, int C,                      \
                                              long long ignore_index, T eps, int reduction) {               \
    ce_bwd_impl<T, I>(x, y, w, lse, gy, out, gx, N, C, ignore_index, eps, reduction);                       \
}

DEFINE_CE(float, f32, long long, i64)
DEFINE_CE(float, f32, int, i32)
DEFINE_CE(double, f64, long long, i64)
DEFINE_CE(double, f64, int, i32)
