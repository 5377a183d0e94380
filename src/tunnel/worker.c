#include "tunnel/worker.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/mman.h>

/* Free heap above this is given back to the system after connections end. */
#define WORKER_TRIM_FREE (512u * 1024)
#define WORKER_TRIM_DELAY_MS 200

static uint8_t *scratch_map(void)
{
	void *p = mmap(NULL, WORKER_SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void on_trim(struct loop *l, struct loop_timer *t, void *udata)
{
	struct worker *w = udata;
	(void)l;
	(void)t;
	struct mallinfo2 mi = mallinfo2();
	if (mi.fordblks > WORKER_TRIM_FREE)
		malloc_trim(0);
	/* The scratch buffers hold nothing between callbacks: their pages go
	 * back too (the next use faults in zeroed pages). */
	madvise(w->rx, WORKER_SCRATCH, MADV_DONTNEED);
	madvise(w->tx, WORKER_SCRATCH, MADV_DONTNEED);
}

void worker_freed(struct worker *w)
{
	if (w->loop && w->rx && !loop_timer_active(&w->trim))
		loop_timer_start(w->loop, &w->trim, WORKER_TRIM_DELAY_MS);
}

int worker_init(struct worker *w, struct loop *l)
{
	memset(w, 0, sizeof(*w));
	w->loop = l;
	list_init(&w->dirty);
	loop_timer_init(&w->trim, on_trim, w);
	budget_init(&w->budget, 0);
	log_limit_init(&w->hold_log, "sessions that do not read", LOG_LIMIT_BURST, LOG_LIMIT_INTERVAL_MS);
	/* Page-aligned mappings, so the trim can hand their pages back. */
	w->rx = scratch_map();
	w->tx = scratch_map();
	if (w->rx == NULL || w->tx == NULL) {
		worker_fini(w);
		return -ENOMEM;
	}
	w->rx_len = w->tx_len = WORKER_SCRATCH;
	return 0;
}

void worker_set_memory_limit(struct worker *w, uint32_t mib)
{
	size_t lim = mib ? (size_t)mib << 20 : budget_default_limit(NULL, NULL);
	budget_set_limit(&w->budget, lim);
	log_info("memory budget for what peers can make us hold: %zu MiB%s", lim >> 20,
		 mib ? "" : " (MemoryLimitMiB 0: half of this machine's memory)");
}

int worker_before_sleep(struct worker *w, loop_hook_fn fn)
{
	if (w->flush == fn)
		return 0;
	if (w->flush != NULL || loop_before_sleep(w->loop, fn, w) != 0)
		return -ENOMEM;
	w->flush = fn;
	return 0;
}

void worker_fini(struct worker *w)
{
	if (w->flush && w->loop)
		loop_before_sleep_remove(w->loop, w->flush, w);
	w->flush = NULL;
	if (w->loop)
		loop_timer_stop(w->loop, &w->trim);
	if (w->rx)
		munmap(w->rx, WORKER_SCRATCH);
	if (w->tx)
		munmap(w->tx, WORKER_SCRATCH);
	w->rx = w->tx = NULL;
}
