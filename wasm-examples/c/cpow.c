/*
 * cpow(z: c128, n: i64) -> (w: c128, orbit: c128[step=3])
 *
 * w = z^n by repeated multiplication (1 / z^-n for n < 0), and z, z^2, z^3: complex values
 * through the C header's xyz_c128.
 *
 * Written against include/xyz.h alone (with the examples' allocator, example_alloc.h), as
 * collatz.c is. tests/build.rs compiles it to wasm32 and to a native library.
 */
#include "example_alloc.h"

EXPORT uint32_t xyz_abi_version(void) { return XYZ_ABI_VERSION; }

EXPORT const char *xyz_signature(void) {
    return "cpow(z: c128, n: i64) -> (w: c128, orbit: c128[step=3])";
}

static xyz_c128 mul(xyz_c128 a, xyz_c128 b) {
    xyz_c128 p = {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
    return p;
}

EXPORT int32_t xyz_eval(xyz_call *call) {
    if (!call || !call->args || !call->outputs || !call->status) {
        return XYZ_EVAL_BAD_CALL;
    }
    const xyz_c128 *z = (const xyz_c128 *)call->args[0].data;
    const int64_t *n = (const int64_t *)call->args[1].data;
    xyz_c128 *w = (xyz_c128 *)call->outputs[0].data;
    xyz_c128 *orbit = (xyz_c128 *)call->outputs[1].data;
    for (size_t i = 0; i < call->n; i++) {
        xyz_c128 p = z[i];
        for (int k = 0; k < 3; k++) {
            orbit[3 * i + k] = p;
            p = mul(p, z[i]);
        }
        xyz_c128 acc = {1.0, 0.0};
        int64_t m = n[i] < 0 ? -n[i] : n[i];
        for (int64_t k = 0; k < m; k++) {
            acc = mul(acc, z[i]);
        }
        if (n[i] < 0) {
            double d = acc.re * acc.re + acc.im * acc.im;
            xyz_c128 inv = {acc.re / d, -acc.im / d};
            acc = inv;
        }
        w[i] = acc;
        call->status[i] = XYZ_STATUS_OK;
    }
    return XYZ_EVAL_OK;
}
