// 2-D max and average pooling (NCHW), float and double.
//
// Max-pool forward writes, for every output, the offset i * KW + j of its argmax inside its window (the
// generic path's convention, deepcore/ops/pool.py; padding cells are never chosen; the first maximum wins;
// NaN propagates like in PyTorch). Both backwards are gathers
// over input elements (each sums the windows that contain it), so they need no atomics and are
// deterministic. Average pooling divides by KH * KW (count_include_pad=True).
// Launch: 1-D grid-stride loops over the elements written (see deepcore/ops/pool.py).

#define GRID_STRIDE_LOOP(idx, total)                                                        \
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < (total); \
         idx += (long long)blockDim.x * gridDim.x)

// Range [lo, hi) of output rows (or columns) whose window covers input row h.
__device__ __forceinline__ void window_range(int h, int K, int s, int p, int O, int& lo, int& hi) {
    lo = (h + p < K) ? 0 : (h + p - K) / s + 1;
    hi = (h + p) / s + 1;
    if (hi > O) hi = O;
}

template <typename T>
__device__ void maxpool_fwd_impl(const T* __restrict__ x, T* __restrict__ y, int* __restrict__ arg,
                                 int H, int W, int KH, int KW, int OH, int OW,
                                 int sh, int sw, int ph, int pw, long long total) {
    GRID_STRIDE_LOOP(idx, total) {
        const int ow = (int)(idx % OW);
        const int oh = (int)((idx / OW) % OH);
        const long long nc = idx / ((long long)OW * OH);
        const T* plane = x + nc * H * W;
        const int h0 = oh * sh - ph;
        const int w0 = ow * sw - pw;
        T best = T(0);
        int best_idx = -1;
        for (int i = 0; i < KH; ++i) {
            const int h = h0 + i;
            if (h < 0 || h >= H) continue;
            for (int j = 0; j < KW; ++j) {
                const int w = w0 + j;
                if (w < 0 || w >= W) continue;
                const T v = plane[h * W + w];
                if (best_idx < 0 || v > best || v != v) {
                    best = v;
                    best_idx = i * KW + j;
                }
            }
        }
        y[idx] = best;
        arg[idx] = best_idx;
    }
}

template <typename T>
__device__ void maxpool_bwd_impl(const T* __restrict__ gy, const int* __restrict__ arg, T* __restrict__ gx,
                                 int H, int W, int KH, int KW, int OH, int OW,
                                 int sh, int sw, int ph, int pw, long long total) {
    GRID_STRIDE_LOOP(idx, total) {
        const int w = (int)(idx % W);
        const int h = (int)((idx / W) % H);
        const long long nc = idx / ((long long)W * H);
        const long long base = nc * OH * OW;
        int oh_lo, oh_hi, ow_lo, ow_hi;
        window_range(h, KH, sh, ph, OH, oh_lo, oh_hi);
        window_range(w, KW, sw, pw, OW, ow_lo, ow_hi);
        T acc = T(0);
        for (int oh = oh_lo; oh < oh_hi; ++oh) {
            const int i = h - (oh * sh - ph);             // the window row that holds h
            for (int ow = ow_lo; ow < ow_hi; ++ow) {
                const long long o = base + (long long)oh * OW + ow;
                if (arg[o] == i * KW + (w - (ow * sw - pw))) acc += gy[o];
            }
        }
        gx[idx] = acc;
    }
}

template <typename T>
__device__ void avgpool_fwd_impl(const T* __restrict__ x, T* __restrict__ y,
                                 int H, int W, int KH, int KW, int OH, int OW,
                                 int sh, int sw, int ph, int pw, long long total) {
    GRID_STRIDE_LOOP(idx, total) {
        const int ow = (int)(idx % OW);
        const int oh = (int)((idx / OW) % OH);
        const long long nc = idx / ((long long)OW * OH);
        const T* plane = x + nc * H * W;
        const int h0 = oh * sh - ph;
        const int w0 = ow * sw - pw;
        T acc = T(0);
        for (int i = 0; i < KH; ++i) {
            const int h = h0 + i;
            if (h < 0 || h >= H) continue;
            for (int j = 0; j < KW; ++j) {
                const int w = w0 + j;
                if (w >= 0 && w < W) acc += plane[h * W + w];
            }
        }
        y[idx] = acc / T(KH * KW);
    }
}

template <typename T>
__device__ void avgpool_bwd_impl(const T* __restrict__ gy, T* __restrict__ gx,
                                 int H, int W, int KH, int KW, int OH, int OW,
                                 int sh, int sw, int ph, int pw, long long total) {
    GRID_STRIDE_LOOP(idx, total) {
        const int w = (int)(idx % W);
        const int h = (int)((idx / W) % H);
        const long long nc = idx / ((long long)W * H);
        const T* g = gy + nc * OH * OW;
        int oh_lo, oh_hi, ow_lo, ow_hi;
        window_range(h, KH, sh, ph, OH, oh_lo, oh_hi);
        window_range(w, KW, sw, pw, OW, ow_lo, ow_hi);
        T acc = T(0);
        for (int oh = oh_lo; oh < oh_hi; ++oh) {
            for (int ow = ow_lo; ow < ow_hi; ++ow) acc += g[oh * OW + ow];
        }
        gx[idx] = acc / T(KH * KW);
    }
}

#define POOL_ARGS int H, int W, int KH, int KW, int OH, int OW, int sh, int sw, int ph, int pw, long long total
#define POOL_PASS H, W, KH, KW, OH, OW, sh, sw, ph, pw, total

extern "C" __global__ void maxpool_fwd_f32(const float* x, float* y, int* arg, POOL_ARGS) {
    maxpool_fwd_impl<float>(x, y, arg, POOL_PASS);
}
extern "C" __global__ void maxpool_fwd_f64(const double* x, double* y, int* arg, POOL_ARGS) {
    maxpool_fwd_impl<double>(x, y, arg, POOL_PASS);
}
extern "C" __global__ void maxpool_bwd_f32(const float* gy, const int* arg, float* gx, POOL_ARGS) {
    maxpool_bwd_impl<float>(gy, arg, gx, POOL_PASS);
}
extern "C" __global__ void maxpool_bwd_f64(const double* gy, const int* arg, double* gx, POOL_ARGS) {
    maxpool_bwd_impl<double>(gy, arg, gx, POOL_PASS);
}
extern "C" __global__ void avgpool_fwd_f32(const float* x, float* y, POOL_ARGS) {
    avgpool_fwd_impl<float>(x, y, POOL_PASS);
}
extern "C" __global__ void avgpool_fwd_f64(const double* x, double* y, POOL_ARGS) {
    avgpool_fwd_impl<double>(x, y, POOL_PASS);
}
extern "C" __global__ void avgpool_bwd_f32(const float* gy, float* gx, POOL_ARGS) {
    avgpool_bwd_impl<float>(gy, gx, POOL_PASS);
}
extern "C" __global__ void avgpool_bwd_f64(const double* gy, double* gx, POOL_ARGS) {
    avgpool_bwd_impl<double>(gy, gx, POOL_PASS);
}
