/* cli_codec.c - the codec every command builds from its configuration: the
 * catalogue, the schema registry when one is configured, registration of
 * what a command writes, and a decode that waits out a registry outage. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "app/cli.h"
#include "common/log.h"
#include "schemas/codec.h"
#include "schemas/registry.h"

rw_codec_t *rw_cli_codec_new(const rw_conf_t *conf, rw_registry_t **regp,
                             char *errstr, size_t errstr_size) {
        const char *url = rw_conf_get_str(conf, "schema.registry.url");
        char dirbuf[1024];
        rw_codec_t *codec;

        *regp = NULL;
        if (!(codec = rw_codec_new(rw_schemas_dir(rw_conf_get_str(conf, "schemas.dir"),
                                                  dirbuf, sizeof(dirbuf)),
                                   errstr, errstr_size)))
                return NULL;
        if (*url) {
                if (!(*regp = rw_registry_new(url,
                                              rw_conf_get_int(conf, "schema.registry.timeout"),
                                              errstr, errstr_size))) {
                        rw_codec_destroy(codec);
                        return NULL;
                }
                rw_codec_set_registry(codec, *regp);
        }
        return codec;
}

rw_err_t rw_cli_register(rw_codec_t *codec, rw_registry_t *reg, int type,
                         const char *topic, char *errstr, size_t errstr_size) {
        char subject[300], why[512];
        int32_t id = -1;
        rw_err_t err;

        if (!reg)
                return RW_OK;
        snprintf(subject, sizeof(subject), "%s-value", topic);
        if ((err = rw_registry_register(reg, subject,
                                        rw_codec_reader_json(codec, (rw_record_type_t)type),
                                        &id, why, sizeof(why)))) {
                snprintf(errstr, errstr_size, "schema registry: registering %s: %s",
                         subject, why);
                return err;
        }
        rw_codec_set_writer_id(codec, (rw_record_type_t)type, id);
        rw_log_info("schema registry %s: %s framed with schema id %d (subject %s)",
                    rw_registry_url(reg), topic, (int)id, subject);
        return RW_OK;
}

int rw_cli_decode(rw_codec_t *codec, int type, const void *buf, size_t len,
                  rw_record_t *rec, char *errstr, size_t errstr_size) {
        const unsigned char *p = buf;
        int32_t id = -1;
        int backoff = 500;
        rw_codec_status_t st;

        if (p && len >= 5 && p[0] == 0)
                id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                               (uint32_t)p[3] << 8 | p[4]);
        for (;;) {
                int t = type;

                /* By the frame's id: a known id names its type; an unknown
                 * one is tried as an order, which fetches it from a registry
                 * (then tried again as what it is) or gets the decoder's
                 * verdict (bad_magic, unknown_schema, ...). */
                if (t < 0)
                        t = id >= 0 && rw_codec_schema_type(codec, id) >= 0 ?
                                    rw_codec_schema_type(codec, id) : RW_REC_ORDER;
                st = rw_codec_decode(codec, (rw_record_type_t)t, buf, len, rec, errstr,
                                     errstr_size);
                if (st == RW_CODEC_UNKNOWN_SCHEMA && type < 0 && id >= 0 &&
                    rw_codec_schema_type(codec, id) >= 0 && rw_codec_schema_type(codec, id) != t)
                        continue;
                if (st != RW_CODEC_RETRY)
                        return st;
                /* No answer from the registry: not a verdict on the record. */
                rw_log_warn("schema registry unreachable: %s; retrying in %d ms", errstr,
                            backoff);
                for (int waited = 0; waited < backoff && !rw_cli_stop; waited += 50)
                        usleep(50 * 1000);
                if (rw_cli_stop)
                        return st;
                backoff = backoff < 5000 ? backoff * 2 : 10000;
        }
}
