/* Topics, subscription sets and the replay ring of the api plugin (topics.h). */
#include <stdlib.h>
#include <string.h>

#include "keyrules.h"
#include "topics.h"

static const struct {
	const char *name;
	unsigned kind;
} fixed[] = {
	{ "*", TOPIC_ALL },
	{ "timings", TOPIC_TIMINGS },
	{ "contributors", TOPIC_CONTRIBUTORS },
	{ "plugins", TOPIC_PLUGINS },
};

int topic_parse(const char *s, size_t n, struct topic *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (n == strlen(fixed[i].name) && memcmp(s, fixed[i].name, n) == 0) {
			out->kind = fixed[i].kind;
			return 0;
		}
	if (n > 6 && memcmp(s, "slots:", 6) == 0 &&
	    key_segment_ok(s + 6, n - 6, TOPIC_NET_MAX, NULL, KEY_SEG_PLAIN)) {
		out->kind = TOPIC_SLOTS;
		memcpy(out->network, s + 6, n - 6);
		return 0;
	}
	return -1;
}

void topic_name(const struct topic *t, char *out)
{
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (t->kind == fixed[i].kind) {
			strcpy(out, fixed[i].name);
			return;
		}
	strcpy(out, "slots:");
	strcpy(out + 6, t->network);
}

static long find_net(const struct topic_set *s, const char *net)
{
	for (size_t i = 0; i < s->nnets; i++)
		if (strcmp(s->nets[i], net) == 0)
			return (long)i;
	return -1;
}

int topic_set_add(struct topic_set *s, const struct topic *t)
{
	if (t->kind != TOPIC_SLOTS) {
		s->mask |= t->kind;
		return 0;
	}
	if (find_net(s, t->network) >= 0)
		return 0;
	if (s->nnets == TOPIC_SET_NETS)
		return -1;
	strcpy(s->nets[s->nnets++], t->network);
	return 0;
}

void topic_set_remove(struct topic_set *s, const struct topic *t)
{
	if (t->kind != TOPIC_SLOTS) {
		s->mask &= ~t->kind;
		return;
	}
	long i = find_net(s, t->network);
	if (i < 0)
		return;
	s->nnets--;
	if ((size_t)i != s->nnets)
		memcpy(s->nets[i], s->nets[s->nnets], sizeof s->nets[i]);
}

int topic_set_match(const struct topic_set *s, const struct topic *t)
{
	if (s->mask & TOPIC_ALL)
		return 1;
	if (t->kind != TOPIC_SLOTS)
		return (s->mask & t->kind) != 0;
	return find_net(s, t->network) >= 0;
}

int topic_set_empty(const struct topic_set *s) { return s->mask == 0 && s->nnets == 0; }

void topic_set_json(const struct topic_set *s, struct buf *b)
{
	int first = 1;
	buf_putc(b, '[');
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (s->mask & fixed[i].kind) {
			if (!first)
				buf_putc(b, ',');
			buf_json_str(b, fixed[i].name, strlen(fixed[i].name));
			first = 0;
		}
	for (size_t i = 0; i < s->nnets; i++) {
		char name[TOPIC_TEXT_MAX];
		struct topic t = { .kind = TOPIC_SLOTS };
		strcpy(t.network, s->nets[i]);
		topic_name(&t, name);
		if (!first)
			buf_putc(b, ',');
		buf_json_str(b, name, strlen(name));
		first = 0;
	}
	buf_putc(b, ']');
}

int topic_pack_set(struct topic_pack *p, const struct topic_set *s)
{
	size_t len = 0;
	for (size_t i = 0; i < s->nnets; i++)
		len += strlen(s->nets[i]) + 1;
	char *nets = NULL;
	if (len && !(nets = malloc(len)))
		return -1;
	for (size_t i = 0, off = 0; i < s->nnets; i++) {
		size_t n = strlen(s->nets[i]) + 1;
		memcpy(nets + off, s->nets[i], n);
		off += n;
	}
	free(p->nets);
	p->mask = s->mask;
	p->nnets = (unsigned)s->nnets;
	p->nets = nets;
	return 0;
}

void topic_pack_get(const struct topic_pack *p, struct topic_set *s)
{
	const char *n = p->nets;
	s->mask = p->mask;
	s->nnets = p->nnets;
	for (size_t i = 0; i < p->nnets; i++, n += strlen(n) + 1)
		strcpy(s->nets[i], n);
}

int topic_pack_match(const struct topic_pack *p, const struct topic *t)
{
	if (p->mask & TOPIC_ALL)
		return 1;
	if (t->kind != TOPIC_SLOTS)
		return (p->mask & t->kind) != 0;
	const char *n = p->nets;
	for (unsigned i = 0; i < p->nnets; i++, n += strlen(n) + 1)
		if (strcmp(n, t->network) == 0)
			return 1;
	return 0;
}

void topic_pack_free(struct topic_pack *p)
{
	free(p->nets);
	p->nets = NULL;
	p->nnets = 0;
	p->mask = 0;
}

static void set_bad(char *bad, const char *s, size_t n)
{
	if (n >= TOPIC_TEXT_MAX)
		n = TOPIC_TEXT_MAX - 1;
	memcpy(bad, s, n);
	bad[n] = '\0';
}

int topic_set_parse_list(struct topic_set *s, const char *list, char *bad)
{
	const char *p = list;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		struct topic t;
		if (topic_parse(p, n, &t) < 0 || topic_set_add(s, &t) < 0) {
			set_bad(bad, p, n);
			return -1;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int topic_of_subject(const char *subject, const char *network, struct topic *out)
{
	memset(out, 0, sizeof *out);
	if (strcmp(subject, "beacon.slot") == 0) {
		if (!network || !key_segment_ok(network, strlen(network), TOPIC_NET_MAX, NULL,
						KEY_SEG_PLAIN))
			return -1;
		out->kind = TOPIC_SLOTS;
		strcpy(out->network, network);
		return 0;
	}
	if (strcmp(subject, "timings.updated") == 0)
		out->kind = TOPIC_TIMINGS;
	else if (strcmp(subject, "contributors.updated") == 0)
		out->kind = TOPIC_CONTRIBUTORS;
	else if (strcmp(subject, "host.plugin") == 0)
		out->kind = TOPIC_PLUGINS;
	else
		return -1;
	return 0;
}

int live_ring_init(struct live_ring *r, size_t cap, uint64_t first_id)
{
	memset(r, 0, sizeof *r);
	r->cap = cap ? cap : 1; /* one slot holds the message being sent */
	r->slot = calloc(r->cap, sizeof *r->slot);
	r->next_id = first_id;
	return r->slot ? 0 : -1;
}

void live_ring_free(struct live_ring *r)
{
	for (size_t i = 0; r->slot && i < r->cap; i++)
		free(r->slot[i]);
	free(r->slot);
	memset(r, 0, sizeof *r);
}

const struct live_msg *live_ring_push(struct live_ring *r, const struct topic *t,
				      const char *json, size_t len)
{
	struct live_msg *m = malloc(sizeof *m + len + 1);
	if (!m)
		return NULL;
	m->id = r->next_id++;
	m->topic = *t;
	m->len = len;
	memcpy(m->json, json, len);
	m->json[len] = '\0';
	size_t at;
	if (r->n == r->cap) { /* full: replace the oldest */
		at = r->head;
		free(r->slot[at]);
		r->head = (r->head + 1) % r->cap;
	} else {
		at = (r->head + r->n++) % r->cap;
	}
	r->slot[at] = m;
	return m;
}

const struct live_msg *live_ring_after(const struct live_ring *r, uint64_t after, size_t i)
{
	if (r->n == 0)
		return NULL;
	uint64_t first = r->slot[r->head]->id;
	size_t skip = after < first ? 0 : (size_t)(after - first + 1);
	if (after >= first + r->n) /* newer than anything held (or from elsewhere) */
		return NULL;
	if (skip + i >= r->n)
		return NULL;
	return r->slot[(r->head + skip + i) % r->cap];
}
