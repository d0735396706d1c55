// cuda_on_cpu.h: compile CUDA C++ kernels (kernels/*.cu) as plain C++17 with g++ and run them on the CPU.
//
// Test infrastructure for deepcore's emulated CUDA device (tests/emulated_cuda), not shipped. _raw.py
// force-includes this header (g++ -include) in front of a RawModule's source and appends, per kernel, an
// exported launcher made with DC_CUDA_EXPORT below. A launch runs every block of the grid one after
// another and, inside a block, every thread one after another: threadIdx/blockIdx/blockDim/gridDim are
// thread_local globals that the launcher sets before calling the kernel body for one thread.
//
// Supported: the CUDA function/variable qualifiers, dim3/uint3 and the built-in index variables, the
// float and double math functions (float versions compute in float, as on the GPU), the fast-math
// intrinsics (__expf, __fdividef, ... computed exactly), integer min/max, atomicAdd & co (plain
// read-modify-write: no two threads ever run at the same time), __ldg, __threadfence, warpSize,
// printf/assert. __shared__ variables become static storage, which is correct because the blocks of a
// grid run one at a time. When a module calls __syncthreads() _raw.py compiles it with DC_CUDA_FIBERS:
// the threads of a block then run as cooperative fibers (ucontext) and __syncthreads() switches to the
// next fiber, so every thread reaches the barrier before any goes past it.
//
// Dynamic shared memory: _raw.py rewrites `extern __shared__ T name[];` into a pointer to a per-launch
// buffer of `shared_mem` bytes (dc_cuda::dynamic_shared()).
//
// Not supported (a compile error): warp intrinsics (__shfl*_sync, __ballot_sync, __syncwarp...),
// textures/surfaces, cooperative groups, device-side malloc, CUDA vector types other than dim3/uint3.
#pragma once

#ifndef DC_CUDA_DISCOVER
// Standard headers first: some of them use names the CUDA macros below redefine (__noinline__).
#include <cassert>
#include <cstddef>
#include <cfloat>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <math.h>  // libstdc++'s <math.h> also puts the float/double overloads of std:: into ::
#include <limits>
#include <memory>
#include <new>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#ifdef DC_CUDA_FIBERS
#include <ucontext.h>
#endif
#endif

#ifdef DC_CUDA_DISCOVER
// Discovery pass (g++ -E): only the qualifiers, with __global__ left as a marker _raw.py searches for.
#define __global__ __dc_global__
#else
#define __global__
#endif
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __shared__ static
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __grid_constant__
// __restrict__ is a g++ keyword already.

#ifndef DC_CUDA_DISCOVER

// --- index types and built-in variables -------------------------------------------------------------
struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

// --- math -----------------------------------------------------------------------------------------------
// tanhf, expf, logf, sqrtf, fmaxf, fminf, powf, ... and the float overloads of tanh, exp, ... come from
// <math.h>. CUDA extras:
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __tanhf(float x) { return tanhf(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float exp10f(float x) { return powf(10.0f, x); }
inline double exp10(double x) { return pow(10.0, x); }
inline void sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
inline void sincos(double x, double* s, double* c) { *s = sin(x); *c = cos(x); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline double normcdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752); }

// Bit reinterpretation and bit counting.
template <typename To, typename From> inline To dc_bit_cast(From v) {
    static_assert(sizeof(To) == sizeof(From), "dc_bit_cast: sizes differ");
    To out;
    std::memcpy(&out, &v, sizeof(To));
    return out;
}
inline int __float_as_int(float x) { return dc_bit_cast<int>(x); }
inline unsigned int __float_as_uint(float x) { return dc_bit_cast<unsigned int>(x); }
inline float __int_as_float(int x) { return dc_bit_cast<float>(x); }
inline float __uint_as_float(unsigned int x) { return dc_bit_cast<float>(x); }
inline long long __double_as_longlong(double x) { return dc_bit_cast<long long>(x); }
inline double __longlong_as_double(long long x) { return dc_bit_cast<double>(x); }
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned int)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }

// CUDA's global min/max: overloaded for every arithmetic pair (mixed int/unsigned compares as unsigned,
// int/float as float), like the usual arithmetic conversions. fminf/fmaxf come from <math.h>.
template <typename A, typename B,
          typename = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> min(A a, B b) {
    using C = std::common_type_t<A, B>;
    return static_cast<C>(b) < static_cast<C>(a) ? static_cast<C>(b) : static_cast<C>(a);
}
template <typename A, typename B,
          typename = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> max(A a, B b) {
    using C = std::common_type_t<A, B>;
    return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}

// --- atomics and memory: threads never run concurrently, so plain read-modify-write is atomic ----------
template <typename T> inline T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }
template <typename T> inline T atomicSub(T* p, T v) { T old = *p; *p = old - v; return old; }
template <typename T> inline T atomicExch(T* p, T v) { T old = *p; *p = v; return old; }
template <typename T> inline T atomicMax(T* p, T v) { T old = *p; if (old < v) *p = v; return old; }
template <typename T> inline T atomicMin(T* p, T v) { T old = *p; if (v < old) *p = v; return old; }
template <typename T> inline T atomicAnd(T* p, T v) { T old = *p; *p = old & v; return old; }
template <typename T> inline T atomicOr(T* p, T v) { T old = *p; *p = old | v; return old; }
template <typename T> inline T atomicXor(T* p, T v) { T old = *p; *p = old ^ v; return old; }
template <typename T> inline T atomicCAS(T* p, T cmp, T v) { T old = *p; if (old == cmp) *p = v; return old; }
template <typename T> inline T __ldg(const T* p) { return *p; }
inline void __threadfence() {}
inline void __threadfence_block() {}

// --- launching ------------------------------------------------------------------------------------------
namespace dc_cuda {

// What _raw.py passes to a launcher (ctypes mirror: _raw._Launch). grid[0] is already capped when the
// grid is shrunk; gridDim reports these values.
struct Launch {
    unsigned int grid[3];
    unsigned int block[3];
    unsigned long long shared_bytes;  // dynamic shared memory per block
};

// The block's dynamic shared memory (`extern __shared__` arrays point here).
inline thread_local unsigned char* dynamic_shared_ptr = nullptr;
inline unsigned char* dynamic_shared() { return dynamic_shared_ptr; }

// One kernel parameter as _raw.py checks it (ctypes mirror: _raw._Param).
// kind: 'p' pointer, 'i' signed integer, 'u' unsigned integer, 'f' floating point, 'b' bool, 'V' other.
struct Param {
    int kind;
    int size;            // sizeof the parameter
    int pointee_kind;    // for pointers: the kind of *p ('v' for void), else 0
    int pointee_size;    // for pointers: sizeof(*p) (0 for void), else 0
    int pointee_const;   // for pointers: 1 if *p is const
    const char* type;    // g++'s spelling of the type, parsed by _raw.py from "[with T = ...]"
};

template <typename T> constexpr int kind_of() {
    if constexpr (std::is_pointer_v<T>) return 'p';
    else if constexpr (std::is_same_v<T, bool>) return 'b';
    else if constexpr (std::is_integral_v<T>) return std::is_signed_v<T> ? 'i' : 'u';
    else if constexpr (std::is_floating_point_v<T>) return 'f';
    else if constexpr (std::is_void_v<T>) return 'v';
    else return 'V';
}

template <typename T> const char* type_name() { return __PRETTY_FUNCTION__; }

template <typename T> Param describe() {
    if constexpr (std::is_pointer_v<T>) {
        using P = std::remove_pointer_t<T>;
        using U = std::remove_cv_t<P>;
        int size = 0;
        if constexpr (!std::is_void_v<U>) size = (int)sizeof(U);
        return Param{'p', (int)sizeof(T), kind_of<U>(), size, std::is_const_v<P> ? 1 : 0, type_name<T>()};
    } else {
        return Param{kind_of<T>(), (int)sizeof(T), 0, 0, 0, type_name<T>()};
    }
}

template <typename F> struct Signature;
template <typename... A> struct Signature<void (*)(A...)> {
    static constexpr int count = (int)sizeof...(A);
    static const Param* params() {
        static const Param table[] = {describe<A>()..., Param{0, 0, 0, 0, 0, nullptr}};
        return table;
    }
    using Args = std::tuple<A...>;
    // CUDA's launch ABI: args[i] points at the value of parameter i.
    template <std::size_t... I>
    static Args unpack(void** args, std::index_sequence<I...>) {
        return Args{*static_cast<A*>(args[I])...};
    }
    static Args unpack(void** args) { return unpack(args, std::index_sequence_for<A...>{}); }
};

// Launches of one module run one at a time (__shared__ storage is static and thus per module).
inline std::mutex& module_mutex() {
    static std::mutex m;
    return m;
}

#ifdef DC_CUDA_FIBERS
// The threads of one block as cooperative fibers; __syncthreads() parks the running fiber until every
// fiber of the block has reached the barrier (or finished).
struct Fibers {
    enum State : unsigned char { Ready, AtBarrier, Done };
    static constexpr std::size_t kStack = 256 * 1024;
    ucontext_t scheduler;
    std::vector<ucontext_t> ctx;
    std::vector<char*> stacks;
    std::vector<State> state;
    std::vector<uint3> index;
    void (*body)(void*) = nullptr;
    void* closure = nullptr;
    std::size_t current = 0;
};
inline thread_local Fibers* current_fibers = nullptr;

inline void fiber_entry() {
    Fibers* f = current_fibers;
    f->body(f->closure);
    f->state[f->current] = Fibers::Done;  // returning resumes uc_link, the scheduler
}

inline void syncthreads() {
    Fibers* f = current_fibers;
    f->state[f->current] = Fibers::AtBarrier;
    swapcontext(&f->ctx[f->current], &f->scheduler);
}

// Runs body(closure) once per thread of the block; returns 0, or 1 when fibers cannot be made.
inline int run_block_fibers(Fibers& f, unsigned bx, unsigned by, unsigned bz, void (*body)(void*), void* closure) {
    const std::size_t n = (std::size_t)blockDim.x * blockDim.y * blockDim.z;
    if (f.ctx.size() != n) {
        for (char* s : f.stacks) std::free(s);
        f.ctx.assign(n, ucontext_t{});
        f.stacks.assign(n, nullptr);
        f.state.assign(n, Fibers::Ready);
        f.index.assign(n, uint3{0, 0, 0});
        for (std::size_t k = 0; k < n; ++k) {
            f.stacks[k] = static_cast<char*>(std::malloc(Fibers::kStack));
            if (!f.stacks[k]) return 1;
            f.index[k] = uint3{(unsigned)(k % blockDim.x), (unsigned)(k / blockDim.x % blockDim.y),
                               (unsigned)(k / ((std::size_t)blockDim.x * blockDim.y))};
        }
    }
    f.body = body;
    f.closure = closure;
    blockIdx = uint3{bx, by, bz};
    for (std::size_t k = 0; k < n; ++k) {
        if (getcontext(&f.ctx[k]) != 0) return 1;
        f.ctx[k].uc_stack.ss_sp = f.stacks[k];
        f.ctx[k].uc_stack.ss_size = Fibers::kStack;
        f.ctx[k].uc_link = &f.scheduler;
        makecontext(&f.ctx[k], fiber_entry, 0);
        f.state[k] = Fibers::Ready;
    }
    for (;;) {
        bool waiting = false;
        for (std::size_t k = 0; k < n; ++k) {
            if (f.state[k] != Fibers::Ready) continue;
            f.current = k;
            threadIdx = f.index[k];
            swapcontext(&f.scheduler, &f.ctx[k]);
        }
        for (std::size_t k = 0; k < n; ++k) {
            if (f.state[k] == Fibers::AtBarrier) { f.state[k] = Fibers::Ready; waiting = true; }
        }
        if (!waiting) return 0;
    }
}
#endif  // DC_CUDA_FIBERS

// Runs kernel K over the whole grid with the arguments in CUDA's launch ABI.
template <auto K>
int launch(const Launch* L, void** args) {
    using Sig = Signature<decltype(K)>;
    auto values = Sig::unpack(args);
    std::lock_guard<std::mutex> lock(module_mutex());
    gridDim = dim3(L->grid[0], L->grid[1], L->grid[2]);
    blockDim = dim3(L->block[0], L->block[1], L->block[2]);
    std::unique_ptr<std::max_align_t[]> shared(
        new std::max_align_t[L->shared_bytes / sizeof(std::max_align_t) + 1]());
    dynamic_shared_ptr = reinterpret_cast<unsigned char*>(shared.get());
#ifdef DC_CUDA_FIBERS
    Fibers fibers;
    Fibers* saved = current_fibers;
    current_fibers = &fibers;
    auto body = [](void* p) { std::apply(K, *static_cast<typename Sig::Args*>(p)); };
    int status = 0;
    for (unsigned bz = 0; bz < gridDim.z && !status; ++bz)
        for (unsigned by = 0; by < gridDim.y && !status; ++by)
            for (unsigned bx = 0; bx < gridDim.x && !status; ++bx)
                status = run_block_fibers(fibers, bx, by, bz, body, &values);
    for (char* s : fibers.stacks) std::free(s);
    current_fibers = saved;
    return status;
#else
    for (unsigned bz = 0; bz < gridDim.z; ++bz)
        for (unsigned by = 0; by < gridDim.y; ++by)
            for (unsigned bx = 0; bx < gridDim.x; ++bx) {
                blockIdx = uint3{bx, by, bz};
                for (unsigned tz = 0; tz < blockDim.z; ++tz)
                    for (unsigned ty = 0; ty < blockDim.y; ++ty)
                        for (unsigned tx = 0; tx < blockDim.x; ++tx) {
                            threadIdx = uint3{tx, ty, tz};
                            std::apply(K, values);
                        }
            }
    return 0;
#endif
}

}  // namespace dc_cuda

#ifdef DC_CUDA_FIBERS
#define __syncthreads() ::dc_cuda::syncthreads()
#endif

// Exports kernel `expr` (a function name or a template-id like `f<float>`) as the C symbols
// dc_launch_<sym>(const Launch*, void**) -> int and dc_params_<sym>(int* count) -> const Param*.
#define DC_CUDA_VISIBLE __attribute__((visibility("default")))
#define DC_CUDA_EXPORT(sym, ...)                                                                      \
    extern "C" DC_CUDA_VISIBLE int dc_launch_##sym(const ::dc_cuda::Launch* L, void** args) {                          \
        return ::dc_cuda::launch<&__VA_ARGS__>(L, args);                                               \
    }                                                                                                  \
    extern "C" DC_CUDA_VISIBLE const ::dc_cuda::Param* dc_params_##sym(int* count) {                                   \
        using Sig = ::dc_cuda::Signature<decltype(&__VA_ARGS__)>;                                       \
        *count = Sig::count;                                                                           \
        return Sig::params();                                                                          \
    }

#endif  // !DC_CUDA_DISCOVER
