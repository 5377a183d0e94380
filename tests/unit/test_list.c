/* Unit tests for base/list: the intrusive list every module links with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/list.h"

struct item {
	int v;
	struct list link;
};

/* The values on `head`, in order, as a string like "1,2,3". */
static void dump(const struct list *head, char *out, size_t len)
{
	const struct list *p;
	size_t o = 0;
	out[0] = '\0';
	list_for_each(p, head)
	{
		const struct item *it = list_entry(p, struct item, link);
		o += (size_t)snprintf(out + o, len - o, o ? ",%d" : "%d", it->v);
	}
}

static void test_empty_head(void **state)
{
	(void)state;
	struct list head;
	list_init(&head);
	assert_true(list_empty(&head));
	assert_null(list_first(&head));
	assert_null(list_last(&head));
	assert_null(list_first_entry(&head, struct item, link));
}

static void test_zeroed_node_is_unlinked(void **state)
{
	(void)state;
	struct item it;
	memset(&it, 0, sizeof(it));
	assert_false(list_linked(&it.link));
	list_del(&it.link); /* no-op, no crash */
	assert_false(list_linked(&it.link));
}

static void test_add_tail_head_order(void **state)
{
	(void)state;
	struct list head;
	struct item a = { .v = 1 }, b = { .v = 2 }, c = { .v = 3 };
	char s[64];
	list_init(&head);
	list_add_tail(&head, &b.link);
	list_add_tail(&head, &c.link);
	list_add_head(&head, &a.link);
	dump(&head, s, sizeof(s));
	assert_string_equal(s, "1,2,3");
	assert_ptr_equal(list_first_entry(&head, struct item, link), &a);
	assert_ptr_equal(list_last(&head), &c.link);
	assert_true(list_linked(&b.link));
}

static void test_del_middle_ends_twice(void **state)
{
	(void)state;
	struct list head;
	struct item it[4] = { { .v = 0 }, { .v = 1 }, { .v = 2 }, { .v = 3 } };
	char s[64];
	list_init(&head);
	for (int i = 0; i < 4; i++)
		list_add_tail(&head, &it[i].link);
	list_del(&it[1].link);
	list_del(&it[1].link); /* twice is safe */
	assert_false(list_linked(&it[1].link));
	dump(&head, s, sizeof(s));
	assert_string_equal(s, "0,2,3");
	list_del(&it[0].link);
	list_del(&it[3].link);
	dump(&head, s, sizeof(s));
	assert_string_equal(s, "2");
	list_del(&it[2].link);
	assert_true(list_empty(&head));
	/* A node taken off may go on again. */
	list_add_tail(&head, &it[1].link);
	dump(&head, s, sizeof(s));
	assert_string_equal(s, "1");
}

static void test_for_each_safe_unlinks_current(void **state)
{
	(void)state;
	struct list head, *p, *t;
	struct item it[6];
	char s[64];
	list_init(&head);
	for (int i = 0; i < 6; i++) {
		memset(&it[i], 0, sizeof(it[i]));
		it[i].v = i;
		list_add_tail(&head, &it[i].link);
	}
	list_for_each_safe(p, t, &head)
	{
		struct item *x = list_entry(p, struct item, link);
		if (x->v % 2 == 0)
			list_del(p);
	}
	dump(&head, s, sizeof(s));
	assert_string_equal(s, "1,3,5");
	assert_false(list_linked(&it[4].link));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_head),
		cmocka_unit_test(test_zeroed_node_is_unlinked),
		cmocka_unit_test(test_add_tail_head_order),
		cmocka_unit_test(test_del_middle_ends_twice),
		cmocka_unit_test(test_for_each_safe_unlinks_current),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
