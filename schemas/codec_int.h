/* codec_int.h - codec internals reached by tests, the fuzz target and benchmarks. */
#ifndef RW_CODEC_INT_H
#define RW_CODEC_INT_H

#include <stdint.h>
#include "schemas/codec.h"

/*
 * rw_codec_decode() has two paths with the same results. The general one
 * bounds-checks the body, decodes it with avro-c's resolved writer into the
 * reader schema and copies the fields out. The direct one decodes the body
 * straight into the struct; it is taken when the writer resolves to the
 * reader by a plain field mapping (the reader itself, or a writer that only
 * adds or drops fields) and falls back to the general path on anything it
 * does not accept, so failures always come from the general path.
 *
 * RW_CODEC_DECODE=avro in the environment of rw_codec_new() turns the direct
 * path off for that codec.
 */

/* Turn the direct path on (the default) or off for codec. */
void rw_codec_set_direct(rw_codec_t *codec, int on);

/* How many records codec has decoded by the direct path. */
uint64_t rw_codec_direct_decodes(const rw_codec_t *codec);

#endif
