/* threads.c — the worker pool (threads.h).
 *
 * A job is published in a few shared words:
 *   next   (gen << 32 | index of the next unclaimed chunk): a thread claims a
 *          chunk by a compare-and-swap on it, so a claim is only ever made on
 *          the job it read the fields of (a stale thread's swap fails because
 *          the generation changed);
 *   done   chunks finished: the caller returns when it reaches the count;
 *   wake   bumped once per job: the futex word parked workers wait on.
 * Before the fields of a new job are written, next is set to CLOSED, so a
 * thread that read half-written fields cannot claim anything with them.
 * The caller claims chunks like any worker, so every job finishes even if no
 * worker is running.
 */
#include "threads.h"

#include <stdatomic.h>
#include <stdlib.h>

#if defined(__wasm__)
#if defined(__wasm_atomics__)
#define POOL_WASM 1
#endif
#else
#define POOL_NATIVE 1
#include <pthread.h>
#include <sched.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif

#define CLOSED 0xffffffffu

/* The words written while a job runs (next: every claim; done: every chunk)
 * and the one idle workers spin on (wake) each have a cache line of their
 * own: a thread spinning on one must not pull in the line the others write
 * at every chunk. The job's fields, written once per job, share another. */
#define LINE _Alignas(64)
static LINE _Atomic uint64_t next = CLOSED;
static LINE _Atomic uint32_t done;
static LINE _Atomic uint32_t wake;
static LINE _Atomic(atn_task_fn) job_fn;
static _Atomic(void *) job_ctx;
static _Atomic int64_t job_n, job_grain;
static _Atomic uint32_t job_chunks;
static _Atomic int target = 1;      /* threads wanted; workers with id >= target leave */
static LINE _Atomic uint32_t sleepers; /* workers parked in futex_wait */
static _Atomic int in_loop;         /* a loop is running: nested loops run inline */
static uint32_t gen;                /* written by the driving thread only */

/* ---- waiting ------------------------------------------------------------ */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#if defined(POOL_WASM) || defined(POOL_NATIVE) /* workers exist (atn_thread_worker) */
/* Sleep while *word == val (spurious wake-ups are fine: callers re-check). */
static void futex_wait(_Atomic uint32_t *word, uint32_t val) {
#if defined(POOL_WASM)
    __builtin_wasm_memory_atomic_wait32((int *)word, (int)val, -1);
#elif defined(__linux__)
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
#else
    if (atomic_load(word) == val) sched_yield();
#endif
}
#endif

static void futex_wake_all(_Atomic uint32_t *word) {
#if defined(POOL_WASM)
    __builtin_wasm_memory_atomic_notify((int *)word, -1u);
#elif defined(POOL_NATIVE) && defined(__linux__)
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
#else
    (void)word;
#endif
}

/* ---- running a job ------------------------------------------------------ */

static void run_chunks(int thread) {
    for (;;) {
        uint64_t v = atomic_load(&next);
        uint32_t idx = (uint32_t)v;
        if (idx == CLOSED) return;
        uint32_t chunks = atomic_load_explicit(&job_chunks, memory_order_relaxed);
        int64_t n = atomic_load_explicit(&job_n, memory_order_relaxed);
        int64_t grain = atomic_load_explicit(&job_grain, memory_order_relaxed);
        atn_task_fn fn = atomic_load_explicit(&job_fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&job_ctx, memory_order_relaxed);
        if (idx >= chunks) return;
        /* the swap succeeds only if the job is still the one read above */
        if (!atomic_compare_exchange_weak(&next, &v, v + 1)) continue;
        int64_t i0 = (int64_t)idx * grain, i1 = i0 + grain < n ? i0 + grain : n;
        fn(ctx, i0, i1, thread);
        atomic_fetch_add(&done, 1);
    }
}

void atn_parallel_for(int64_t n, int64_t grain, atn_task_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (atomic_load(&target) <= 1 || n <= grain || atomic_load(&in_loop)) {
        fn(ctx, 0, n, 0);
        return;
    }
    if (n / grain >= (int64_t)CLOSED - 1) grain = n / ((int64_t)CLOSED - 2) + 1; /* chunk count fits 32 bits */
    uint32_t chunks = (uint32_t)((n + grain - 1) / grain);
    atomic_store(&in_loop, 1);
    gen++;
    atomic_store(&next, (uint64_t)gen << 32 | CLOSED);
    atomic_store_explicit(&job_fn, fn, memory_order_relaxed);
    atomic_store_explicit(&job_ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&job_n, n, memory_order_relaxed);
    atomic_store_explicit(&job_grain, grain, memory_order_relaxed);
    atomic_store_explicit(&job_chunks, chunks, memory_order_relaxed);
    atomic_store(&done, 0);
    atomic_store(&next, (uint64_t)gen << 32);
    atomic_fetch_add(&wake, 1);
    if (atomic_load(&sleepers)) futex_wake_all(&wake);
    run_chunks(0);
    /* the rest is in workers' hands: chunks are small, wait by spinning */
    for (unsigned spins = 0; atomic_load(&done) < chunks; spins++) {
        cpu_relax();
#ifdef POOL_NATIVE
        if (spins > 2000) sched_yield(); /* a shared or oversubscribed machine */
#else
        (void)spins;
#endif
    }
    atomic_store(&in_loop, 0);
}

/* Park between jobs: spin a little first (the next matmul of a forward pass
 * follows within microseconds), then sleep on the futex. */
void atn_thread_worker(int id) {
#if defined(POOL_WASM) || defined(POOL_NATIVE)
    for (;;) {
        uint32_t w = atomic_load(&wake);
        if (id >= atomic_load(&target)) return;
        run_chunks(id);
        for (int spins = 0; spins < 20000 && atomic_load(&wake) == w; spins++) cpu_relax();
        if (atomic_load(&wake) != w) continue;
        atomic_fetch_add(&sleepers, 1);
        futex_wait(&wake, w);
        atomic_fetch_sub(&sleepers, 1);
    }
#else
    (void)id;
#endif
}

/* ---- the pool's size ---------------------------------------------------- */

int atn_threads_supported(void) {
#if defined(POOL_WASM) || defined(POOL_NATIVE)
    return 1;
#else
    return 0;
#endif
}

int atn_threads_get(void) { return atomic_load(&target); }

#ifdef POOL_NATIVE
static pthread_t workers[ATN_MAX_THREADS];
static int n_started = 1; /* the caller plus workers 1 .. n_started-1 */

static void *worker_main(void *arg) {
    atn_thread_worker((int)(intptr_t)arg);
    return NULL;
}
#endif

int atn_threads_set(int n) {
    if (n < 1 || n > ATN_MAX_THREADS) return -1;
    if (atomic_load(&in_loop)) return -1;
    if (!atn_threads_supported()) return 1;
    atomic_store(&target, n);
    /* workers past n leave their loop */
    atomic_fetch_add(&wake, 1);
    futex_wake_all(&wake);
#ifdef POOL_NATIVE
    for (int i = n; i < n_started; i++) pthread_join(workers[i], NULL);
    if (n < n_started) n_started = n;
    for (int i = n_started; i < n; i++) {
        if (pthread_create(&workers[i], NULL, worker_main, (void *)(intptr_t)i) != 0) {
            atomic_store(&target, i); /* run with the threads that did start */
            break;
        }
        n_started = i + 1;
    }
#endif
    return atomic_load(&target);
}

/* ---- per-thread scratch ------------------------------------------------- */

static void *scratch_raw;
static char *scratch;
static size_t scratch_stride, scratch_threads;

void *atn_threads_reserve(size_t bytes) {
    size_t stride = (bytes + 63) & ~(size_t)63;
    size_t threads = (size_t)atomic_load(&target);
    if (stride < bytes) return NULL;
    if (stride <= scratch_stride && threads <= scratch_threads) return scratch;
    if (stride < scratch_stride) stride = scratch_stride;
    if (threads < scratch_threads) threads = scratch_threads;
    if (stride > (SIZE_MAX - 64) / threads) return NULL;
    void *p = malloc(stride * threads + 64);
    if (!p) return NULL;
    free(scratch_raw);
    scratch_raw = p;
    scratch = (char *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
    scratch_stride = stride;
    scratch_threads = threads;
    return scratch;
}

void *atn_thread_scratch(int thread) { return scratch + (size_t)thread * scratch_stride; }
