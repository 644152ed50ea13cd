/* SPDX-License-Identifier: MIT */
/* Intrusive circular doubly-linked list with a sentinel head: the one list
 * the engine's modules share instead of each writing its own. */
#ifndef SV_LIB_LIST_H
#define SV_LIB_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct sv_list {
	struct sv_list *prev, *next;
};

static inline void sv_list_init(struct sv_list *head)
{
	head->prev = head->next = head;
}

static inline bool sv_list_empty(const struct sv_list *head)
{
	return head->next == head;
}

static inline void sv_list_add_tail(struct sv_list *head, struct sv_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void sv_list_add_head(struct sv_list *head, struct sv_list *n)
{
	n->prev = head;
	n->next = head->next;
	head->next->prev = n;
	head->next = n;
}

/* Unlinks @n and leaves it pointing nowhere (NULL), so a stray second
 * removal crashes at once instead of corrupting the list. */
static inline void sv_list_del(struct sv_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

/* The first node, or NULL when the list is empty. */
static inline struct sv_list *sv_list_first(const struct sv_list *head)
{
	return head->next == head ? NULL : head->next;
}

#endif
