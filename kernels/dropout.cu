// Inverted dropout with a counter-based RNG: mask generation fused with the multiply, forward and backward
// one kernel each, and no host involvement (so a replayed CUDA graph draws fresh masks).
//
// Element i of a launch keeps its value when bits(seed, offset + i) >= threshold (threshold = p * 2^32),
// where bits is a 64-bit integer hash (splitmix64's finaliser) of the seed and the counter, upper 32 bits.
// y = x * (keep ? scale : 0) with scale = 1 / (1 - p), a product so NaN/inf propagate as in x * mask.
//
// state (uint64[3], one per device, deepcore/ops/dropout.py): seed, offset (numbers drawn so far) and a
// ticket counter. Every block reads seed and offset, then takes a ticket; the last block to finish moves
// the offset past this launch's n numbers and resets the ticket, so the next launch (or the next replay
// of a graph) draws new numbers. `used` (uint64[2]) receives the seed and offset of this launch: the
// backward regenerates the same mask from it instead of storing one.
// Launch: 1-D grid-stride loops, at most a few hundred blocks (see dropout.py).

__device__ __forceinline__ unsigned int dropout_bits(unsigned long long seed, unsigned long long counter) {
    unsigned long long z = seed + (counter + 1ull) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (unsigned int)(z >> 32);
}

template <typename T>
__device__ void dropout_fwd_impl(const T* __restrict__ x, T* __restrict__ y, unsigned long long* state,
                                 unsigned long long* __restrict__ used, long long n, unsigned int threshold,
                                 T scale) {
    const unsigned long long seed = state[0], offset = state[1];
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const bool keep = dropout_bits(seed, offset + (unsigned long long)i) >= threshold;
        y[i] = x[i] * (keep ? scale : T(0));
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        used[0] = seed;
        used[1] = offset;
    }
    __syncthreads();                                   // every thread of this block has read the state
    if (threadIdx.x == 0) {
        __threadfence();
        const unsigned long long done = atomicAdd(&state[2], 1ull);
        if (done == gridDim.x - 1) {                   // the last block: nobody reads the offset any more
            state[1] = offset + (unsigned long long)n;
            state[2] = 0ull;
        }
    }
}

template <typename T>
__device__ void dropout_bwd_impl(const T* __restrict__ gy, T* __restrict__ gx,
                                 const unsigned long long* __restrict__ used, long long n,
                                 unsigned int threshold, T scale) {
    const unsigned long long seed = used[0], offset = used[1];
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const bool keep = dropout_bits(seed, offset + (unsigned long long)i) >= threshold;
        gx[i] = gy[i] * (keep ? scale : T(0));
    }
}

#define DEFINE_DROPOUT(T, SUFFIX)                                                                          \
extern "C" __global__ void dropout_fwd_##SUFFIX(const T* x, T* y, unsigned long long* state,               \
                                                unsigned long long* used, long long n,                     \
                                                unsigned int threshold, T scale) {                         \
    dropout_fwd_impl<T>(x, y, state, used, n, threshold, scale);                                           \
}                                                                                                          \
extern "C" __global__ void dropout_bwd_##SUFFIX(const T* gy, T* gx, const unsigned long long* used,        \
                                                long long n, unsigned int threshold, T scale) {            \
    dropout_bwd_impl<T>(gy, gx, used, n, threshold, scale);                                                \
}

DEFINE_DROPOUT(float, f32)
DEFINE_DROPOUT(double, f64)
