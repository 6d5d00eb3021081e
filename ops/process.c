/* process.c - the process's own figures, from /proc/self and mallinfo2(),
 * and the allocator's settings. */
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "ops/process.h"

/* Boot time, seconds since the epoch (the "btime" line of /proc/stat). */
static double rw_boot_time(void) {
        FILE *fp = fopen("/proc/stat", "r");
        char line[256];
        double bt = 0;

        if (!fp)
                return 0;
        while (fgets(line, sizeof(line), fp))
                if (!strncmp(line, "btime ", 6)) {
                        bt = strtod(line + 6, NULL);
                        break;
                }
        fclose(fp);
        return bt;
}

static int64_t rw_open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int64_t n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1;           /* the directory's own descriptor */
}

int rw_process_stats(rw_process_stats_t *ps) {
        char buf[1024], *p;
        unsigned long long utime, stime, start, vsize;
        long long rss;
        long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
        struct rlimit rl;
        struct mallinfo2 mi;
        FILE *fp = fopen("/proc/self/stat", "r");
        size_t len;

        memset(ps, 0, sizeof(*ps));
        if (!fp)
                return -1;
        len = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[len] = '\0';
        /* After the command name (which may hold spaces and parentheses):
         * state is field 3; utime 14, stime 15, starttime 22, vsize 23,
         * rss 24. */
        if (!(p = strrchr(buf, ')')) ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
                          "%*d %*d %*d %*d %*d %*d %llu %llu %lld",
                   &utime, &stime, &start, &vsize, &rss) != 5 || hz <= 0)
                return -1;
        ps->cpu_seconds = (double)(utime + stime) / (double)hz;
        ps->start_time = rw_boot_time() + (double)start / (double)hz;
        ps->virtual_bytes = (int64_t)vsize;
        ps->resident_bytes = (int64_t)rss * page;
        ps->open_fds = rw_open_fds();
        ps->max_fds = getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY ?
                      -1 : (int64_t)rl.rlim_cur;
        mi = mallinfo2();
        ps->heap_in_use = (int64_t)(mi.uordblks + mi.hblkhd);
        ps->heap_free = (int64_t)mi.fordblks;
        return 0;
}

void rw_process_malloc_tune(void) {
        const char *t = getenv("GLIBC_TUNABLES");

        if (t && strstr(t, "glibc.malloc."))
                return;
        /* mallopt() returns 0 where it does not apply (another allocator,
         * a sanitizer's): the defaults stay, nothing else changes. */
        (void)mallopt(M_TRIM_THRESHOLD, 128 << 20);
        (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

void rw_process_heap_release(int64_t *beforep, int64_t *afterp) {
        rw_process_stats_t ps;

        *beforep = rw_process_stats(&ps) ? 0 : ps.resident_bytes;
        (void)malloc_trim(0);
        *afterp = rw_process_stats(&ps) ? 0 : ps.resident_bytes;
}
