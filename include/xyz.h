/*
 * xyz.h: the xyz function ABI, version 1, for authors in C and other languages.
 *
 * A module (wasm32) or shared library exports the five functions declared below. The host
 * reads the ABI version and the signature, then evaluates chunks of cases with xyz_eval:
 * one column per argument in, one column per output out, a status byte per case. See
 * docs/ABI.md for the full contract.
 *
 * Minimal example, a function double(x: f64) -> (y: f64):
 *
 *     #include "xyz.h"
 *     #include <stdlib.h>
 *
 *     uint32_t xyz_abi_version(void) { return XYZ_ABI_VERSION; }
 *     const char *xyz_signature(void) { return "double(x: f64) -> (y: f64)"; }
 *     void *xyz_alloc(size_t size, size_t align) { (void)align; return malloc(size); }
 *     void xyz_free(void *p, size_t size, size_t align) { (void)size; (void)align; free(p); }
 *     int32_t xyz_eval(xyz_call *call) {
 *         const double *x = (const double *)call->args[0].data;
 *         double *y = (double *)call->outputs[0].data;
 *         for (size_t i = 0; i < call->n; i++) { y[i] = 2.0 * x[i]; call->status[i] = XYZ_STATUS_OK; }
 *         return XYZ_EVAL_OK;
 *     }
 *
 * A wasm32 module may import one host function, xyz.panic (below), and the functions of WASI
 * preview 1 (wasi_snapshot_preview1: a module built with wasi-libc, for example
 *     clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 f.c -o f.wasm -lm
 * with Debian's wasi-libc); it must import nothing else, and must export its linear memory as
 * "memory".
 */
#ifndef XYZ_H
#define XYZ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. */
#define XYZ_ABI_VERSION 1u

/* Per-case status, written by xyz_eval into call->status. */
#define XYZ_STATUS_OK 0u
#define XYZ_STATUS_ERROR 1u

/* Return values of xyz_eval. */
#define XYZ_EVAL_OK 0
#define XYZ_EVAL_BAD_CALL 1

/*
 * A column of values for the n cases of a call.
 *   i64, f64: data holds n (times elements per case, for array outputs) 8-byte little-endian
 *             values; offsets is NULL.
 *   c128:     as f64, with 16-byte values: an xyz_c128 each (real part, then imaginary part).
 *   bool:     data holds n bytes, 0 or 1; offsets is NULL.
 *   str:      data holds the UTF-8 bytes of n strings back to back; offsets holds n + 1
 *             byte offsets into data (offsets[0] = 0, offsets[n] = len).
 * len is the number of bytes at data.
 */
/*
 * A c128 value: a complex number with the layout of C99's double _Complex, C++'s
 * std::complex<double> and numpy's complex128, so a column's data may be read as any of them.
 */
typedef struct xyz_c128 {
    double re;
    double im;
} xyz_c128;

typedef struct xyz_column {
    void *data;
    size_t len;
    uint32_t *offsets;
} xyz_column;

/*
 * One call of xyz_eval.
 *   n:       number of cases.
 *   args:    one column per argument of the signature, in order. Host-owned, read-only.
 *   outputs: one column per output, in order. For i64, f64, c128 and bool outputs the host has
 *            allocated data (n * elements values) and the function writes it in place. For
 *            str outputs the function sets data, len and offsets to memory it owns, valid
 *            until its next xyz_eval call on the same thread.
 *   status:  n bytes the function sets to XYZ_STATUS_OK or XYZ_STATUS_ERROR.
 *   errors:  a str column the function sets (memory it owns, as for str outputs) with one
 *            message per case, empty where the case succeeded. May be left zeroed if no case
 *            failed.
 */
typedef struct xyz_call {
    size_t n;
    const xyz_column *args;
    xyz_column *outputs;
    uint8_t *status;
    xyz_column errors;
} xyz_call;

/*
 * In a wasm32 module the five functions below are exported by name whatever the build's
 * visibility and linker flags, so a module built with wasi-libc (a reactor) exports them too.
 */
#if defined(__wasm32__)
#define XYZ_EXPORT(name) __attribute__((export_name(name)))
#else
#define XYZ_EXPORT(name)
#endif

/* Returns XYZ_ABI_VERSION. */
XYZ_EXPORT("xyz_abi_version") uint32_t xyz_abi_version(void);

/*
 * Returns the function's signature, NUL-terminated UTF-8 in static memory, for example
 *   "ramp(a: f64, b: f64) -> (y: f64[t=5])"
 * Grammar: name '(' [arg {',' arg}] ')' '->' '(' out {',' out} ')', arg = name ':' type,
 * out = name ':' type ['[' dim '=' size {',' dim '=' size} ']'],
 * type = i64 | f64 | c128 | bool | str. Only i64, f64 and c128 outputs may have dims.
 */
XYZ_EXPORT("xyz_signature") const char *xyz_signature(void);

/* Allocates size bytes aligned to align for the host's use, or returns NULL. */
XYZ_EXPORT("xyz_alloc") void *xyz_alloc(size_t size, size_t align);

/* Frees memory returned by xyz_alloc(size, align). */
XYZ_EXPORT("xyz_free") void xyz_free(void *ptr, size_t size, size_t align);

/* Evaluates call->n cases. Returns XYZ_EVAL_OK, or XYZ_EVAL_BAD_CALL for a malformed call. */
XYZ_EXPORT("xyz_eval") int32_t xyz_eval(xyz_call *call);

#if defined(__wasm32__)
/*
 * Optional import: tells the host why the module is about to trap (for example a panic
 * message), so the failed case is reported with it. Reads len bytes at msg.
 */
__attribute__((import_module("xyz"), import_name("panic")))
void xyz_host_panic(const char *msg, size_t len);
#endif

#ifdef __cplusplus
}
#endif

#endif /* XYZ_H */
