/* fuzz_macho_csv.c: libFuzzer target for the MACHO photometry-service CSV parser
 * (lcfm_parse_macho). The input is the body of a CSV file; the service header is put in front
 * unless the input starts with it, so every input reaches the row parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macho_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char header[] =
    "classification,fieldid,tileid,seqn,obsid,dateobs,rmag,rerr,bmag,berr\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t prefix = sizeof header - 1;
  if (size >= prefix - 1 && !memcmp(data, header, prefix - 1)) prefix = 0;
  char *text = malloc(prefix + size + 1);
  memcpy(text, header, prefix);
  if (size) memcpy(text + prefix, data, size);
  fuzz_parse_macho(text, prefix + size);
  free(text);
  return 0;
}
