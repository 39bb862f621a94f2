// The native tests' shared checks: CHECK records a failure with its place and message and
// lets the test go on (so one run reports every broken case); code_of returns the
// kotaro::Error code a call throws. Each test's main returns `failures ? 1 : 0`.
#pragma once
#include <cstdio>

#include "kotaro/error.h"

static int failures = 0;

#define CHECK(cond, ...)                               \
  do {                                                 \
    if (!(cond)) {                                     \
      ++failures;                                      \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                        \
      std::printf("\n");                               \
    }                                                  \
  } while (0)

// The code of the kotaro::Error that f() throws; Internal when it throws none.
template <class F>
static kotaro::ErrorCode code_of(F&& f) {
  try {
    f();
  } catch (const kotaro::Error& e) {
    return e.code();
  }
  return kotaro::ErrorCode::Internal;  // "did not throw"
}
