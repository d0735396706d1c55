// Bias + activation, fused: forward in one kernel, backward (input gradient and bias gradient) in one kernel.
//
// Used by linear and conv2d when an activation follows them (deepcore/ops/activation.py bias_act):
// y[n, c, p] = act(z[n * zs_n + c * zs_c + p] + b[c]) for y of shape (N, C, P), written contiguously. The
// strides (zs_n, zs_c) let z be the GEMM output in its own layout: a Linear's (N, C) rows (P = 1), an NCHW
// plane (zs_n = C * P, zs_c = P) or conv2d's (C, N, P) columns (zs_n = P, zs_c = N * P), so the conv
// transpose to NCHW is part of the same pass. z may be y itself when the layouts agree (in place).
//
// act: 0 identity, 1 relu, 2 gelu (erf), 3 gelu (tanh approximation), 4 tanh, 5 sigmoid. Backward reads
// `s`: the output y for relu/tanh/sigmoid (identity: unused), the pre-activation u = z + b for the two
// gelus (the forward writes it to `u` when `u` is not null). The formulas are the ones of the generic
// NumPy/CuPy path (sigmoid through tanh, relu's gradient a product so NaN propagates).
//
// bias_act_bwd writes gz[n * gs_n + c * gs_c + p] = gy * act'(s) (gz may be null: only the bias gradient)
// and gb[c] = sum over n, p of it (gb may be null), in one launch without atomics: a block owns channels
// and reduces in shared memory. With P = 1 (rows) a block is 32 channels x 8 row-lanes, so consecutive
// threads read consecutive channels; with P > 1 a block owns one channel and its 256 threads walk the
// (n, p) pairs, consecutive threads reading consecutive p. Both are grid-stride loops over channel tiles.
// Launch: forward 1-D grid-stride over N * C * P; backward blocks of (32, 8) threads (see activation.py).

#define ACT_IDENTITY 0
#define ACT_RELU 1
#define ACT_GELU 2
#define ACT_GELU_TANH 3
#define ACT_TANH 4
#define ACT_SIGMOID 5

__device__ __forceinline__ float erf_(float v) { return erff(v); }
__device__ __forceinline__ double erf_(double v) { return erf(v); }
__device__ __forceinline__ float exp_(float v) { return expf(v); }
__device__ __forceinline__ double exp_(double v) { return exp(v); }
__device__ __forceinline__ float tanh_(float v) { return tanhf(v); }
__device__ __forceinline__ double tanh_(double v) { return tanh(v); }

// Constants of GELU: 1/sqrt(2), 1/sqrt(2 pi), sqrt(2/pi) and the cubic coefficient of the tanh form.
#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794
#define SQRT_2_OVER_PI 0.79788456080286535588
#define GELU_CUBIC 0.044715

template <typename T>
__device__ __forceinline__ T act_forward(T u, int act) {
    switch (act) {
        case ACT_RELU: return (u > T(0) || u != u) ? u : T(0);              // NaN stays NaN, like maximum
        case ACT_GELU: return T(0.5) * u * (T(1) + erf_(u * T(INV_SQRT2)));
        case ACT_GELU_TANH: {
            const T t = tanh_(T(SQRT_2_OVER_PI) * (u + T(GELU_CUBIC) * u * u * u));
            return T(0.5) * u * (T(1) + t);
        }
        case ACT_TANH: return tanh_(u);
        case ACT_SIGMOID: return tanh_(u * T(0.5)) * T(0.5) + T(0.5);
        default: return u;
    }
}

// d act / d u times gy, from s (the output, or u for the gelus).
template <typename T>
__device__ __forceinline__ T act_backward(T gy, T s, int act) {
    switch (act) {
        case ACT_RELU: return gy * (s > T(0) ? T(1) : T(0));
        case ACT_GELU: {
            const T cdf = T(0.5) * (T(1) + erf_(s * T(INV_SQRT2)));
            const T pdf = exp_(T(-0.5) * s * s) * T(INV_SQRT_2PI);
            return gy * (cdf + s * pdf);
        }
        case ACT_GELU_TANH: {
            const T inner = T(SQRT_2_OVER_PI) * (s + T(GELU_CUBIC) * s * s * s);
            const T t = tanh_(inner);
            const T dinner = T(SQRT_2_OVER_PI) * (T(1) + T(3 * GELU_CUBIC) * s * s);
            return gy * (T(0.5) * (T(1) + t) + T(0.5) * s * (T(1) - t * t) * dinner);
        }
        case ACT_TANH: return gy * (T(1) - s * s);
        case ACT_SIGMOID: return gy * s * (T(1) - s);
        default: return gy;
    }
}

template <typename T>
__device__ void bias_act_fwd_impl(const T* z, const T* __restrict__ b, T* y, T* __restrict__ u_out,
                                  long long N, int C, long long P, long long zs_n, long long zs_c, int act) {
    const long long total = N * C * P;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        const long long p = idx % P;
        const long long nc = idx / P;
        const int c = (int)(nc % C);
        const long long n = nc / C;
        T u = z[n * zs_n + c * zs_c + p];
        if (b != nullptr) u += b[c];
        if (u_out != nullptr) u_out[idx] = u;
        y[idx] = act_forward(u, act);
    }
}

#define BWD_TX 32
#define BWD_TY 8

template <typename T>
__device__ void bias_act_bwd_impl(const T* __restrict__ gy, const T* __restrict__ s, T* __restrict__ gz,
                                  T* __restrict__ gb, long long N, int C, long long P, long long gs_n,
                                  long long gs_c, int act, T* partial) {
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int tid = ty * BWD_TX + tx;
    const bool rows = (P == 1);
    const int tiles = rows ? (C + BWD_TX - 1) / BWD_TX : C;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        T acc = T(0);
        if (rows) {
            const int c = tile * BWD_TX + tx;
            if (c < C) {
                for (long long n = ty; n < N; n += BWD_TY) {
                    const long long i = n * C + c;
                    const T g = act_backward(gy[i], s[i], act);
                    if (gz != nullptr) gz[n * gs_n + c * gs_c] = g;
                    acc += g;
                }
            }
        } else {
            const int c = tile;
            for (long long k = tid; k < N * P; k += BWD_TX * BWD_TY) {
                const long long n = k / P, p = k % P;
                const long long i = (n * C + c) * P + p;
                const T g = act_backward(gy[i], s[i], act);
                if (gz != nullptr) gz[n * gs_n + c * gs_c + p] = g;
                acc += g;
            }
        }
        // Reduce: over the 8 row-lanes of each channel (rows) or over all 256 threads (one channel).
        partial[tid] = acc;
        __syncthreads();
        for (int half = (rows ? BWD_TY : BWD_TX * BWD_TY) / 2; half > 0; half /= 2) {
            const int lane = rows ? ty : tid;
            if (lane < half) partial[tid] += partial[tid + (rows ? half * BWD_TX : half)];
            __syncthreads();
        }
        if (gb != nullptr) {
            if (rows && ty == 0 && tile * BWD_TX + tx < C) gb[tile * BWD_TX + tx] = partial[tx];
            if (!rows && tid == 0) gb[tile] = partial[0];
        }
        __syncthreads();  // partial is reused by the next tile
    }
}

#define DEFINE_BIAS_ACT(T, SUFFIX)                                                                         \
extern "C" __global__ void bias_act_fwd_##SUFFIX(const T* z, const T* b, T* y, T* u, long long N, int C,   \
                                                 long long P, long long zs_n, long long zs_c, int act) {    \
    bias_act_fwd_impl<T>(z, b, y, u, N, C, P, zs_n, zs_c, act);                                            \
}                                                                                                          \
extern "C" __global__ void bias_act_bwd_##SUFFIX(const T* gy, const T* s, T* gz, T* gb, long long N, int C, \
                                                 long long P, long long gs_n, long long gs_c, int act) {    \
    __shared__ T partial[BWD_TX * BWD_TY];                                                                 \
    bias_act_bwd_impl<T>(gy, s, gz, gb, N, C, P, gs_n, gs_c, act, partial);                                \
}

DEFINE_BIAS_ACT(float, f32)
DEFINE_BIAS_ACT(double, f64)
