/*
 * sandbox(k) -> (draw, ticks, opened, env): what a module sees of the world under WASI.
 *
 *   draw   = a 63-bit number from getentropy (WASI random_get)
 *   ticks  = nanoseconds between two readings of CLOCK_MONOTONIC around k iterations of work
 *   opened = whether fopen("/etc/hostname") succeeded (there are no files to open)
 *   env    = how many environment variables the module sees
 *
 * Every value is the same for a case on every run: the randomness is seeded per case and the
 * clocks advance by a fixed step a reading.
 */
#include "xyz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

extern char **environ;

/* Where the work between the clock readings goes, so it is done. */
static volatile uint64_t sink;

EXPORT uint32_t xyz_abi_version(void) { return XYZ_ABI_VERSION; }

EXPORT const char *xyz_signature(void) {
    return "sandbox(k: i64) -> (draw: i64, ticks: i64, opened: bool, env: i64)";
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

static int64_t now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

EXPORT int32_t xyz_eval(xyz_call *call) {
    const int64_t *k = (const int64_t *)call->args[0].data;
    int64_t *draw = (int64_t *)call->outputs[0].data;
    int64_t *ticks = (int64_t *)call->outputs[1].data;
    uint8_t *opened = (uint8_t *)call->outputs[2].data;
    int64_t *env = (int64_t *)call->outputs[3].data;
    for (size_t i = 0; i < call->n; i++) {
        uint64_t r = 0;
        if (getentropy(&r, sizeof r) != 0) {
            return XYZ_EVAL_BAD_CALL;
        }
        int64_t start = now();
        for (int64_t j = 0; j < k[i]; j++) {
            sink += (uint64_t)j * r;
        }
        ticks[i] = now() - start;
        draw[i] = (int64_t)(r >> 1);
        FILE *f = fopen("/etc/hostname", "r");
        opened[i] = f != NULL;
        if (f) {
            fclose(f);
        }
        int64_t count = 0;
        for (char **e = environ; e && *e; e++) {
            count++;
        }
        env[i] = count;
        call->status[i] = XYZ_STATUS_OK;
    }
    return XYZ_EVAL_OK;
}
