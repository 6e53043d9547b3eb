/* fuzz_macho_archive.c: libFuzzer target for the MACHO archive tile-file parser (39 ';'-separated
 * fields per line, ARCHIVE_FORMAT.txt) and the format detection of lcfm_parse_macho: the input is
 * a whole file as the archive serves it (after gunzip). */
#include <stddef.h>
#include <stdint.h>

#include "macho_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_parse_macho((const char *)data, size);
  return 0;
}
