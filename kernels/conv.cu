// im2col / col2im for conv2d (NCHW), float and double.
//
// The column buffer has layout (C, KH, KW, N, OH, OW), i.e. a (C*KH*KW, N*OH*OW) matrix whose rows
// belong to one group after another, so conv2d is one GEMM per group. Padding is implicit (zeros).
// col2im is written as a gather over input elements, so it needs no atomics and is deterministic.
// Launch: 1-D grid-stride loops over the output elements (see deepcore/ops/conv.py).

template <typename T>
__device__ void im2col_impl(const T* __restrict__ x, T* __restrict__ col,
                            int N, int C, int H, int W, int KH, int KW, int OH, int OW,
                            int sh, int sw, int ph, int pw, int dh, int dw, long long total) {
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        long long t = idx;
        const int ow = (int)(t % OW); t /= OW;
        const int oh = (int)(t % OH); t /= OH;
        const int n = (int)(t % N); t /= N;
        const int j = (int)(t % KW); t /= KW;
        const int i = (int)(t % KH);
        const int c = (int)(t / KH);
        const int h = oh * sh - ph + i * dh;
        const int w = ow * sw - pw + j * dw;
        T v = T(0);
        if (h >= 0 && h < H && w >= 0 && w < W) {
            v = x[(((long long)n * C + c) * H + h) * W + w];
        }
        col[idx] = v;
    }
}

template <typename T>
__device__ void col2im_impl(const T* __restrict__ col, T* __restrict__ gx,
                            int N, int C, int H, int W, int KH, int KW, int OH, int OW,
                            int sh, int sw, int ph, int pw, int dh, int dw, long long total) {
    const long long plane = (long long)OH * OW;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        long long t = idx;
        const int w = (int)(t % W); t /= W;
        const int h = (int)(t % H); t /= H;
        const int c = (int)(t % C);
        const int n = (int)(t / C);
        T acc = T(0);
        for (int i = 0; i < KH; ++i) {
            const int hh = h + ph - i * dh;  // = oh * sh for the window row that sees (h, i)
            if (hh < 0) break;
            if (hh % sh != 0) continue;
            const int oh = hh / sh;
            if (oh >= OH) continue;
            for (int j = 0; j < KW; ++j) {
                const int ww = w + pw - j * dw;
                if (ww < 0) break;
                if (ww % sw != 0) continue;
                const int ow = ww / sw;
                if (ow >= OW) continue;
                const long long row = ((long long)c * KH + i) * KW + j;
                acc += col[(row * N + n) * plane + (long long)oh * OW + ow];
            }
        }
        gx[idx] = acc;
    }
}

#define CONV_ARGS int N, int C, int H, int W, int KH, int KW, int OH, int OW, \
                  int sh, int sw, int ph, int pw, int dh, int dw, long long total
#define CONV_PASS N, C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, total

extern "C" __global__ void im2col_f32(const float* x, float* col, CONV_ARGS) {
    im2col_impl<float>(x, col, CONV_PASS);
}
extern "C" __global__ void im2col_f64(const double* x, double* col, CONV_ARGS) {
    im2col_impl<double>(x, col, CONV_PASS);
}
extern "C" __global__ void col2im_f32(const float* col, float* gx, CONV_ARGS) {
    col2im_impl<float>(col, gx, CONV_PASS);
}
extern "C" __global__ void col2im_f64(const double* col, double* gx, CONV_ARGS) {
    col2im_impl<double>(col, gx, CONV_PASS);
}
