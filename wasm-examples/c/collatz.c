/*
 * collatz(n: i64) -> (steps: i64, peak: i64, odd: bool)
 *
 * How many steps of n -> n / 2 (n even) or 3n + 1 (n odd) reach 1, the largest value on the
 * way, and whether n is odd. n < 1 fails that case with a message.
 *
 * Written against include/xyz.h alone (with the examples' allocator, example_alloc.h). The
 * project's build compiles it with clang to a wasm32 module (freestanding: no libc) and to a
 * native shared library; tests/build.rs runs both.
 */
#include "example_alloc.h"

static const char MESSAGE[] = "n must be at least 1";
#define MESSAGE_LEN (sizeof MESSAGE - 1)

/* The error column of the last call on this thread, freed at the next. */
static THREAD_LOCAL unsigned char *errors;
static THREAD_LOCAL size_t errors_size;

EXPORT uint32_t xyz_abi_version(void) { return XYZ_ABI_VERSION; }

EXPORT const char *xyz_signature(void) {
    return "collatz(n: i64) -> (steps: i64, peak: i64, odd: bool)";
}

EXPORT int32_t xyz_eval(xyz_call *call) {
    if (!call || !call->args || !call->outputs || !call->status) {
        return XYZ_EVAL_BAD_CALL;
    }
    if (errors) {
        xyz_free(errors, errors_size, 4);
        errors = 0;
    }
    const int64_t *n = (const int64_t *)call->args[0].data;
    int64_t *steps = (int64_t *)call->outputs[0].data;
    int64_t *peak = (int64_t *)call->outputs[1].data;
    uint8_t *odd = (uint8_t *)call->outputs[2].data;
    size_t failed = 0;
    for (size_t i = 0; i < call->n; i++) {
        int64_t v = n[i];
        if (v < 1) {
            call->status[i] = XYZ_STATUS_ERROR;
            failed++;
            continue;
        }
        int64_t s = 0, top_value = v;
        odd[i] = (uint8_t)(v & 1);
        while (v != 1) {
            v = (v & 1) ? 3 * v + 1 : v / 2;
            top_value = v > top_value ? v : top_value;
            s++;
        }
        steps[i] = s;
        peak[i] = top_value;
        call->status[i] = XYZ_STATUS_OK;
    }
    if (failed == 0) {
        return XYZ_EVAL_OK;
    }
    /* The messages end to end, then n + 1 offsets into them. */
    size_t bytes = failed * MESSAGE_LEN;
    size_t offsets_at = (bytes + 3) & ~(size_t)3;
    errors_size = offsets_at + 4 * (call->n + 1);
    errors = xyz_alloc(errors_size, 4);
    if (!errors) {
        return XYZ_EVAL_BAD_CALL;
    }
    uint32_t *offsets = (uint32_t *)(errors + offsets_at);
    uint32_t at = 0;
    offsets[0] = 0;
    for (size_t i = 0; i < call->n; i++) {
        if (call->status[i] == XYZ_STATUS_ERROR) {
            for (size_t k = 0; k < MESSAGE_LEN; k++) {
                errors[at + k] = (unsigned char)MESSAGE[k];
            }
            at += (uint32_t)MESSAGE_LEN;
        }
        offsets[i + 1] = at;
    }
    call->errors.data = errors;
    call->errors.len = at;
    call->errors.offsets = offsets;
    return XYZ_EVAL_OK;
}
