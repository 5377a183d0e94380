/*
 * mux_table: the engine's stream registry (see mux_internal.h): the hash
 * table keyed by stream id, the timed lists and the dead list. It owns the
 * stream allocations; it calls nothing above it.
 */
#include <assert.h>
#include <stdlib.h>

#include "mux/mux_internal.h"

static void table_put_slot(struct mux_stream **slots, uint32_t cap, struct mux_stream *s)
{
	uint32_t i = mux_slot_of(s->id, cap);
	while (slots[i] != NULL)
		i = (i + 1) & (cap - 1);
	slots[i] = s;
}

/* Rehashes into ncap slots; keeps the old table if memory is short. */
static int table_resize(struct mux *m, uint32_t ncap)
{
	struct mux_stream **ns = calloc(ncap, sizeof(*ns));
	if (ns == NULL)
		return -MUX_E_NOMEM;
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->slots[i] != NULL)
			table_put_slot(ns, ncap, m->slots[i]);
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

static int table_insert(struct mux *m, struct mux_stream *s)
{
	if ((m->count + 1) * 2 > m->cap && table_resize(m, m->cap * 2) != 0)
		return -MUX_E_NOMEM;
	table_put_slot(m->slots, m->cap, s);
	m->count++;
	return 0;
}

static void table_remove(struct mux *m, const struct mux_stream *s)
{
	uint32_t mask = m->cap - 1, i = mux_slot_of(s->id, m->cap);
	while (m->slots[i] != s) {
		if (m->slots[i] == NULL)
			return;
		i = (i + 1) & mask;
	}
	m->slots[i] = NULL;
	m->count--;
	/* Backward-shift: move later entries of the cluster into the hole. */
	for (uint32_t j = (i + 1) & mask; m->slots[j] != NULL; j = (j + 1) & mask) {
		uint32_t home = mux_slot_of(m->slots[j]->id, m->cap);
		/* Entry at j may move to i if its home is not in (i, j]. */
		bool in_range = (i < j) ? (home > i && home <= j) : (home > i || home <= j);
		if (!in_range) {
			m->slots[i] = m->slots[j];
			m->slots[j] = NULL;
			i = j;
		}
	}
	/* Give memory back after a burst: a table 8 times too big halves
	 * (growth happens at half full, so this cannot oscillate). Callers
	 * walking the table re-read slots and cap at every step. */
	if (m->cap > 64 && (uint64_t)m->count * 8 < m->cap)
		table_resize(m, m->cap / 2);
}

/* ---- timed lists ---- */

void mux_timed_append(struct list *head, struct mux_stream *s, uint64_t deadline)
{
	assert(!list_linked(&s->lnode));
	s->deadline = deadline;
	list_add_tail(head, &s->lnode);
}

struct mux_stream *mux_timed_first(const struct list *head)
{
	return list_first_entry(head, struct mux_stream, lnode);
}

void mux_unlist_stream(struct mux_stream *s)
{
	assert(!(s->flags & SF_DEAD));
	s->flags &= (uint16_t)~SF_ACK_DEFERRED;
	list_del(&s->lnode);
}

/* ---- stream allocation ---- */

struct mux_stream *mux_new_stream(struct mux *m, uint32_t id)
{
	struct mux_stream *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->m = m;
	s->id = id;
	s->send_window = MUX_INITIAL_WINDOW;
	s->recv_window = MUX_INITIAL_WINDOW;
	s->recv_max = MUX_INITIAL_WINDOW;
	if (table_insert(m, s) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

void mux_destroy_stream(struct mux *m, struct mux_stream *s)
{
	if (s->flags & SF_DEAD)
		return;
	mux_unlist_stream(s);
	if (s->flags & SF_SYN_SENT)
		m->syn_inflight--;
	if (s->flags & SF_UNACCEPTED)
		m->unaccepted--;
	if (s->recv_max > MUX_INITIAL_WINDOW)
		m->extra_reserved -= s->recv_max - MUX_INITIAL_WINDOW;
	m->buffered -= s->recv_pending;
	s->recv_pending = 0;
	/* The rest of a frame being received for it is discarded, even if a
	 * new stream takes the id before the frame ends. */
	if (m->payload_stream && m->payload_id == s->id)
		m->payload_stream = false;
	table_remove(m, s);
	s->flags |= SF_DEAD | SF_RESET;
	list_add_tail(&m->dead, &s->lnode);
}

void mux_reap_dead(struct mux *m)
{
	struct mux_stream *s;
	while ((s = list_first_entry(&m->dead, struct mux_stream, lnode)) != NULL) {
		list_del(&s->lnode);
		free(s);
	}
}
