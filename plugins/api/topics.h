/* Live-update topics of the api plugin (pure: libc + common/keyrules.h).
 * A topic is "slots:NET", "timings", "contributors", "plugins" or "*"; a
 * client's subscription is a topic_set; each broker event maps to at most
 * one topic.  The replay ring keeps the last N messages for SSE's
 * Last-Event-ID. */
#ifndef LAB_API_TOPICS_H
#define LAB_API_TOPICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum topic_kind {
	TOPIC_ALL = 1u << 0,          /* "*" */
	TOPIC_TIMINGS = 1u << 1,      /* "timings" */
	TOPIC_CONTRIBUTORS = 1u << 2, /* "contributors" */
	TOPIC_PLUGINS = 1u << 3,      /* "plugins" */
	TOPIC_SLOTS = 1u << 4         /* "slots:NET" (network in .network) */
};

#define TOPIC_NET_MAX 128  /* a portable segment */
#define TOPIC_SET_NETS 16  /* slots:NET topics per client */
#define TOPIC_TEXT_MAX (6 + TOPIC_NET_MAX + 1)

struct topic {
	unsigned kind;
	char network[TOPIC_NET_MAX + 1];
};

struct topic_set {
	unsigned mask; /* TOPIC_ALL | TOPIC_TIMINGS | ... (not TOPIC_SLOTS) */
	size_t nnets;
	char nets[TOPIC_SET_NETS][TOPIC_NET_MAX + 1];
};

/*
 * A subscription as a live client keeps it (topic_set is a 2 KiB working
 * value; thousands of idle clients each holding one would cost 2 KiB
 * apiece): the mask and the networks packed "net1\0net2\0" in one
 * allocation (NULL when none).  Zero-initialised = empty.
 */
struct topic_pack {
	unsigned mask;
	unsigned nnets;
	char *nets;
};

/* 0, or -1 on out of memory (p unchanged). */
int topic_pack_set(struct topic_pack *p, const struct topic_set *s);
void topic_pack_get(const struct topic_pack *p, struct topic_set *s);
int topic_pack_match(const struct topic_pack *p, const struct topic *t);
void topic_pack_free(struct topic_pack *p);

/* 0 and *out when s[0..n) is a valid topic, -1 otherwise. */
int topic_parse(const char *s, size_t n, struct topic *out);
/* The topic's name ("slots:mainnet") into out[TOPIC_TEXT_MAX]. */
void topic_name(const struct topic *t, char *out);
/* 0, or -1 when the set already holds TOPIC_SET_NETS networks. */
int topic_set_add(struct topic_set *s, const struct topic *t);
void topic_set_remove(struct topic_set *s, const struct topic *t);
int topic_set_match(const struct topic_set *s, const struct topic *t);
int topic_set_empty(const struct topic_set *s);
/* The set as a JSON array of names. */
void topic_set_json(const struct topic_set *s, struct buf *b);
/*
 * Parse a comma-separated list ("slots:mainnet,timings") into *s.  Returns
 * 0, or -1 with the first bad topic's text in bad[TOPIC_TEXT_MAX]
 * (truncated) — an empty element or list is bad too.
 */
int topic_set_parse_list(struct topic_set *s, const char *list, char *bad);

/* The topic of a broker subject (without the deployment prefix) carrying
 * `network` (may be NULL): beacon.slot -> slots:NET (needs a valid
 * network), timings.updated -> timings, contributors.updated ->
 * contributors, host.plugin -> plugins.  -1: not forwarded. */
int topic_of_subject(const char *subject, const char *network, struct topic *out);

/* One message as sent to the clients, with its SSE id. */
struct live_msg {
	uint64_t id;
	struct topic topic;
	size_t len;
	char json[]; /* NUL-terminated, no newline */
};

struct live_ring {
	struct live_msg **slot;
	size_t cap, n, head; /* head: index of the oldest */
	uint64_t next_id;
};

/* first_id: the id of the first message (the plugin starts from the wall
 * clock in ms, so ids keep growing across restarts).  cap may be 0 (no
 * replay). -1 on out of memory. */
int live_ring_init(struct live_ring *r, size_t cap, uint64_t first_id);
void live_ring_free(struct live_ring *r);
/* Stores a copy of json[0..len) under the next id; the returned message is
 * valid until the ring drops it (or, with cap 0, until the next push).
 * NULL on out of memory. */
const struct live_msg *live_ring_push(struct live_ring *r, const struct topic *t,
				      const char *json, size_t len);
/* The i-th oldest message after id `after` (i from 0); NULL past the end.
 * When `after` is older than everything held, every message counts. */
const struct live_msg *live_ring_after(const struct live_ring *r, uint64_t after, size_t i);

#endif
