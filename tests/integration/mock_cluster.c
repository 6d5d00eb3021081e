/* mock_cluster.c - librdkafka's mock cluster as a process of its own, for
 * shell tests that need a broker they can take down and bring back (the
 * shared test broker must not be stopped). Its brokers listen on loopback
 * TCP ports, so any Kafka client (riskwatch run, gen) can use it.
 *
 * usage: mock_cluster BROKERS TOPIC:PARTITIONS...
 * Prints "bootstrap HOST:PORT,..." on stdout once the topics exist, then
 * reads commands on stdin, one a line, answering each with "ok CMD":
 *   down   every broker disconnects its clients and refuses new connections
 *   up     every broker accepts connections again
 * End of input stops it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

int main(int argc, char **argv) {
        char errstr[512], line[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_mock_cluster_t *mc;
        rd_kafka_t *rk;
        int brokers = argc > 1 ? atoi(argv[1]) : 0;

        if (argc < 3 || brokers < 1) {
                fprintf(stderr, "usage: mock_cluster BROKERS TOPIC:PARTITIONS...\n");
                return 2;
        }
        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)))) {
                fprintf(stderr, "mock_cluster: %s\n", errstr);
                return 1;
        }
        if (!(mc = rd_kafka_mock_cluster_new(rk, brokers))) {
                fprintf(stderr, "mock_cluster: cannot create the mock cluster\n");
                rd_kafka_destroy(rk);
                return 1;
        }
        for (int i = 2; i < argc; i++) {
                char *colon = strrchr(argv[i], ':');
                int parts = colon ? atoi(colon + 1) : 0;
                if (!colon || parts < 1) {
                        fprintf(stderr, "mock_cluster: %s: expected TOPIC:PARTITIONS\n", argv[i]);
                        return 2;
                }
                *colon = '\0';
                if (rd_kafka_mock_topic_create(mc, argv[i], parts, 1)) {
                        fprintf(stderr, "mock_cluster: cannot create topic %s\n", argv[i]);
                        return 1;
                }
        }
        printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);
        while (fgets(line, sizeof(line), stdin)) {
                int down;
                line[strcspn(line, "\r\n")] = '\0';
                if (!strcmp(line, "down"))
                        down = 1;
                else if (!strcmp(line, "up"))
                        down = 0;
                else {
                        printf("unknown %s\n", line);
                        fflush(stdout);
                        continue;
                }
                for (int b = 1; b <= brokers; b++) {
                        if (down)
                                rd_kafka_mock_broker_set_down(mc, b);
                        else
                                rd_kafka_mock_broker_set_up(mc, b);
                }
                printf("ok %s\n", line);
                fflush(stdout);
        }
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 0;
}
