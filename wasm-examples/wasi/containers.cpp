// containers(n) -> (mid, digits): C++ with its standard library (vector, sort, map, string),
// built with libc++ for WASI.
#include "xyz.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

extern "C" {

uint32_t xyz_abi_version(void) { return XYZ_ABI_VERSION; }

const char *xyz_signature(void) { return "containers(n: i64) -> (mid: i64, digits: i64)"; }

void *xyz_alloc(size_t size, size_t align) {
    (void)align;
    return std::malloc(size ? size : 1);
}

void xyz_free(void *ptr, size_t size, size_t align) {
    (void)size;
    (void)align;
    std::free(ptr);
}

int32_t xyz_eval(xyz_call *call) {
    const int64_t *n = static_cast<const int64_t *>(call->args[0].data);
    int64_t *mid = static_cast<int64_t *>(call->outputs[0].data);
    int64_t *digits = static_cast<int64_t *>(call->outputs[1].data);
    for (size_t i = 0; i < call->n; i++) {
        std::vector<int64_t> v;
        for (int64_t k = 0; k < n[i]; k++) {
            v.push_back((k * 7919) % (n[i] + 3));
        }
        std::sort(v.begin(), v.end());
        std::map<std::string, int> seen;
        for (int64_t x : v) {
            seen[std::to_string(x % 10)]++;
        }
        mid[i] = v.empty() ? -1 : v[v.size() / 2];
        digits[i] = static_cast<int64_t>(seen.size());
        call->status[i] = XYZ_STATUS_OK;
    }
    return XYZ_EVAL_OK;
}
}
