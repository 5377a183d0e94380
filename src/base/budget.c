#include "base/budget.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUDGET_MIN_DEFAULT ((size_t)32 << 20)

static const char *const class_names[BUDGET_NCLASSES] = {
	"session-out",
	"stream-rx",
	"http",
	"peek",
	"registry",
	"conn",
};

const char *budget_class_name(enum budget_class c)
{
	return (unsigned)c < BUDGET_NCLASSES ? class_names[c] : "?";
}

void budget_set_limit(struct budget *b, size_t limit)
{
	b->limit = limit;
	b->admit_mark = limit / 100 * 85;
	b->shed_mark = limit / 100 * 95;
}

void budget_init(struct budget *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	for (int i = 0; i < BUDGET_NCLASSES; i++)
		b->acct[i].b = b;
	budget_set_limit(b, limit);
}

int budget_charge(struct budget_acct *a, size_t n)
{
	if (a == NULL || n == 0)
		return 0;
	struct budget *b = a->b;
	if (b->limit != 0 && (n > b->limit || b->used > b->limit - n)) {
		a->refused++;
		return -ENOBUFS;
	}
	b->used += n;
	a->used += n;
	a->charges++;
	if (b->used > b->peak)
		b->peak = b->used;
	if (a->used > a->peak)
		a->peak = a->used;
	return 0;
}

void budget_release(struct budget_acct *a, size_t n)
{
	if (a == NULL)
		return;
	/* Never below zero, whatever a caller got wrong. */
	size_t k = n < a->used ? n : a->used;
	a->used -= k;
	a->b->used -= k < a->b->used ? k : a->b->used;
}

bool budget_admits(const struct budget *b)
{
	return b->limit == 0 || b->used < b->admit_mark;
}

bool budget_must_shed(const struct budget *b)
{
	return b->limit != 0 && b->used >= b->shed_mark;
}

void budget_refuse(struct budget *b, enum budget_class c)
{
	if ((unsigned)c < BUDGET_NCLASSES)
		b->refused_work[c]++;
}

/* The value of "MemTotal:" in kB times 1024, or 0. */
static size_t read_memtotal(const char *path)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return 0;
	char line[256];
	size_t v = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
			v = (size_t)kb * 1024;
			break;
		}
	}
	fclose(f);
	return v;
}

/* cgroup v2 memory.max in bytes, or 0 for "max" / none. */
static size_t read_cgroup_max(const char *path)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return 0;
	unsigned long long v = 0;
	char word[32] = "";
	if (fscanf(f, "%31s", word) != 1 || strcmp(word, "max") == 0 || sscanf(word, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return (size_t)v;
}

size_t budget_default_limit(const char *meminfo, const char *cgroup_max)
{
	size_t mem = read_memtotal(meminfo ? meminfo : "/proc/meminfo");
	size_t cg = read_cgroup_max(cgroup_max ? cgroup_max : "/sys/fs/cgroup/memory.max");
	if (cg != 0 && (mem == 0 || cg < mem))
		mem = cg;
	size_t lim = mem / 2;
	return lim < BUDGET_MIN_DEFAULT ? BUDGET_MIN_DEFAULT : lim;
}
