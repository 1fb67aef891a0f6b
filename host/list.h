/* Intrusive circular doubly-linked list. */
#ifndef LAB_HOST_LIST_H
#define LAB_HOST_LIST_H

#include <stddef.h>

struct list {
	struct list *prev, *next;
};

static inline void list_init(struct list *h) { h->prev = h->next = h; }
static inline int list_empty(const struct list *h) { return h->next == h; }
static inline void list_add_tail(struct list *h, struct list *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}
static inline void list_del(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#define list_entry(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))
/* Safe against removal of the current element. */
#define list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
