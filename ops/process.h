/* process.h - what the process itself costs, read from /proc/self and the
 * allocator: the figures of Prometheus' standard process collector
 * (process_*), and the heap the allocator holds, in use and free. */
#ifndef RW_PROCESS_H
#define RW_PROCESS_H

#include <stdint.h>

typedef struct rw_process_stats_s {
        double cpu_seconds;             /* user + system */
        double start_time;              /* seconds since the epoch */
        int64_t resident_bytes, virtual_bytes;
        int64_t open_fds, max_fds;      /* -1: not known */
        int64_t heap_in_use, heap_free; /* the allocator's arenas and mmapped
                                         * blocks: handed out / held free */
} rw_process_stats_t;

/* 0, or -1 when /proc/self/stat cannot be read (the rest is then unset). */
int rw_process_stats(rw_process_stats_t *ps);

/* The allocator's settings for a process that allocates and frees the same
 * few tens of MB per batch: up to 128 MiB of free memory at the heap's top
 * stays, blocks under 32 MiB come from the heap. With glibc's defaults (a
 * 128 KiB trim threshold, a threshold for mmap that moves) that memory goes
 * back to the kernel and is faulted in again, batch after batch. Nothing
 * when GLIBC_TUNABLES sets the allocator's own (the user's choice wins) or
 * when the allocator is not glibc's. Call first thing in main(). */
void rw_process_malloc_tune(void);

/* The allocator's free memory, in every arena, back to the kernel
 * (malloc_trim()): after a peak that will not come back soon. The resident
 * bytes before and after into *beforep and *afterp (0: not known). */
void rw_process_heap_release(int64_t *beforep, int64_t *afterp);

#endif
