/*
 * libc(x, n) -> (g, med, spread): C with the C library, built with wasi-libc for WebAssembly and
 * with glibc as a native library, to show that the same code gives the same values in both.
 *
 *   g      = lgamma(x)
 *   med    = the median of sin(x * k) + exp(-k) for k = 1..n, sorted by qsort in malloc'd memory
 *   spread = its range, formatted with snprintf and read back with strtod
 *
 * n < 1 fails the case, saying why on stderr first; n = -3 ends the module with exit(3).
 */
#include "xyz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

EXPORT uint32_t xyz_abi_version(void) { return XYZ_ABI_VERSION; }

EXPORT const char *xyz_signature(void) {
    return "libc(x: f64, n: i64) -> (g: f64, med: f64, spread: f64)";
}

EXPORT void *xyz_alloc(size_t size, size_t align) {
    (void)align;
    return malloc(size ? size : 1);
}

EXPORT void xyz_free(void *ptr, size_t size, size_t align) {
    (void)size;
    (void)align;
    free(ptr);
}

/* The failure messages of the last call, as the errors column wants them. */
static char *messages;
static uint32_t *offsets;

EXPORT int32_t xyz_eval(xyz_call *call) {
    const double *x = (const double *)call->args[0].data;
    const int64_t *n = (const int64_t *)call->args[1].data;
    double *g = (double *)call->outputs[0].data;
    double *med = (double *)call->outputs[1].data;
    double *spread = (double *)call->outputs[2].data;
    free(messages);
    free(offsets);
    messages = malloc(64 * call->n + 1);
    offsets = malloc(sizeof(uint32_t) * (call->n + 1));
    if (!messages || !offsets) {
        return XYZ_EVAL_BAD_CALL;
    }
    size_t len = 0;
    for (size_t i = 0; i < call->n; i++) {
        offsets[i] = (uint32_t)len;
        if (n[i] == -3) {
            printf("giving up on x = %g\n", x[i]);
            exit(3);
        }
        if (n[i] < 1) {
            fprintf(stderr, "libc: n = %lld is too small\n", (long long)n[i]);
            len += (size_t)snprintf(messages + len, 64, "n must be at least 1");
            call->status[i] = XYZ_STATUS_ERROR;
            g[i] = med[i] = spread[i] = 0.0;
            continue;
        }
        double *v = malloc(sizeof(double) * (size_t)n[i]);
        if (!v) {
            return XYZ_EVAL_BAD_CALL;
        }
        for (int64_t k = 0; k < n[i]; k++) {
            v[k] = sin(x[i] * (double)(k + 1)) + exp(-(double)k);
        }
        qsort(v, (size_t)n[i], sizeof(double), by_value);
        char text[64];
        snprintf(text, sizeof text, "%.17g", v[n[i] - 1] - v[0]);
        printf("libc(%g, %lld): %s\n", x[i], (long long)n[i], text);
        g[i] = lgamma(x[i]);
        med[i] = v[n[i] / 2];
        spread[i] = strtod(text, NULL);
        free(v);
        call->status[i] = XYZ_STATUS_OK;
    }
    offsets[call->n] = (uint32_t)len;
    call->errors.data = messages;
    call->errors.len = len;
    call->errors.offsets = offsets;
    return XYZ_EVAL_OK;
}
