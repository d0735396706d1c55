// Fused LSTM and GRU cell kernels: all gates of one hidden unit in one thread, forward and backward.
//
// Layouts (row-major, contiguous): gates (N, G*H) with PyTorch's gate order, LSTM (i, f, g, o),
// GRU (r, z, n); states (N, H). `act` holds x @ W_ih^T + b on entry to the forward kernels and the gate
// activations on exit (updated in place: each thread reads and writes only its own unit's gates).
// The GEMMs (h @ W_hh^T, dgates @ W_hh) stay in cuBLAS for large H; for small H the LSTM kernels also do
// the recurrent product of their own unit (hw or dh null: computed here), which makes a step one launch:
// unit (n, j) reads row n of h_prev (or of the next step's dg) and column j of W_hh^T (or W_hh), so
// consecutive threads read consecutive weights.
// Launch: 1-D grid-stride loop over the N * H units (see _Cuda in deepcore/ops/rnn.py).

__device__ __forceinline__ float tanh_(float v) { return tanhf(v); }
__device__ __forceinline__ double tanh_(double v) { return tanh(v); }

template <typename T>
__device__ __forceinline__ T sigmoid_(T v) { return T(0.5) * tanh_(T(0.5) * v) + T(0.5); }

#define UNITS_LOOP(N, H)                                                                    \
    for (long long u = (long long)blockIdx.x * blockDim.x + threadIdx.x; u < (long long)(N) * (H); \
         u += (long long)blockDim.x * gridDim.x)

// hw (N, 4H) = h_prev @ W_hh^T, or null: then computed here from h_prev (N, H) and w_t = W_hh^T (H, 4H).
// act (N, 4H) in: input projection, out: i, f, g, o; c_prev, c, h (N, H).
template <typename T>
__device__ void lstm_fwd_impl(const T* __restrict__ hw, const T* __restrict__ h_prev, const T* __restrict__ w_t,
                              T* __restrict__ act, const T* __restrict__ c_prev, T* __restrict__ c,
                              T* __restrict__ h, int N, int H) {
    UNITS_LOOP(N, H) {
        const long long n = u / H, j = u % H;
        const long long g0 = n * 4 * H + j;
        T r0, r1, r2, r3;
        if (hw != nullptr) {
            r0 = hw[g0]; r1 = hw[g0 + H]; r2 = hw[g0 + 2 * H]; r3 = hw[g0 + 3 * H];
        } else {
            r0 = r1 = r2 = r3 = T(0);
            const T* hn = h_prev + n * H;
            for (int m = 0; m < H; ++m) {
                const T hv = hn[m];
                const T* wr = w_t + (long long)m * 4 * H + j;
                r0 += hv * wr[0]; r1 += hv * wr[H]; r2 += hv * wr[2 * H]; r3 += hv * wr[3 * H];
            }
        }
        const T i = sigmoid_(act[g0] + r0);
        const T f = sigmoid_(act[g0 + H] + r1);
        const T g = tanh_(act[g0 + 2 * H] + r2);
        const T o = sigmoid_(act[g0 + 3 * H] + r3);
        act[g0] = i;
        act[g0 + H] = f;
        act[g0 + 2 * H] = g;
        act[g0 + 3 * H] = o;
        const T cc = f * c_prev[u] + i * g;
        c[u] = cc;
        h[u] = o * tanh_(cc);
    }
}

// dh: gradient from the next step (N, H), or null: then dh = dg_next @ W_hh is computed here from the next
// step's gate gradient dg_next (N, 4H) and w (4H, H). gy: from this step's output, dc: cell gradient from
// the next step. Writes dg (N, 4H) (gradient of the gate pre-activations) and dc_out (N, H).
template <typename T>
__device__ void lstm_bwd_impl(const T* __restrict__ act, const T* __restrict__ c_prev, const T* __restrict__ c,
                              const T* __restrict__ dh, const T* __restrict__ dg_next, const T* __restrict__ w,
                              const T* __restrict__ gy, const T* __restrict__ dc, T* __restrict__ dg,
                              T* __restrict__ dc_out, int N, int H) {
    UNITS_LOOP(N, H) {
        const long long n = u / H, j = u % H;
        const long long g0 = n * 4 * H + j;
        const T i = act[g0], f = act[g0 + H], g = act[g0 + 2 * H], o = act[g0 + 3 * H];
        const T tc = tanh_(c[u]);
        T dhv;
        if (dh != nullptr) {
            dhv = dh[u];
        } else {
            dhv = T(0);
            const T* dn = dg_next + n * 4 * H;
            for (int k = 0; k < 4 * H; ++k) dhv += dn[k] * w[(long long)k * H + j];
        }
        const T d = dhv + gy[u];
        const T dct = dc[u] + d * o * (T(1) - tc * tc);
        dg[g0] = dct * g * i * (T(1) - i);
        dg[g0 + H] = dct * c_prev[u] * f * (T(1) - f);
        dg[g0 + 2 * H] = dct * i * (T(1) - g * g);
        dg[g0 + 3 * H] = d * tc * o * (T(1) - o);
        dc_out[u] = dct * f;
    }
}

// hw (N, 3H) = h @ W_hh^T + b_hh; act (N, 3H) in: input projection, out: r, z, n;
// hn (N, H) saves W_hn h + b_hn for backward; h' = (1 - z) * n + z * h_prev.
template <typename T>
__device__ void gru_fwd_impl(const T* __restrict__ hw, T* __restrict__ act, const T* __restrict__ h_prev,
                             T* __restrict__ hn, T* __restrict__ h, int N, int H) {
    UNITS_LOOP(N, H) {
        const long long n = u / H, j = u % H;
        const long long g0 = n * 3 * H + j;
        const T r = sigmoid_(act[g0] + hw[g0]);
        const T z = sigmoid_(act[g0 + H] + hw[g0 + H]);
        const T hnv = hw[g0 + 2 * H];
        const T nv = tanh_(act[g0 + 2 * H] + r * hnv);
        act[g0] = r;
        act[g0 + H] = z;
        act[g0 + 2 * H] = nv;
        hn[u] = hnv;
        h[u] = (h_prev[u] - nv) * z + nv;
    }
}

// Writes dgx (N, 3H) (seen by W_ih, b_ih), dgh (N, 3H) (seen by W_hh, b_hh: its n part is scaled by r)
// and dh_direct = dh * z, the part of dh_prev that bypasses W_hh.
template <typename T>
__device__ void gru_bwd_impl(const T* __restrict__ act, const T* __restrict__ hn, const T* __restrict__ h_prev,
                             const T* __restrict__ dh, const T* __restrict__ gy, T* __restrict__ dgx,
                             T* __restrict__ dgh, T* __restrict__ dh_direct, int N, int H) {
    UNITS_LOOP(N, H) {
        const long long n = u / H, j = u % H;
        const long long g0 = n * 3 * H + j;
        const T r = act[g0], z = act[g0 + H], nv = act[g0 + 2 * H];
        const T d = dh[u] + gy[u];
        const T dn = d * (T(1) - z) * (T(1) - nv * nv);
        const T dr = dn * hn[u] * r * (T(1) - r);
        const T dz = d * (h_prev[u] - nv) * z * (T(1) - z);
        dgx[g0] = dr;
        dgx[g0 + H] = dz;
        dgx[g0 + 2 * H] = dn;
        dgh[g0] = dr;
        dgh[g0 + H] = dz;
        dgh[g0 + 2 * H] = dn * r;
        dh_direct[u] = d * z;
    }
}

#define DEFINE_KERNELS(T, SUFFIX)                                                                       \
extern "C" __global__ void lstm_fwd_##SUFFIX(const T* hw, const T* h_prev, const T* w_t, T* act,       \
                                             const T* c_prev, T* c, T* h, int N, int H) {                \
    lstm_fwd_impl<T>(hw, h_prev, w_t, act, c_prev, c, h, N, H);                                         \
}                                                                                                       \
extern "C" __global__ void lstm_bwd_##SUFFIX(const T* act, const T* c_prev, const T* c, const T* dh,   \
                                             const T* dg_next, const T* w, const T* gy, const T* dc,    \
                                             T* dg, T* dc_out, int N, int H) {                          \
    lstm_bwd_impl<T>(act, c_prev, c, dh, dg_next, w, gy, dc, dg, dc_out, N, H);                         \
}                                                                                                       \
extern "C" __global__ void gru_fwd_##SUFFIX(const T* hw, T* act, const T* h_prev, T* hn, T* h,          \
                                            int N, int H) {                                              \
    gru_fwd_impl<T>(hw, act, h_prev, hn, h, N, H);                                                      \
}                                                                                                       \
extern "C" __global__ void gru_bwd_##SUFFIX(const T* act, const T* hn, const T* h_prev, const T* dh,    \
                                            const T* gy, T* dgx, T* dgh, T* dh_direct, int N, int H) {  \
    gru_bwd_impl<T>(act, hn, h_prev, dh, gy, dgx, dgh, dh_direct, N, H);                                \
}

DEFINE_KERNELS(float, f32)
DEFINE_KERNELS(double, f64)
