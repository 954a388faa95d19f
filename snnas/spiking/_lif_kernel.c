/* Fused multi-step IF / LIF / PLIF forward and BPTT backward for float32 CPU tensors.
 *
 * Why: the pure-torch reference launches ~10 elementwise ops per time step, each streaming the
 * whole tensor through memory. Here each element's membrane potential stays in L1 (a chunk of
 * CHUNK neurons at a time) while the loop runs over T, so forward reads x once and writes the
 * spikes and H once; backward reads grad and H once and writes grad x once.
 *
 * Forward arithmetic copies snnas/spiking/_reference.py (itself SpikingJelly 2.0's order) op for
 * op in float32; it must be compiled with -ffp-contract=off (no FMA) so that spikes are
 * bit-identical to the torch reference. The backward only needs to agree to rounding.
 *
 * Layout: x, spike, h are [T, N] contiguous. coef holds C values (LIF: tau, PLIF: sigmoid(w));
 * element n uses coef[(n / inner) % C] (C = 1 for a scalar, inner = H*W for [T,B,C,H,W] input,
 * inner = 1 for a channel on the last dim). mode: 0 IF, 1 LIF (divide by tau), 2 PLIF (multiply
 * by sigmoid(w)).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define CHUNK 256
#define INLINE static inline __attribute__((always_inline))
#define ALIGNED __attribute__((aligned(64)))

/* Outputs are computed into L1-resident chunk buffers, then copied out. For tensors larger than
 * the caches the copy uses non-temporal (streaming) stores: they skip the read-for-ownership of
 * the destination line, which saves a third of the memory traffic of a write. */
#if defined(__AVX512F__)
#include <immintrin.h>
#define SNN_VEC 16
#define SNN_STREAM(p, q) _mm512_stream_ps((p), _mm512_load_ps(q))
#elif defined(__AVX__)
#include <immintrin.h>
#define SNN_VEC 8
#define SNN_STREAM(p, q) _mm256_stream_ps((p), _mm256_load_ps(q))
#elif defined(__SSE2__)
#include <emmintrin.h>
#define SNN_VEC 4
#define SNN_STREAM(p, q) _mm_stream_ps((p), _mm_load_ps(q))
#endif

INLINE void store_out(float *restrict dst, const float *restrict src, int64_t m, int nt) {
#ifdef SNN_VEC
    if (nt && ((uintptr_t)dst % (SNN_VEC * sizeof(float))) == 0) {
        int64_t j = 0;
        for (; j + SNN_VEC <= m; j += SNN_VEC) SNN_STREAM(dst + j, src + j);
        for (; j < m; j++) dst[j] = src[j];
        return;
    }
#endif
    (void)nt;
    for (int64_t j = 0; j < m; j++) dst[j] = src[j]; /* inlined, unlike a memcpy call */
}

INLINE void store_fence(int nt) {
#ifdef SNN_VEC
    if (nt) _mm_sfence();
#endif
    (void)nt;
}

/* ---- vectorisable float exp for the backward pass only (forward has no transcendental). libm's
 * expf does not vectorise without -ffast-math. exp(x) = 2^n 2^f with n = rint(x log2 e) and
 * 2^f from Cephes' exp2f polynomial on [-1/2, 1/2]; relative error about 2e-7 plus 2^-24 |x|.
 * FMA is used explicitly here (contraction is off file-wide to keep the forward exact). */
#ifdef __FMA__
#define MADD(a, b, c) fmaf((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif
INLINE float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : x; /* ternaries, not fminf: those vectorise */
    x = x > 88.0f ? 88.0f : x;
    float y = x * 1.44269504088896341f;
    float n = rintf(y);
    float f = y - n;
    float p = 1.535336188319500e-4f;
    p = MADD(p, f, 1.339887440266574e-3f);
    p = MADD(p, f, 9.618437357674640e-3f);
    p = MADD(p, f, 5.550332471162809e-2f);
    p = MADD(p, f, 2.402264791363012e-1f);
    p = MADD(p, f, 6.931472028550421e-1f);
    p = MADD(p, f, 1.0f);
    int32_t bits = ((int32_t)n + 127) << 23; /* 2^n */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Surrogate pseudo-derivative at u = h - v_th, same formulas as snnas/spiking/_surrogate.py.
 * k is a per-surrogate precomputed constant (see snnas_surrogate_const). */
INLINE float surrogate_grad(float u, int id, float a, float k) {
    float au = fabsf(u);
    switch (id) {
    case 0: { /* sigmoid */
        float s = 1.0f / (1.0f + exp_approx(-a * u));
        return (1.0f - s) * s * a;
    }
    case 1: { /* atan, k = pi * a / 2 */
        float z = k * u;
        return (a * 0.5f) / (1.0f + z * z);
    }
    case 2: /* piecewise_quadratic */
        return au > 1.0f / a ? 0.0f : a - a * a * au;
    case 3: { /* erf, k = a / sqrt(pi) */
        float z = a * u;
        return exp_approx(-z * z) * k;
    }
    case 4: /* rect */
        return au < 0.5f / a ? a : 0.0f;
    case 5: { /* triangle */
        float g = (1.0f - au * a) * a;
        return g > 0.0f ? g : 0.0f;
    }
    default: { /* dspike, k = b / (2 tanh(b / 2)) */
        float e = exp_approx(2.0f * a * (au > 0.5f ? 0.5f : au));
        float t = 1.0f - 2.0f / (e + 1.0f); /* tanh(b |u|) */
        return au > 0.5f ? 0.0f : (1.0f - t * t) * k;
    }
    }
}

INLINE float charge(float v, float x, float c, float vr, int mode, int decay) {
    if (mode == 0) return v + x;
    if (mode == 1) return decay ? v + (x - (v - vr)) / c : v - (v - vr) / c + x;
    return decay ? v + (x - (v - vr)) * c : v - (v - vr) * c + x;
}

INLINE float after_reset(float h, float s, float vth, float vr, int hard) {
    return hard ? s * vr + (1.0f - s) * h : h - s * vth;
}

INLINE void fill_coef(float *cl, const float *coef, int64_t n0, int64_t m, int64_t C, int64_t inner) {
    if (C == 1) {
        for (int64_t j = 0; j < m; j++) cl[j] = coef[0];
    } else {
        for (int64_t j = 0; j < m; j++) cl[j] = coef[((n0 + j) / inner) % C];
    }
}

/* ------------------------------------------------------------------------------------------ */
INLINE void fwd_chunk(const float *restrict x, float *restrict spike, float *restrict hout,
                      int64_t T, int64_t N, int64_t n0, int64_t m, const float *coef, int64_t C,
                      int64_t inner, float vth, float vr, const int mode, const int decay,
                      const int hard, const int store_h, int nt) {
    float v[CHUNK] ALIGNED, cl[CHUNK] ALIGNED, sb[CHUNK] ALIGNED, hb[CHUNK] ALIGNED;
    float v0 = hard ? vr : 0.0f;
    for (int64_t j = 0; j < m; j++) v[j] = v0;
    if (mode != 0) fill_coef(cl, coef, n0, m, C, inner);
    else for (int64_t j = 0; j < m; j++) cl[j] = 1.0f;
    float vre = hard ? vr : 0.0f;
    for (int64_t t = 0; t < T; t++) {
        const float *xt = x + t * N + n0;
        for (int64_t j = 0; j < m; j++) {
            float h = charge(v[j], xt[j], cl[j], vre, mode, decay);
            float s = (h - vth) >= 0.0f ? 1.0f : 0.0f;
            sb[j] = s;
            hb[j] = h;
            v[j] = after_reset(h, s, vth, vr, hard);
        }
        store_out(spike + t * N + n0, sb, m, nt);
        if (store_h) store_out(hout + t * N + n0, hb, m, nt);
    }
}

#define FWD_CASE(MODE, DECAY, HARD, STORE)                                                       \
    case ((MODE) * 8 + (DECAY) * 4 + (HARD) * 2 + (STORE)):                                      \
        fwd_chunk(x, spike, hout, T, N, n0, m, coef, C, inner, vth, vr, MODE, DECAY, HARD, STORE, nt); \
        break;

void snnas_lif_forward(const float *x, float *spike, float *hout, int64_t T, int64_t N, int mode,
                       const float *coef, int64_t C, int64_t inner, int decay, float vth, int hard,
                       float vr, int nt, int nthreads) {
    int64_t nchunks = (N + CHUNK - 1) / CHUNK;
    int store = hout != NULL;
    int key = mode * 8 + (mode ? decay : 0) * 4 + hard * 2 + store;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (int64_t c = 0; c < nchunks; c++) {
        int64_t n0 = c * CHUNK;
        int64_t m = N - n0 < CHUNK ? N - n0 : CHUNK;
        switch (key) {
            FWD_CASE(0, 0, 0, 0) FWD_CASE(0, 0, 0, 1) FWD_CASE(0, 0, 1, 0) FWD_CASE(0, 0, 1, 1)
            FWD_CASE(1, 0, 0, 0) FWD_CASE(1, 0, 0, 1) FWD_CASE(1, 0, 1, 0) FWD_CASE(1, 0, 1, 1)
            FWD_CASE(1, 1, 0, 0) FWD_CASE(1, 1, 0, 1) FWD_CASE(1, 1, 1, 0) FWD_CASE(1, 1, 1, 1)
            FWD_CASE(2, 0, 0, 0) FWD_CASE(2, 0, 0, 1) FWD_CASE(2, 0, 1, 0) FWD_CASE(2, 0, 1, 1)
            FWD_CASE(2, 1, 0, 0) FWD_CASE(2, 1, 0, 1) FWD_CASE(2, 1, 1, 0) FWD_CASE(2, 1, 1, 1)
        default:
            break;
        }
        store_fence(nt);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* BPTT. carry = dL/dV[t] flowing back from step t+1. Per step:
 *   gH = gS * sg + carry * dV/dH,  dV/dH = (1 - S) + (vr - H) sg  (hard)  or  1 - vth sg (soft),
 *   with the sg terms dropped under detach_reset;  gX = gH * dH/dX;  carry = gH * dH/dV[t-1],
 * written with r = dH/dX under decay_input (IF: r = 0, LIF: 1/tau, PLIF: sigmoid(w)) as
 *   gX = decay ? gH * r : gH,  carry = gH - gH * r.
 * Only the surrogate is a compile-time case (hard/detach/decay are 0/1 factors), which keeps the
 * build to about a second. PLIF also accumulates dL/dq = sum_t gH dH/dq per element into gq. */
INLINE void bwd_chunk(const float *restrict gs, const float *restrict hin, const float *restrict x,
                      float *restrict gx, float *restrict gq, int64_t T, int64_t N, int64_t n0,
                      int64_t m, const float *coef, int64_t C, int64_t inner, int mode, float vth,
                      float vr, int decay, int hard, int detach, const int sid, float a, float k,
                      const int plif_q, int nt) {
    float carry[CHUNK] ALIGNED, rl[CHUNK] ALIGNED, acc[CHUNK] ALIGNED, gb[CHUNK] ALIGNED;
    for (int64_t j = 0; j < m; j++) { carry[j] = 0.0f; acc[j] = 0.0f; }
    if (mode == 0) {
        for (int64_t j = 0; j < m; j++) rl[j] = 0.0f;
    } else {
        fill_coef(rl, coef, n0, m, C, inner);
        if (mode == 1)
            for (int64_t j = 0; j < m; j++) rl[j] = 1.0f / rl[j];
    }
    const float fh = hard ? 1.0f : 0.0f;          /* hard reset */
    const float keep = detach ? 0.0f : 1.0f;      /* reset path carries gradient */
    const float fdec = (decay && mode != 0) ? 1.0f : 0.0f;
    const float vre = hard ? vr : 0.0f;
    for (int64_t t = T - 1; t >= 0; t--) {
        const float *gst = gs + t * N + n0;
        const float *ht = hin + t * N + n0;
        /* PLIF only: V[t-1] is rebuilt from H[t-1] (V = v_reset before the first step), and
         * x[t] is read for decay_input; dummy pointers and 0/1 factors keep the loop branch-free */
        const float *hp = t > 0 ? hin + (t - 1) * N + n0 : ht;
        const float first = t > 0 ? 0.0f : 1.0f;
        const float *xt = x ? x + t * N + n0 : ht;
        const float fx = x ? 1.0f : 0.0f;
        for (int64_t j = 0; j < m; j++) {
            float h = ht[j];
            float u = h - vth;
            float sg = surrogate_grad(u, sid, a, k);
            float s = u >= 0.0f ? 1.0f : 0.0f;
            float dvdh = (1.0f - fh * s) + keep * (fh * (vr - h) - (1.0f - fh) * vth) * sg;
            float gh = gst[j] * sg + carry[j] * dvdh;
            float ghr = gh * rl[j];
            gb[j] = gh + fdec * (ghr - gh);
            carry[j] = gh - ghr;
            if (plif_q) {
                float hpv = hp[j];
                float sp = (hpv - vth) >= 0.0f ? 1.0f : 0.0f;
                float vp = fh * (sp * vr + (1.0f - sp) * hpv) + (1.0f - fh) * (hpv - sp * vth);
                float d = (1.0f - first) * (vp - vre);
                acc[j] += gh * (fx * xt[j] - d);
            }
        }
        store_out(gx + t * N + n0, gb, m, nt);
    }
    if (plif_q)
        for (int64_t j = 0; j < m; j++) gq[n0 + j] = acc[j];
}

#define BWD_ARGS gs, hin, x, gx, gq, T, N, n0, m, coef, C, inner, mode, vth, vr, decay, hard, detach
#define BWD_SID(Q)                                                                               \
    switch (sid) {                                                                               \
    case 0: bwd_chunk(BWD_ARGS, 0, a, k, Q, nt); break;                                              \
    case 1: bwd_chunk(BWD_ARGS, 1, a, k, Q, nt); break;                                              \
    case 2: bwd_chunk(BWD_ARGS, 2, a, k, Q, nt); break;                                              \
    case 3: bwd_chunk(BWD_ARGS, 3, a, k, Q, nt); break;                                              \
    case 4: bwd_chunk(BWD_ARGS, 4, a, k, Q, nt); break;                                              \
    case 5: bwd_chunk(BWD_ARGS, 5, a, k, Q, nt); break;                                              \
    default: bwd_chunk(BWD_ARGS, 6, a, k, Q, nt); break;                                             \
    }

void snnas_lif_backward(const float *gs, const float *hin, const float *x, float *gx, float *gq,
                        int64_t T, int64_t N, int mode, const float *coef, int64_t C, int64_t inner,
                        int decay, float vth, int hard, float vr, int detach, int sid, float a,
                        float k, int nt, int nthreads) {
    int64_t nchunks = (N + CHUNK - 1) / CHUNK;
    if (!(mode == 2 && decay)) x = NULL;
    int q = mode == 2 && gq != NULL;
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (int64_t c = 0; c < nchunks; c++) {
        int64_t n0 = c * CHUNK;
        int64_t m = N - n0 < CHUNK ? N - n0 : CHUNK;
        if (q) {
            BWD_SID(1)
        } else {
            BWD_SID(0)
        }
        store_fence(nt);
    }
}

/* Version tag so Python can check it loaded the library it compiled. */
int snnas_lif_abi(void) { return 1; }
