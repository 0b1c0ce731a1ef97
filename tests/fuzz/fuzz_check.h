#ifndef TRUNKROUTE_TESTS_FUZZ_FUZZ_CHECK_H_
#define TRUNKROUTE_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

// A property a fuzz target asserts: report it and abort, so libFuzzer keeps the input as a crash
// and the corpus replay fails. (Not assert(): it must hold in release builds too.)
#define FUZZ_CHECK(cond)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                             \
    }                                                                           \
  } while (0)

#endif  // TRUNKROUTE_TESTS_FUZZ_FUZZ_CHECK_H_
