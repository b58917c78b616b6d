/* Fused element-wise passes over the float32 relation tiles of the CIRKD losses.
 *
 * Built and loaded at run time by mcl_mm/models/losses/native.py (a plain C shared library
 * called through ctypes, which releases the GIL: the loss kernels' worker threads run these
 * in parallel). Without a C compiler the losses run the same passes as torch operations.
 *
 * A tile holds raw dot products x = <a_g, a_k> (rows g, columns k, row stride ld); its
 * columns are nseg segments of seg columns each (one segment per image of the columns).
 * Every entry is turned into the shifted logit x / tau - 1 / tau (in [-2/tau, 0] for unit
 * vectors) and its exponential, in one pass, instead of the six passes (bias copy, GEMM
 * output, difference, exp, product, sums) of the torch operations.
 *
 * The exponential (vexp: reduction by ln 2, degree-6 polynomial, under 1 ulp) is written on
 * GCC vector extensions: AVX2 + FMA code where the library is built with those flags, SSE2
 * otherwise.
 */
#include <stdint.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
/* unaligned access to 8 floats of a tile */
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));

#define SPLAT(x) ((v8f){(x), (x), (x), (x), (x), (x), (x), (x)})

/* the first n (1..8) floats at p; the lanes past n are 0 */
static inline v8f load8(const float *p, int64_t n) {
    if (n == 8)
        return *(const v8u *)p;
    v8f v = SPLAT(0.0f);
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}

static inline void store8(float *p, v8f v, int64_t n) {
    if (n == 8)
        *(v8u *)p = v;
    else
        memcpy(p, &v, (size_t)n * sizeof(float));
}

static inline float hsum(v8f v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

static inline v8f vmax(v8f a, v8f b) {
#ifdef __AVX__
    return __builtin_ia32_maxps256(a, b);
#else
    v8i m = a < b;
    return (v8f)(((v8i)a & ~m) | ((v8i)b & m));
#endif
}

static inline v8f vmin(v8f a, v8f b) {
#ifdef __AVX__
    return __builtin_ia32_minps256(a, b);
#else
    v8i m = a > b;
    return (v8f)(((v8i)a & ~m) | ((v8i)b & m));
#endif
}

/* exp(x), x clamped to [-87.3, 88] (callers stay above -80, see _MAX_LOGIT_RANGE in
 * cirkd_loss.py). x = n ln2 + r, |r| <= ln2 / 2: n rounded to nearest by adding 1.5 * 2^23
 * (n then sits in the low mantissa bits, from which 2^n is built with one add and one shift),
 * r by Cody-Waite (ln 2 in two parts, Cephes' constants), e^r = 1 + r + r^2 P(r) with P of
 * degree 4 fitted for relative error (3.1e-9 in exact arithmetic; 8.5e-8 = 0.72 ulp measured
 * against double exp over every float in [-87.3, 88] with AVX2 + FMA; 0.68 ulp on a grid of
 * step 3e-5 without). */
static inline v8f vexp(v8f x) {
    const v8f shifter = SPLAT(12582912.0f);
    x = vmin(vmax(x, SPLAT(-87.3f)), SPLAT(88.0f));
    v8f t = x * SPLAT(1.44269504088896341f) + shifter;
    v8f n = t - shifter;
    v8f r = x - n * SPLAT(0.693359375f);
    r = r - n * SPLAT(-2.12194440e-4f);
    v8f p = SPLAT(1.38146128e-3f);
    p = p * r + SPLAT(8.36871006e-3f);
    p = p * r + SPLAT(4.16683890e-2f);
    p = p * r + SPLAT(1.66665211e-1f);
    p = p * r + SPLAT(4.99999940e-1f);
    v8f y = (r * r) * p + r + SPLAT(1.0f);
    return y * (v8f)(((v8i)t + 127) << 23);
}

/* Softmax statistics of a student tile S and a teacher tile T, both (r, c).
 *
 * With s = S / tau - 1 / tau, t = T / tau - 1 / tau:
 *   row_out[q, m, g] = sum over the columns k of segment m of  e_q[g, k]   (3, nseg, r)
 *   col_out[q, k]    = sum over the rows g of                  e_q[g, k]   (3, c)
 * for e_0 = exp(s), e_1 = exp(t), e_2 = exp(t) (t - s). Both outputs are overwritten.
 */
void relation_tile_stats(const float *S, const float *T, int64_t r, int64_t c, int64_t ld,
                         int64_t seg, float inv_tau, float *row_out, float *col_out) {
    const int64_t nseg = c / seg;
    const v8f a = SPLAT(inv_tau), b = SPLAT(-inv_tau);
    memset(col_out, 0, (size_t)(3 * c) * sizeof(float));
    for (int64_t g = 0; g < r; ++g) {
        const float *srow = S + g * ld, *trow = T + g * ld;
        for (int64_t m = 0; m < nseg; ++m) {
            v8f rs = SPLAT(0.0f), rt = rs, rd = rs;
            for (int64_t k = m * seg, end = (m + 1) * seg; k < end; k += 8) {
                const int64_t n = end - k < 8 ? end - k : 8;
                v8f s = load8(srow + k, n) * a + b;
                v8f t = load8(trow + k, n) * a + b;
                v8f es = vexp(s), et = vexp(t);
                v8f d = et * (t - s);
                if (n < 8) { /* lanes past the segment add nothing */
                    v8i keep = (v8i){0, 1, 2, 3, 4, 5, 6, 7} < (int32_t)n;
                    es = (v8f)((v8i)es & keep);
                    et = (v8f)((v8i)et & keep);
                    d = (v8f)((v8i)d & keep);
                }
                rs += es;
                rt += et;
                rd += d;
                store8(col_out + k, load8(col_out + k, n) + es, n);
                store8(col_out + c + k, load8(col_out + c + k, n) + et, n);
                store8(col_out + 2 * c + k, load8(col_out + 2 * c + k, n) + d, n);
            }
            row_out[m * r + g] = hsum(rs);
            row_out[(nseg + m) * r + g] = hsum(rt);
            row_out[(2 * nseg + m) * r + g] = hsum(rd);
        }
    }
}

/* The gradient weights of a tile, into S:
 *   S[g, k] <- exp(s) (u_row[0, m(k), g] + u_col[0, k]) - exp(t) (u_row[1, m(k), g] + u_col[1, k])
 * with s, t as above, m(k) the segment of column k, u_row (2, nseg, r) and u_col (2, c).
 */
void relation_tile_weights(float *S, const float *T, int64_t r, int64_t c, int64_t ld,
                           int64_t seg, float inv_tau, const float *u_row, const float *u_col) {
    const int64_t nseg = c / seg;
    const v8f a = SPLAT(inv_tau), b = SPLAT(-inv_tau);
    for (int64_t g = 0; g < r; ++g) {
        float *srow = S + g * ld;
        const float *trow = T + g * ld;
        for (int64_t m = 0; m < nseg; ++m) {
            const v8f us = SPLAT(u_row[m * r + g]), ut = SPLAT(u_row[(nseg + m) * r + g]);
            for (int64_t k = m * seg, end = (m + 1) * seg; k < end; k += 8) {
                const int64_t n = end - k < 8 ? end - k : 8;
                v8f es = vexp(load8(srow + k, n) * a + b);
                v8f et = vexp(load8(trow + k, n) * a + b);
                v8f h = es * (us + load8(u_col + k, n)) - et * (ut + load8(u_col + c + k, n));
                store8(srow + k, h, n);
            }
        }
    }
}
