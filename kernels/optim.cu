// Fused optimizer updates: one launch updates every parameter of a param group (of one dtype).
//
// Layout (deepcore/optim/_flat.py): the group's parameters lie back to back in one flat buffer `p` of `n`
// elements; the gradients `g` and every state buffer (exp_avg, ...) use the same layout. Parameter j owns
// [seg_end[j-1], seg_end[j]) (seg_end[-1] = 0; empty parameters are allowed), nseg parameters in all.
// active[j] != 0 when parameter j has a gradient this step (the others are left untouched, as torch skips
// parameters whose .grad is None). steps[j] is parameter j's step count before this step: the update
// uses t = steps[j] + 1 for the bias corrections, and the last block to finish adds `count` to steps[j]
// of every active parameter (counted with `done`, a zeroed counter that block resets), so the count
// lives on the device and a replayed CUDA graph advances it exactly as an eager step does. `lr` is a
// device scalar the optimizer rewrites when the group's learning rate changes; the other
// hyper-parameters are passed by value. Arithmetic on the elements is in T; per-parameter scalars
// (bias corrections) in double, once per parameter a thread enters.
//
// Launch: 1-D grid-stride loop, any grid and block size (see _flat.launch): `done` needs every block of
// the grid to finish, which the grid-stride loop guarantees (no block waits for another).

__device__ __forceinline__ int segment_of(const long long* __restrict__ seg_end, int lo, int nseg, long long i) {
    int hi = nseg - 1;  // i < n = seg_end[nseg - 1]: the answer exists
    while (lo < hi) {
        const int mid = (lo + hi) >> 1;
        if (seg_end[mid] > i) hi = mid; else lo = mid + 1;
    }
    return lo;
}

// Runs op.setup(t) whenever a thread enters an active parameter and op.apply(i) for each of its elements,
// then advances the step counts once the whole grid is done.
template <typename Op>
__device__ void flat_update(Op& op, const long long* __restrict__ seg_end, const int* __restrict__ active,
                            long long* steps, unsigned int* done, int count, int nseg, long long n) {
    const long long stride = (long long)blockDim.x * gridDim.x;
    int j = 0;
    long long end = 0;
    bool on = false;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        if (i >= end) {
            j = segment_of(seg_end, j, nseg, i);
            end = seg_end[j];
            on = active[j] != 0;
            if (on) op.setup(steps[j] + 1);
        }
        if (on) op.apply(i);
    }
    __shared__ unsigned int last_block;
    __syncthreads();  // every thread of this block has read the step counts it needs
    if (threadIdx.x == 0) {
        __threadfence();
        last_block = atomicAdd(done, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (last_block) {  // every block has finished reading steps[]: advance them
        for (int k = threadIdx.x; k < nseg; k += blockDim.x)
            if (active[k]) steps[k] += count;
        if (threadIdx.x == 0) *done = 0u;
    }
}

template <typename T>
__device__ __forceinline__ T max_nan(T a, T b) { return (a != a || a > b) ? a : b; }  // NaN propagates

// --- Adam / AdamW (torch.optim.Adam rule; amsgrad when vmax is not null) -------------------------------
template <typename T>
struct AdamOp {
    T* p; const T* g; T* m; T* v; T* vmax;
    double lr, beta1, beta2;
    T b1, omb1, b2, omb2, eps, l2, decay, step_size, inv_sqrt_bc2;

    __device__ void setup(long long t) {
        step_size = T(lr / (1.0 - pow(beta1, (double)t)));
        inv_sqrt_bc2 = T(1.0 / sqrt(1.0 - pow(beta2, (double)t)));
    }
    __device__ void apply(long long i) {
        const T pi = p[i];
        const T gi = g[i] + l2 * pi;
        const T mi = b1 * m[i] + omb1 * gi;
        T vi = b2 * v[i] + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if (vmax != nullptr) {
            vi = max_nan(vmax[i], vi);
            vmax[i] = vi;
        }
        p[i] = pi * decay - step_size * mi / (sqrt(vi) * inv_sqrt_bc2 + eps);
    }
};

template <typename T>
__device__ void adam(T* p, const T* g, T* m, T* v, T* vmax, const double* lr, double beta1, double beta2,
                     double eps, double weight_decay, int decoupled, const long long* seg_end,
                     const int* active, long long* steps, unsigned int* done, int nseg, long long n) {
    AdamOp<T> op;
    op.p = p; op.g = g; op.m = m; op.v = v; op.vmax = vmax;
    op.lr = *lr; op.beta1 = beta1; op.beta2 = beta2;
    op.b1 = T(beta1); op.omb1 = T(1.0 - beta1); op.b2 = T(beta2); op.omb2 = T(1.0 - beta2); op.eps = T(eps);
    op.l2 = decoupled ? T(0) : T(weight_decay);                 // Adam: L2 term added to the gradient
    op.decay = decoupled ? T(1.0 - op.lr * weight_decay) : T(1);  // AdamW: p *= 1 - lr * wd first
    flat_update(op, seg_end, active, steps, done, 1, nseg, n);
}

// --- SGD (momentum, dampening, Nesterov, L2); buf is null without momentum -----------------------------
template <typename T>
struct SgdOp {
    T* p; const T* g; T* buf;
    T lr, wd, momentum, omd;
    int nesterov;
    bool first;

    __device__ void setup(long long t) { first = t == 1; }  // t counts steps taken with momentum
    __device__ void apply(long long i) {
        T d = g[i] + wd * p[i];
        if (buf != nullptr) {
            const T b = first ? d : momentum * buf[i] + omd * d;  // the first step copies d
            buf[i] = b;
            d = nesterov ? d + momentum * b : b;
        }
        p[i] -= lr * d;
    }
};

template <typename T>
__device__ void sgd(T* p, const T* g, T* buf, const double* lr, double momentum, double dampening,
                    double weight_decay, int nesterov, const long long* seg_end, const int* active,
                    long long* steps, unsigned int* done, int nseg, long long n) {
    SgdOp<T> op;
    op.p = p; op.g = g; op.buf = buf;
    op.lr = T(*lr); op.wd = T(weight_decay); op.momentum = T(momentum); op.omd = T(1.0 - dampening);
    op.nesterov = nesterov;
    op.first = false;
    flat_update(op, seg_end, active, steps, done, buf != nullptr ? 1 : 0, nseg, n);
}

// --- RMSprop (centered when grad_avg is not null, momentum when buf is not null) -----------------------
template <typename T>
struct RmspropOp {
    T* p; const T* g; T* sq; T* grad_avg; T* buf;
    T lr, alpha, oma, eps, wd, momentum;

    __device__ void setup(long long) {}
    __device__ void apply(long long i) {
        const T gi = g[i] + wd * p[i];
        const T s = alpha * sq[i] + oma * gi * gi;
        sq[i] = s;
        T avg;
        if (grad_avg != nullptr) {
            const T a = alpha * grad_avg[i] + oma * gi;
            grad_avg[i] = a;
            avg = sqrt(s - a * a) + eps;
        } else {
            avg = sqrt(s) + eps;
        }
        if (buf != nullptr) {
            const T b = momentum * buf[i] + gi / avg;
            buf[i] = b;
            p[i] -= lr * b;
        } else {
            p[i] -= lr * gi / avg;
        }
    }
};

template <typename T>
__device__ void rmsprop(T* p, const T* g, T* sq, T* grad_avg, T* buf, const double* lr, double alpha,
                        double eps, double weight_decay, double momentum, const long long* seg_end,
                        const int* active, long long* steps, unsigned int* done, int nseg, long long n) {
    RmspropOp<T> op;
    op.p = p; op.g = g; op.sq = sq; op.grad_avg = grad_avg; op.buf = buf;
    op.lr = T(*lr); op.alpha = T(alpha); op.oma = T(1.0 - alpha); op.eps = T(eps); op.wd = T(weight_decay);
    op.momentum = T(momentum);
    flat_update(op, seg_end, active, steps, done, 1, nseg, n);
}

// --- Adagrad (lr decays with the step count) ------------------------------------------------------------
template <typename T>
struct AdagradOp {
    T* p; const T* g; T* sum;
    double lr, lr_decay;
    T eps, wd, clr;

    __device__ void setup(long long t) { clr = T(lr / (1.0 + (double)(t - 1) * lr_decay)); }
    __device__ void apply(long long i) {
        const T gi = g[i] + wd * p[i];
        const T s = sum[i] + gi * gi;
        sum[i] = s;
        p[i] -= clr * gi / (sqrt(s) + eps);
    }
};

template <typename T>
__device__ void adagrad(T* p, const T* g, T* sum, const double* lr, double lr_decay, double eps,
                        double weight_decay, const long long* seg_end, const int* active, long long* steps,
                        unsigned int* done, int nseg, long long n) {
    AdagradOp<T> op;
    op.p = p; op.g = g; op.sum = sum;
    op.lr = *lr; op.lr_decay = lr_decay; op.eps = T(eps); op.wd = T(weight_decay); op.clr = T(0);
    flat_update(op, seg_end, active, steps, done, 1, nseg, n);
}

// --- Adadelta -------------------------------------------------------------------------------------------
template <typename T>
struct AdadeltaOp {
    T* p; const T* g; T* sq; T* acc;
    T lr, rho, omr, eps, wd;

    __device__ void setup(long long) {}
    __device__ void apply(long long i) {
        const T gi = g[i] + wd * p[i];
        const T s = rho * sq[i] + omr * gi * gi;
        sq[i] = s;
        const T a = acc[i];
        const T delta = sqrt(a + eps) / sqrt(s + eps) * gi;
        acc[i] = rho * a + omr * delta * delta;
        p[i] -= lr * delta;
    }
};

template <typename T>
__device__ void adadelta(T* p, const T* g, T* sq, T* acc, const double* lr, double rho, double eps,
                         double weight_decay, const long long* seg_end, const int* active, long long* steps,
                         unsigned int* done, int nseg, long long n) {
    AdadeltaOp<T> op;
    op.p = p; op.g = g; op.sq = sq; op.acc = acc;
    op.lr = T(*lr); op.rho = T(rho); op.omr = T(1.0 - rho); op.eps = T(eps); op.wd = T(weight_decay);
    flat_update(op, seg_end, active, steps, done, 1, nseg, n);
}

#define FLAT_TAIL const long long* seg_end, const int* active, long long* steps, unsigned int* done, int nseg, \
                  long long n
#define FLAT_ARGS seg_end, active, steps, done, nseg, n

#define DEFINE_KERNELS(T, SUFFIX)                                                                             \
extern "C" __global__ void adam_##SUFFIX(T* p, const T* g, T* m, T* v, T* vmax, const double* lr,            \
                                         double beta1, double beta2, double eps, double weight_decay,        \
                                         int decoupled, FLAT_TAIL) {                                         \
    adam<T>(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, FLAT_ARGS);                     \
}                                                                                                            \
extern "C" __global__ void sgd_##SUFFIX(T* p, const T* g, T* buf, const double* lr, double momentum,         \
                                        double dampening, double weight_decay, int nesterov, FLAT_TAIL) {    \
    sgd<T>(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, FLAT_ARGS);                            \
}                                                                                                            \
extern "C" __global__ void rmsprop_##SUFFIX(T* p, const T* g, T* sq, T* grad_avg, T* buf, const double* lr,  \
                                            double alpha, double eps, double weight_decay, double momentum,  \
                                            FLAT_TAIL) {                                                     \
    rmsprop<T>(p, g, sq, grad_avg, buf, lr, alpha, eps, weight_decay, momentum, FLAT_ARGS);                   \
}                                                                                                            \
extern "C" __global__ void adagrad_##SUFFIX(T* p, const T* g, T* sum, const double* lr, double lr_decay,     \
                                            double eps, double weight_decay, FLAT_TAIL) {                    \
    adagrad<T>(p, g, sum, lr, lr_decay, eps, weight_decay, FLAT_ARGS);                                        \
}                                                                                                            \
extern "C" __global__ void adadelta_##SUFFIX(T* p, const T* g, T* sq, T* acc, const double* lr, double rho,  \
                                             double eps, double weight_decay, FLAT_TAIL) {                   \
    adadelta<T>(p, g, sq, acc, lr, rho, eps, weight_decay, FLAT_ARGS);                                        \
}

DEFINE_KERNELS(float, f32)
DEFINE_KERNELS(double, f64)
