/* history.h - Kafka out: a generated event history onto the input topics. */
#ifndef RW_HISTORY_H
#define RW_HISTORY_H

#include "common/conf.h"
#include "gen/gen.h"
#include "schemas/codec.h"

/* Produce every remaining event of `gen` to topics.orders / topics.support,
 * framed Avro, keyed by account id, with the event time as the Kafka
 * timestamp, and wait for all acknowledgements. *cntp receives the number of
 * events produced (also on failure). RW_OK, or an error with errstr. */
rw_err_t rw_history_produce(const rw_conf_t *conf, rw_codec_t *codec,
                            rw_gen_t *gen, int64_t *cntp,
                            char *errstr, size_t errstr_size);

#endif
