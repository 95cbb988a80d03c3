// The fuzz targets' invariant check: prints what failed and aborts, so that libFuzzer (or the
// replay test) reports the input.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace vsw::fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, what);
  std::abort();
}

#define VSW_FUZZ_CHECK(cond)                                   \
  do {                                                         \
    if (!(cond)) ::vsw::fuzz::fail(__FILE__, __LINE__, #cond); \
  } while (0)

}  // namespace vsw::fuzz
