/*
 * list: one intrusive doubly-linked list (Linux list_head / h2o linklist
 * style), header only, no allocation.
 *
 * A `struct list` is either a head or a node embedded in its owner. A head
 * is circular: list_init() points it at itself, so an empty list is a head
 * whose next is itself. A node that is on no list has next == prev == NULL
 * (a zeroed owner, as calloc gives, is "not linked"), which makes
 * list_linked() a cheap test and list_del() safe to call twice.
 *
 * Iteration that may unlink the current node uses list_for_each_safe.
 * Nothing here is thread-safe; a list belongs to one loop.
 */
#ifndef THRESHOLD_BASE_LIST_H
#define THRESHOLD_BASE_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "base/util.h"

struct list {
	struct list *next, *prev;
};

/* A head, empty. */
static inline void list_init(struct list *head)
{
	head->next = head;
	head->prev = head;
}

static inline bool list_empty(const struct list *head)
{
	return head->next == head;
}

/* Whether a node is on some list. */
static inline bool list_linked(const struct list *node)
{
	return node->next != NULL;
}

static inline void list_insert_between(struct list *node, struct list *prev, struct list *next)
{
	node->prev = prev;
	node->next = next;
	prev->next = node;
	next->prev = node;
}

/* Links `node` (not linked) first / last on `head`. */
static inline void list_add_head(struct list *head, struct list *node)
{
	list_insert_between(node, head, head->next);
}

static inline void list_add_tail(struct list *head, struct list *node)
{
	list_insert_between(node, head->prev, head);
}

/* Unlinks `node` from whatever list holds it; a node that is not linked is
 * left as it is. */
static inline void list_del(struct list *node)
{
	if (node->next == NULL)
		return;
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->next = NULL;
	node->prev = NULL;
}

/* The first / last node of `head`, or NULL when it is empty. */
static inline struct list *list_first(const struct list *head)
{
	return list_empty(head) ? NULL : head->next;
}

static inline struct list *list_last(const struct list *head)
{
	return list_empty(head) ? NULL : head->prev;
}

/* The owner of type `type` whose member `member` is `node`. */
#define list_entry(node, type, member) container_of(node, type, member)

/* The first owner on `head`, or NULL when it is empty. */
#define list_first_entry(head, type, member) \
	(list_empty(head) ? (type *)NULL : list_entry((head)->next, type, member))

/* `pos` walks the nodes; the body may unlink (and free) `pos`, not others. */
#define list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#define list_for_each(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

#endif
