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
 * The exponential is Cephes' expf (range reduction by ln 2, degree-6 polynomial, about
 * 1 ulp), written on GCC vector extensions: AVX2 + FMA code where the library is built with
 * those flags, SSE2 otherwise.
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

/* exp(x) for x in [-87.3, 88.7] (smaller x give exp(-87.3) ~ 1.2e-38; callers stay above
 * -80, see _MAX_LOGIT_RANGE in cirkd_loss.py) */
static inline v8f vexp(v8f x) {
    const v8f lo = SPLAT(-87.3f), hi = SPLAT(88.7f);
    v8i m = x < lo;
    x = (v8f)(((v8i)x & ~m) | ((v8i)lo & m));
    m = x > hi;
    x = (v8f)(((v8i)x & ~m) | ((v8i)hi & m));
    v8f fx = x * SPLAT(1.44269504088896341f) + SPLAT(0.5f);
    v8f f = __builtin_convertvector(__builtin_convertvector(fx, v8i), v8f);
    f -= (v8f)((v8i)SPLAT(1.0f) & (f > fx)); /* floor */
    x -= f * SPLAT(0.693359375f);
    x -= f * SPLAT(-2.12194440e-4f);
    v8f y = SPLAT(1.9875691500e-4f);
    y = y * x + SPLAT(1.3981999507e-3f);
    y = y * x + SPLAT(8.3334519073e-3f);
    y = y * x + SPLAT(4.1665795894e-2f);
    y = y * x + SPLAT(1.6666665459e-1f);
    y = y * x + SPLAT(5.0000001201e-1f);
    y = y * (x * x) + x + SPLAT(1.0f);
    v8i n = (__builtin_convertvector(f, v8i) + 127) << 23;
    return y * (v8f)n;
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
