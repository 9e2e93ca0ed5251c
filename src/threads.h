/* threads.h — the worker pool the kernels split their work over.
 *
 * One pool for the whole core, started once (atn_threads_set) and reused by
 * every call: a parallel loop publishes a job, the workers parked on a futex
 * wake up and claim chunks of it, and the calling thread claims chunks too,
 * so a job finishes even when no worker ever runs (a worker that has not
 * started yet, or failed to). Nothing is allocated and no thread is started
 * per job.
 *
 * Natively the workers are pthreads. In the WebAssembly build (compiled with
 * atomics, shared memory) they are instances of the same module in Web
 * Workers / worker_threads over the same memory, started by the JS loader,
 * each entering atn_thread_worker() and staying parked in memory.atomic.wait
 * between jobs (docs/threads.md). A build without atomics has one thread and
 * runs every loop inline.
 *
 * Only the thread that called atn_threads_set may start loops (the core is
 * driven from one thread); loops do not nest (a loop started inside a task
 * runs inline).
 */
#ifndef ATN_THREADS_H
#define ATN_THREADS_H

#include <stddef.h>
#include <stdint.h>

#define ATN_MAX_THREADS 16

/* A task runs items [i0, i1) of a loop on thread `thread` (0 = the caller,
 * 1 .. n-1 the workers): the index of per-thread scratch. */
typedef void (*atn_task_fn)(void *ctx, int64_t i0, int64_t i1, int thread);

/* Use n threads (1 .. ATN_MAX_THREADS; the caller counts as one). Natively
 * starts or stops pthreads and returns how many run; in the threaded
 * WebAssembly build records n, and the loader then starts n - 1 workers that
 * enter atn_thread_worker(1 .. n-1). Returns the count now in use, or < 0
 * (bad n). Never call it from inside a loop. */
int atn_threads_set(int n);
/* Threads in use (1 when single-threaded). */
int atn_threads_get(void);
/* 1 when this build can run more than one thread. */
int atn_threads_supported(void);

/* Run fn over [0, n) in chunks of about `grain` items (>= 1), spread over
 * the pool; returns when every item is done. Runs inline when the pool has
 * one thread, n <= grain, or it is called from inside a task. */
void atn_parallel_for(int64_t n, int64_t grain, atn_task_fn fn, void *ctx);

/* Scratch of at least `bytes` for each thread, 64-byte aligned: call from
 * the driving thread before a loop (it may allocate, once, when it grows);
 * tasks then use atn_thread_scratch(thread). NULL if it cannot grow. */
void *atn_threads_reserve(size_t bytes);
void *atn_thread_scratch(int thread);

/* The WebAssembly worker's entry: park, run chunks, until the pool is shrunk
 * below `id` + 1 threads (then return). Natively unused. */
void atn_thread_worker(int id);

#endif
