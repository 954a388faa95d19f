/* Fused multi-step IF / LIF / PLIF forward and BPTT backward for float32 CPU tensors.
 *
 * Why: the pure-torch reference launches ~10 elementwise ops per time step, each streaming the
 * whole tensor through memory. Here a block of 16 neurons keeps its membrane potential in a
 * vector register while the loop runs over T: forward reads x once and writes the spikes and H
 * once; backward reads grad and H once and writes grad x once (PLIF also reads x). Outputs
 * larger than the caches are written with streaming stores, and a few neighbouring blocks are
 * interleaved so that the serial recurrence over t does not leave the vector units idle.
 *
 * Forward arithmetic copies snnas/spiking/_reference.py (itself SpikingJelly 2.0's order) op for
 * op in float32 and must be compiled with -ffp-contract=off (no FMA), so spikes are bit-identical
 * to the torch reference. The backward only needs to agree to rounding.
 *
 * Layout: x, spike, grad are [T, N] contiguous; H (private to the pair) is block-major, see
 * snnas_lif_forward. coef holds C values (LIF: tau, PLIF: sigmoid(w));
 * element n uses coef[(n / inner) % C] (C = 1 for a scalar, inner = H*W for [T,B,C,H,W] input,
 * inner = 1 for a channel on the last dim). mode: 0 IF, 1 LIF (divide by tau), 2 PLIF (multiply
 * by sigmoid(w)). Vectors use GCC/Clang vector extensions, so the same source builds for any
 * SIMD width; only the optional streaming stores are x86-specific.
 */
#define _GNU_SOURCE /* madvise flags; changes no arithmetic */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#ifndef VL
#define VL 16 /* lanes per block: one AVX-512 register (wider generic vectors spill) */
#endif
#define PF 512 /* prefetch distance in floats along each stream */
#ifndef FWD_G
#define FWD_G 4 /* blocks interleaved by the forward */
#endif
#ifndef BWD_G
#define BWD_G 2 /* blocks interleaved by the backward */
#endif
#define INLINE static inline __attribute__((always_inline))

typedef float vf __attribute__((vector_size(VL * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VL * sizeof(int32_t))));

INLINE vf splat(float a) { return (vf){0} + a; }
INLINE vf vload(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
INLINE void vstore(float *p, vf v) { memcpy(p, &v, sizeof v); }
INLINE vf vsel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
INLINE vf vabs(vf a) { return (vf)((vi)a & 0x7fffffff); }

/* x86 parts of a block, for the few operations plain vector code cannot express */
#if defined(__AVX512F__)
#define SIMD_W 16
typedef __m512 simd_t;
#define SIMD_STREAM _mm512_stream_ps
#define SIMD_FMA _mm512_fmadd_ps
#define SIMD_MAX _mm512_max_ps
#define SIMD_MIN _mm512_min_ps
#elif defined(__AVX__)
#define SIMD_W 8
typedef __m256 simd_t;
#define SIMD_STREAM _mm256_stream_ps
#define SIMD_MAX _mm256_max_ps
#define SIMD_MIN _mm256_min_ps
#if defined(__FMA__)
#define SIMD_FMA _mm256_fmadd_ps
#endif
#elif defined(__SSE2__)
#define SIMD_W 4
typedef __m128 simd_t;
#define SIMD_STREAM _mm_stream_ps
#define SIMD_MAX _mm_max_ps
#define SIMD_MIN _mm_min_ps
#endif
#ifdef SIMD_W
typedef union { vf v; simd_t p[VL / SIMD_W]; } parts_t;
#endif

/* Non-temporal store of one block: for outputs larger than the caches this skips the
 * read-for-ownership of the destination line, a third of the traffic of a normal write. */
INLINE void vstream(float *p, vf v) {
#ifdef SIMD_W
    parts_t u = {v};
    for (int i = 0; i < VL / SIMD_W; i++) SIMD_STREAM(p + SIMD_W * i, u.p[i]);
#else
    vstore(p, v);
#endif
}

/* a * b + c, fused where the CPU has FMA (backward only: contraction is off file-wide) */
INLINE vf vmadd(vf a, vf b, vf c) {
#ifdef SIMD_FMA
    parts_t ua = {a}, ub = {b}, uc = {c}, r;
    for (int i = 0; i < VL / SIMD_W; i++) r.p[i] = SIMD_FMA(ua.p[i], ub.p[i], uc.p[i]);
    return r.v;
#else
    return a * b + c;
#endif
}

/* min(max(x, lo), hi) in two instructions where possible */
INLINE vf vclamp(vf x, float lo, float hi) {
#ifdef SIMD_W
    parts_t u = {x}, ul = {splat(lo)}, uh = {splat(hi)};
    for (int i = 0; i < VL / SIMD_W; i++) u.p[i] = SIMD_MIN(SIMD_MAX(u.p[i], ul.p[i]), uh.p[i]);
    return u.v;
#else
    x = vsel(x < lo, splat(lo), x);
    return vsel(x > hi, splat(hi), x);
#endif
}

INLINE void fence(int nt) {
#if defined(__SSE2__)
    if (nt) _mm_sfence();
#endif
    (void)nt;
}

/* Blocks are always full: the ragged tail of N % VL lanes is run on zero-padded copies (see
 * *_tail below), which keeps every hot loop free of tail handling. */
INLINE void store_blk(float *p, vf v, int nt) {
    if (nt) vstream(p, v);
    else vstore(p, v);
}

INLINE vf coef_blk(const float *coef, int64_t n0, int64_t N, int64_t C, int64_t inner) {
    if (C == 1) return splat(coef[0]);
    float c[VL];
    for (int64_t l = 0; l < VL; l++) c[l] = n0 + l < N ? coef[((n0 + l) / inner) % C] : 1.0f;
    return vload(c);
}

/* Zero-padded [T, VL] copy of lanes n0.. of a [T, N] tensor (NULL in, NULL out). */
static float *pad_tail(const float *src, int64_t T, int64_t N, int64_t n0) {
    if (src == NULL) return NULL;
    float *buf = calloc((size_t)(T * VL), sizeof(float));
    if (buf)
        for (int64_t t = 0; t < T; t++) memcpy(buf + t * VL, src + t * N + n0, (size_t)(N - n0) * sizeof(float));
    return buf;
}

static void unpad_tail(float *dst, const float *buf, int64_t T, int64_t N, int64_t n0) {
    if (dst == NULL) return;
    for (int64_t t = 0; t < T; t++) memcpy(dst + t * N + n0, buf + t * VL, (size_t)(N - n0) * sizeof(float));
}

/* ---------------------------------------------------------------------------------------- */
/* forward: exactly the reference's float32 operations, in its order                          */
INLINE vf charge(vf v, vf x, vf c, vf vr, const int mode, const int decay) {
    if (mode == 0) return v + x;
    if (mode == 1) return decay ? v + (x - (v - vr)) / c : v - (v - vr) / c + x;
    return decay ? v + (x - (v - vr)) * c : v - (v - vr) * c + x;
}

/* G neighbouring blocks at once: each block's V is a serial chain over t, so G independent
 * chains keep the vector units busy (G = 1 only for the leftover blocks). */
INLINE void fwd_blk(const float *x, float *spike, float *hout, int64_t T, int64_t N, int64_t n0,
                    const vf *c, float vth_, float vr_, const int mode, const int decay,
                    const int hard, int nt, const int G) {
    const vf one = splat(1.0f), zero = splat(0.0f), vth = splat(vth_), vr = splat(vr_);
    const vf vre = hard ? vr : zero; /* soft reset charges towards 0 */
    vf v[FWD_G];
    for (int i = 0; i < G; i++) v[i] = vre;
    for (int64_t t = 0; t < T; t++) {
        const float *xt = x + t * N + n0;
        float *st = spike + t * N + n0;
        for (int i = 0; i < G; i++) {
            __builtin_prefetch(xt + i * VL + PF, 0, 0);
            vf h = charge(v[i], vload(xt + i * VL), c[i], vre, mode, decay);
            vi fire = (h - vth) >= zero;
            vf s = (vf)(fire & (vi)one);
            store_blk(st + i * VL, s, nt);
            if (hout) store_blk(hout + (i * T + t) * VL, h, nt); /* H block-major */
            v[i] = hard ? s * vr + (one - s) * h : h - s * vth;
        }
    }
}

#define FWD_CASE(MODE, DECAY, HARD)                                                              \
    case ((MODE) * 4 + (DECAY) * 2 + (HARD)):                                                    \
        fwd_blk(x, spike, hout, T, N, n0, c, vth, vr, MODE, DECAY, HARD, nt, G);                 \
        break;

INLINE void fwd_any(const float *x, float *spike, float *hout, int64_t T, int64_t N, int64_t n0,
                    const vf *c, int key, float vth, float vr, int nt, const int G) {
    switch (key) {
        FWD_CASE(0, 0, 0) FWD_CASE(0, 0, 1)
        FWD_CASE(1, 0, 0) FWD_CASE(1, 0, 1) FWD_CASE(1, 1, 0) FWD_CASE(1, 1, 1)
        FWD_CASE(2, 0, 0) FWD_CASE(2, 0, 1) FWD_CASE(2, 1, 0) FWD_CASE(2, 1, 1)
    default:
        break;
    }
}

/* Spikes are written [T, N] like x. H, private to backward, is written block-major: block b's
 * [T, VL] values contiguous at hout + b VL T (the tail's [T, m] last), so backward reads one H
 * stream instead of T; with N a power of two the T streams of a [T, N] tensor all fall in the
 * same cache sets and evict each other's prefetched lines.
 * Returns 0, or -1 if the small tail buffers could not be allocated. */
int snnas_lif_forward(const float *x, float *spike, float *hout, int64_t T, int64_t N, int mode,
                      const float *coef, int64_t C, int64_t inner, int decay, float vth, int hard,
                      float vr, int nt, int nthreads) {
    int64_t nfull = N / VL, ngrp = nfull / FWD_G, n0 = nfull * VL;
    int key = mode * 4 + (mode ? decay : 0) * 2 + (hard ? 1 : 0);
    nt = nt && N % VL == 0 && (uintptr_t)spike % 64 == 0 && (hout == NULL || (uintptr_t)hout % 64 == 0);
#pragma omp parallel num_threads(nthreads)
    {
#pragma omp for schedule(guided, 4)
        for (int64_t g = 0; g < ngrp; g++) {
            int64_t b0 = g * FWD_G;
            vf c[FWD_G];
            for (int i = 0; i < FWD_G; i++) c[i] = mode ? coef_blk(coef, (b0 + i) * VL, N, C, inner) : splat(1.0f);
            fwd_any(x, spike, hout ? hout + b0 * VL * T : NULL, T, N, b0 * VL, c, key, vth, vr, nt, FWD_G);
        }
        fence(nt);
    }
    for (int64_t b = ngrp * FWD_G; b < nfull; b++) { /* leftover full blocks */
        vf c = mode ? coef_blk(coef, b * VL, N, C, inner) : splat(1.0f);
        fwd_any(x, spike, hout ? hout + b * VL * T : NULL, T, N, b * VL, &c, key, vth, vr, 0, 1);
    }
    if (n0 == N) return 0;
    float *xb = pad_tail(x, T, N, n0), *sb = pad_tail(spike, T, N, n0);
    float *hb = hout ? calloc((size_t)(T * VL), sizeof(float)) : NULL;
    int ok = xb && sb && (hb || !hout);
    if (ok) {
        vf c = mode ? coef_blk(coef, n0, N, C, inner) : splat(1.0f);
        fwd_any(xb, sb, hb, T, VL, 0, &c, key, vth, vr, 0, 1);
        unpad_tail(spike, sb, T, N, n0);
        if (hout) /* the m tail lanes of H as [T, m] after the full blocks */
            for (int64_t t = 0; t < T; t++)
                memcpy(hout + n0 * T + t * (N - n0), hb + t * VL, (size_t)(N - n0) * sizeof(float));
    }
    free(xb);
    free(sb);
    free(hb);
    return ok ? 0 : -1;
}

/* ---------------------------------------------------------------------------------------- */
/* backward                                                                                   */

/* 2^y for the backward pass only (the forward has no transcendental): 2^n 2^f with n = rint(y)
 * and Cephes' exp2f polynomial for 2^f on [-1/2, 1/2], relative error ~2e-7; callers fold
 * log2(e) into their own multiply (exp(x) = 2^(x log2 e)). */
#define LOG2E 1.44269504088896341f
INLINE vf vexp2(vf y) {
    /* 2^63 caps sigmoid's e so that (1 + e)^2 stays finite for vrecip (its Newton step turns
     * 1/inf into NaN); the surrogates only need exp of large arguments to be "huge" */
    y = vclamp(y, -126.0f, 63.0f);
#if defined(__AVX512F__) && VL == 16
    vf n = (vf)_mm512_roundscale_ps((__m512)y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
    vf n = (y + 12582912.0f) - 12582912.0f; /* round to nearest via 1.5 * 2^23 */
#endif
    vf f = y - n;
    vf p = splat(1.535336188319500e-4f);
    p = vmadd(p, f, splat(1.339887440266574e-3f));
    p = vmadd(p, f, splat(9.618437357674640e-3f));
    p = vmadd(p, f, splat(5.550332471162809e-2f));
    p = vmadd(p, f, splat(2.402264791363012e-1f));
    p = vmadd(p, f, splat(6.931472028550421e-1f));
    p = vmadd(p, f, splat(1.0f));
#if defined(__AVX512F__) && VL == 16
    return (vf)_mm512_scalef_ps((__m512)p, (__m512)n);
#else
    vi bits = (__builtin_convertvector(n, vi) + 127) << 23; /* 2^n */
    return p * (vf)bits;
#endif
}

/* 1 / x for the backward: reciprocal estimate plus one Newton step (~1 ulp) where AVX-512 has
 * it, since a full-width division costs more than the rest of a step. */
INLINE vf vrecip(vf x) {
#if defined(__AVX512F__) && VL == 16
    vf r = (vf)_mm512_rcp14_ps((__m512)x);
    return vmadd(r, vmadd(-x, r, splat(1.0f)), r);
#else
    return 1.0f / x;
#endif
}

/* Surrogate pseudo-derivative at u = h - v_th, the formulas of snnas/spiking/_surrogate.py.
 * k is a per-surrogate constant precomputed in Python (see _fused._surrogate_args). */
INLINE vf surrogate_grad(vf u, const int id, float a, float k) {
    const vf zero = splat(0.0f), one = splat(1.0f);
    vf au = vabs(u);
    switch (id) {
    case 0: { /* sigmoid: a s (1 - s) = a e / (1 + e)^2 with e = exp(-a u) */
        vf e = vexp2(u * (-a * LOG2E));
        vf d = one + e;
        return (e * a) * vrecip(d * d);
    }
    case 1: { /* atan, k = pi a / 2 */
        vf z = u * k;
        return vrecip(one + z * z) * (a * 0.5f);
    }
    case 2: /* piecewise_quadratic */
        return vsel(au > 1.0f / a, zero, a - (a * a) * au);
    case 3: { /* erf, k = a / sqrt(pi) */
        vf z = u * a;
        return vexp2((z * z) * -LOG2E) * k;
    }
    case 4: /* rect */
        return vsel(au < 0.5f / a, splat(a), zero);
    case 5: { /* triangle */
        vf g = (one - au * a) * a;
        return vsel(g > 0.0f, g, zero);
    }
    default: { /* dspike, k = b / (2 tanh(b / 2)); tanh(b|u|) = 1 - 2 / (exp(2 b |u|) + 1) */
        vf e = vexp2(vsel(au > 0.5f, splat(0.5f), au) * (2.0f * a * LOG2E));
        vf t = one - 2.0f * vrecip(e + one);
        return vsel(au > 0.5f, zero, (one - t * t) * k);
    }
    }
}

/* BPTT for one block. carry = dL/dV[t] flowing back from step t+1. Per step:
 *   gH = gS sg + carry dV/dH,  dV/dH = (1 - S) + (vr - H) sg  (hard)  or  1 - vth sg (soft),
 *   the sg terms dropped under detach_reset;  gX = gH dH/dX;  carry = gH dH/dV[t-1]; with
 *   r = dH/dX under decay_input (IF: 0, LIF: 1/tau, PLIF: sigmoid(w)):
 *   gX = decay ? gH r : gH,  carry = gH (1 - r).
 * Only the surrogate is a compile-time case (reset/detach/decay are 0/1 factors), which keeps
 * the build short. PLIF also accumulates dL/dq = sum_t gH dH/dq per element into gq, with
 * V[t-1] rebuilt from H[t-1] (V = v_reset before the first step). */
INLINE void bwd_blk(const float *gs, const float *hin, const float *x, float *gx, float *gq,
                    int64_t T, int64_t N, int64_t n0, const vf *r, float vth_, float vr_,
                    float fdec, float fh, float keep, const int sid, float a, float k,
                    const int plif_q, int nt, const int G) {
    /* G neighbouring blocks at once, as in the forward: G independent carry chains */
    const vf one = splat(1.0f), zero = splat(0.0f), vth = splat(vth_), vr = splat(vr_);
    const vf vre = fh > 0.0f ? vr : zero;
    const float fx = x ? 1.0f : 0.0f;
    const vi dec = (vi){0} - (fdec > 0.0f ? 1 : 0); /* all-ones lanes under decay_input */
    /* dV/dH = (S ? 1 - fh : 1) + sg (A - H B) with A = keep (fh vr - (1 - fh) vth), B = keep fh */
    const vf dv_fire = splat(1.0f - fh), dv_a = splat(keep * (fh * vr_ - (1.0f - fh) * vth_));
    const vf dv_nb = splat(-keep * fh);
    vf carry[BWD_G], acc[BWD_G];
    for (int i = 0; i < G; i++) carry[i] = acc[i] = zero;
    for (int64_t t = T - 1; t >= 0; t--) {
        for (int i = 0; i < G; i++) {
            int64_t o = t * N + n0 + i * VL;
            const float *hb = hin + i * VL * T; /* block i's H, block-major */
            __builtin_prefetch(hb + t * VL + PF, 0, 0); /* blocks advance along n for every t */
            __builtin_prefetch(gs + o + PF, 0, 0);
            vf h = vload(hb + t * VL);
            vf u = h - vth;
            vf sg = surrogate_grad(u, sid, a, k);
            vi fire = u >= zero;
            vf dvdh = vmadd(sg, vmadd(h, dv_nb, dv_a), vsel(fire, dv_fire, one));
            vf gh = vmadd(vload(gs + o), sg, carry[i] * dvdh);
            store_blk(gx + o, vsel(dec, gh * r[i], gh), nt);
            carry[i] = gh * (one - r[i]); /* carry = gH (1 - r) */
            if (plif_q) {
                vf d = zero;
                if (t > 0) {
                    vf hp = vload(hb + (t - 1) * VL);
                    vf sp = (vf)(((hp - vth) >= zero) & (vi)one);
                    vf vp = fh > 0.0f ? sp * vr + (one - sp) * hp : hp - sp * vth;
                    d = vp - vre;
                }
                vf xt = x ? vload(x + o) : zero;
                acc[i] += gh * (xt * fx - d);
            }
        }
    }
    if (plif_q)
        for (int i = 0; i < G; i++) vstore(gq + n0 + i * VL, acc[i]);
}

#define BWD_ARGS gs, hin, x, gx, gq, T, N, n0, r, vth, vr, fdec, fh, keep
#define BWD_SID(Q)                                                                               \
    switch (sid) {                                                                               \
    case 0: bwd_blk(BWD_ARGS, 0, a, k, Q, nt, G); break;                                         \
    case 1: bwd_blk(BWD_ARGS, 1, a, k, Q, nt, G); break;                                         \
    case 2: bwd_blk(BWD_ARGS, 2, a, k, Q, nt, G); break;                                         \
    case 3: bwd_blk(BWD_ARGS, 3, a, k, Q, nt, G); break;                                         \
    case 4: bwd_blk(BWD_ARGS, 4, a, k, Q, nt, G); break;                                         \
    case 5: bwd_blk(BWD_ARGS, 5, a, k, Q, nt, G); break;                                         \
    default: bwd_blk(BWD_ARGS, 6, a, k, Q, nt, G); break;                                        \
    }

INLINE void bwd_any(const float *gs, const float *hin, const float *x, float *gx, float *gq,
                    int64_t T, int64_t N, int64_t n0, const vf *r, float vth, float vr, float fdec,
                    float fh, float keep, int sid, float a, float k, int q, int nt, const int G) {
    if (q) {
        BWD_SID(1)
    } else {
        BWD_SID(0)
    }
}

INLINE vf rate_blk(int mode, const float *coef, int64_t n0, int64_t N, int64_t C,
                          int64_t inner) {
    if (mode == 1) return splat(1.0f) / coef_blk(coef, n0, N, C, inner); /* 1 / tau */
    if (mode == 2) return coef_blk(coef, n0, N, C, inner);                /* sigmoid(w) */
    return splat(0.0f);                                                    /* IF */
}

/* Returns 0, or -1 if the small tail buffers could not be allocated. */
int snnas_lif_backward(const float *gs, const float *hin, const float *x, float *gx, float *gq,
                       int64_t T, int64_t N, int mode, const float *coef, int64_t C, int64_t inner,
                       int decay, float vth, int hard, float vr, int detach, int sid, float a,
                       float k, int nt, int nthreads) {
    int64_t nfull = N / VL, ngrp = nfull / BWD_G, n0 = nfull * VL;
    if (!(mode == 2 && decay)) x = NULL;
    int q = mode == 2 && gq != NULL;
    float fh = hard ? 1.0f : 0.0f, keep = detach ? 0.0f : 1.0f;
    float fdec = (decay && mode != 0) ? 1.0f : 0.0f;
    nt = nt && N % VL == 0 && (uintptr_t)gx % 64 == 0;
#pragma omp parallel num_threads(nthreads)
    {
#pragma omp for schedule(guided, 4)
        for (int64_t g = 0; g < ngrp; g++) {
            int64_t b0 = g * BWD_G;
            vf r[BWD_G];
            for (int i = 0; i < BWD_G; i++) r[i] = rate_blk(mode, coef, (b0 + i) * VL, N, C, inner);
            bwd_any(gs, hin + b0 * VL * T, x, gx, gq, T, N, b0 * VL, r, vth, vr, fdec, fh, keep, sid,
                    a, k, q, nt, BWD_G);
        }
        fence(nt);
    }
    for (int64_t b = ngrp * BWD_G; b < nfull; b++) { /* leftover full blocks */
        vf r = rate_blk(mode, coef, b * VL, N, C, inner);
        bwd_any(gs, hin + b * VL * T, x, gx, gq, T, N, b * VL, &r, vth, vr, fdec, fh, keep, sid, a, k,
                q, 0, 1);
    }
    if (n0 == N) return 0;
    float *gsb = pad_tail(gs, T, N, n0), *xb = pad_tail(x, T, N, n0);
    float *hb = calloc((size_t)(T * VL), sizeof(float));
    if (hb)
        for (int64_t t = 0; t < T; t++)
            memcpy(hb + t * VL, hin + n0 * T + t * (N - n0), (size_t)(N - n0) * sizeof(float));
    float *gxb = calloc((size_t)(T * VL), sizeof(float)), *gqb = calloc(VL, sizeof(float));
    int ok = gsb && hb && (xb || !x) && gxb && gqb;
    if (ok) {
        vf r = rate_blk(mode, coef, n0, N, C, inner);
        bwd_any(gsb, hb, xb, gxb, gqb, T, VL, 0, &r, vth, vr, fdec, fh, keep, sid, a, k, q, 0, 1);
        unpad_tail(gx, gxb, T, N, n0);
        if (q) memcpy(gq + n0, gqb, (size_t)(N - n0) * sizeof(float));
    }
    free(gsb);
    free(hb);
    free(xb);
    free(gxb);
    free(gqb);
    return ok ? 0 : -1;
}

/* Ask Linux to back a large, freshly allocated output with transparent huge pages (where THP is
 * in "madvise" mode). glibc hands out tensors of 32 MB and more as fresh mmaps, so without this
 * every call pays thousands of 4 KiB page faults, which cost more than the kernel itself. */
void snnas_advise_huge(void *p, int64_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), e = ((uintptr_t)p + (uintptr_t)bytes) & ~(page - 1);
    if (e > a) madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

/* Version tag so Python can check it loaded the library it compiled. */
int snnas_lif_abi(void) { return 6; }
