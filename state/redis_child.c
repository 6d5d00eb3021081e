/* redis_child.c - a private redis-server child on a Unix socket. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include "state/redis_child.h"

rw_err_t rw_redis_child_start(rw_redis_child_t *rc, char *errstr, size_t errstr_size) {
        const char *tmp = getenv("TMPDIR");
        int status;

        memset(rc, 0, sizeof(*rc));
        snprintf(rc->dir, sizeof(rc->dir), "%s/riskwatch-redis-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(rc->dir)) {
                snprintf(errstr, errstr_size, "mkdtemp %s: %s", rc->dir, strerror(errno));
                rc->dir[0] = '\0';
                return RW_ERR_FAIL;
        }
        snprintf(rc->sock, sizeof(rc->sock), "%s/redis.sock", rc->dir);
        snprintf(rc->url, sizeof(rc->url), "unix://%s", rc->sock);

        rc->pid = fork();
        if (rc->pid < 0) {
                snprintf(errstr, errstr_size, "fork: %s", strerror(errno));
                goto fail;
        }
        if (rc->pid == 0) {
                /* Die with the parent, even if it is killed with SIGKILL. */
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                setpgid(0, 0);  /* keep Ctrl-C for the parent to handle */
                execlp("redis-server", "redis-server", "--port", "0",
                       "--unixsocket", rc->sock, "--unixsocketperm", "700",
                       "--save", "", "--appendonly", "no", "--dir", rc->dir,
                       "--logfile", "redis.log", "--daemonize", "no", (char *)NULL);
                fprintf(stderr, "riskwatch: cannot run redis-server: %s "
                        "(install it with scripts/setup.sh)\n", strerror(errno));
                _exit(127);
        }
        for (int i = 0; i < 100; i++) {
                struct timeval tv = { 0, 200 * 1000 };
                redisContext *c;
                if (waitpid(rc->pid, &status, WNOHANG) == rc->pid) {
                        snprintf(errstr, errstr_size, "redis-server exited at start "
                                 "(status %d); see %s/redis.log", WEXITSTATUS(status),
                                 rc->dir);
                        rc->pid = 0;
                        goto fail;
                }
                c = redisConnectUnixWithTimeout(rc->sock, tv);
                if (c && !c->err) {
                        redisReply *r = redisCommand(c, "PING");
                        int ok = r && r->type == REDIS_REPLY_STATUS;
                        if (r)
                                freeReplyObject(r);
                        redisFree(c);
                        if (ok)
                                return RW_OK;
                } else if (c) {
                        redisFree(c);
                }
                usleep(50 * 1000);
        }
        snprintf(errstr, errstr_size, "redis-server did not answer on %s", rc->sock);
fail:
        rw_redis_child_stop(rc);
        return RW_ERR_FAIL;
}

void rw_redis_child_stop(rw_redis_child_t *rc) {
        char path[400];

        if (rc->pid > 0) {
                kill(rc->pid, SIGTERM);
                for (int i = 0; i < 100; i++) {
                        if (waitpid(rc->pid, NULL, WNOHANG) == rc->pid) {
                                rc->pid = 0;
                                break;
                        }
                        usleep(20 * 1000);
                }
                if (rc->pid > 0) {
                        kill(rc->pid, SIGKILL);
                        waitpid(rc->pid, NULL, 0);
                        rc->pid = 0;
                }
        }
        if (rc->dir[0]) {
                unlink(rc->sock);
                snprintf(path, sizeof(path), "%s/redis.log", rc->dir);
                unlink(path);
                rmdir(rc->dir);
                rc->dir[0] = '\0';
        }
}
