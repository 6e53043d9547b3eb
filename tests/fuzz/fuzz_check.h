/* fuzz_check.h: what every fuzz target asserts beyond "no crash". A broken invariant prints the
 * reason and aborts, which libFuzzer (and the replay program under ctest) reports as a finding.
 * The reason goes to stdout: the job target runs with -close_fd_mask=2 (the parser's messages for
 * bad jobs go to stderr, thousands per second). */
#ifndef LCFM_FUZZ_CHECK_H
#define LCFM_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_REQUIRE(cond, ...) \
  do { \
    if (!(cond)) { \
      printf("fuzz invariant broken at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      printf(__VA_ARGS__); \
      printf("\n"); \
      fflush(stdout); \
      abort(); \
    } \
  } while (0)

#endif
