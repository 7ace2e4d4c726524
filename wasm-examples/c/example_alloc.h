/*
 * xyz_alloc and xyz_free for the C examples, and EXPORT and THREAD_LOCAL for the rest of each.
 *
 * In a wasm32 module (freestanding: no libc) a bump allocator over a static arena; one call at
 * a time reaches an instance, so memory kept between calls can be static. In a native library,
 * malloc and free; hosts call from several threads at once, so such memory is per thread.
 */
#ifndef XYZ_EXAMPLE_ALLOC_H
#define XYZ_EXAMPLE_ALLOC_H

#include "xyz.h"

#define EXPORT __attribute__((visibility("default")))

#if defined(__wasm32__)
#define ARENA_SIZE (8u << 20)
static _Alignas(16) unsigned char arena[ARENA_SIZE];
static size_t top;

EXPORT void *xyz_alloc(size_t size, size_t align) {
    size_t at = (top + align - 1) & ~(align - 1);
    if (at > ARENA_SIZE || size > ARENA_SIZE - at) {
        return 0;
    }
    top = at + size;
    return arena + at;
}

/* Memory comes back only when it is the last block handed out. */
EXPORT void xyz_free(void *ptr, size_t size, size_t align) {
    (void)align;
    if ((unsigned char *)ptr + size == arena + top) {
        top = (size_t)((unsigned char *)ptr - arena);
    }
}

#define THREAD_LOCAL
#else
#include <stdlib.h>

EXPORT void *xyz_alloc(size_t size, size_t align) {
    void *p = 0;
    if (align < sizeof(void *)) {
        align = sizeof(void *);
    }
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : 0;
}

EXPORT void xyz_free(void *ptr, size_t size, size_t align) {
    (void)size;
    (void)align;
    free(ptr);
}

#define THREAD_LOCAL _Thread_local
#endif

#endif /* XYZ_EXAMPLE_ALLOC_H */
