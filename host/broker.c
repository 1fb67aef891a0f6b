/* The broker front (subjects, prefix, subscriptions, the delivery queue,
 * metrics) and the `local` backend.  Every message, local or received from a
 * transport, goes through one bounded FIFO that a uv_idle_t drains on the
 * loop; the idle handle runs only while the queue is non-empty. */
#include "broker.h"

#include "build_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_backend.h"
#include "list.h"
#include "log.h"
#include "metrics.h"

#define PREFIX_MAX 128
#define WIRE_MAX (PREFIX_MAX + 1 + BROKER_SUBJECT_MAX + 1)

struct msg {
	struct msg *next;
	size_t len;
	const char *data; /* inside this allocation, after subject */
	char subject[];   /* without the prefix */
};

struct broker_sub {
	struct list link;
	struct broker *b;
	broker_msg_cb cb;
	void *ud;
	uint64_t id;     /* creation order: messages go to subs older than their delivery */
	void *be_handle; /* the backend's, if it subscribes */
	int dead;        /* unsubscribed during a delivery pass; freed after it */
	char *plugin;    /* metrics label; NULL = host */
	char pattern[];
};

struct broker {
	uv_loop_t *loop;
	struct metrics *metrics; /* NULL: not counted */
	uv_idle_t idle;
	const struct broker_backend *be;
	void *be_state;
	char prefix[PREFIX_MAX + 1];
	size_t prefix_len;

	struct list subs;
	uint64_t next_sub_id;

	struct msg *q_head, *q_tail;
	size_t q_count, q_bytes;
	size_t max_msgs, max_bytes;

	int delivering;
	int closed;

	int drop_logged;
	uint64_t drop_log_ms;
	uint64_t drops_unlogged;
};

static const char *label(const char *plugin) { return plugin ? plugin : "host"; }

/* ---- subjects -------------------------------------------------------- */

static int token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

int broker_subject_valid(const char *subject, int is_pattern)
{
	if (!subject || !*subject)
		return 0;
	const char *tok = subject;
	for (const char *p = subject;; p++) {
		if ((size_t)(p - subject) > BROKER_SUBJECT_MAX)
			return 0;
		if (*p == '.' || *p == '\0') {
			size_t n = (size_t)(p - tok);
			if (n == 0)
				return 0;
			if (*tok == '*' || *tok == '>') {
				if (!is_pattern || n != 1)
					return 0;
				if (*tok == '>' && *p != '\0')
					return 0;
			}
			if (*p == '\0')
				return 1;
			tok = p + 1;
		} else if (*p == '*' || *p == '>') {
			if (p != tok) /* "a*" : a wildcard must be a whole token */
				return 0;
		} else if (!token_char((unsigned char)*p)) {
			return 0;
		}
	}
}

int broker_subject_match(const char *pattern, const char *subject)
{
	if (!pattern || !subject)
		return 0;
	const char *p = pattern, *s = subject;
	for (;;) {
		size_t pl = strcspn(p, "."), sl = strcspn(s, ".");
		if (pl == 1 && p[0] == '>' && p[1] == '\0')
			return sl > 0;
		if (sl == 0)
			return 0;
		if (!(pl == 1 && p[0] == '*') && (pl != sl || memcmp(p, s, pl) != 0))
			return 0;
		p += pl;
		s += sl;
		if (*p == '\0' || *s == '\0')
			return *p == '\0' && *s == '\0';
		p++;
		s++;
	}
}

/* The deployment prefix: libconfig-level checks are looser than subject
 * tokens (config.c accepts any printable non-wildcard byte), so only what
 * would break the wire format is refused here. */
static int prefix_valid(const char *s)
{
	size_t n = strlen(s);
	if (n > PREFIX_MAX)
		return 0;
	if (n == 0)
		return 1;
	if (s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '*' || *s == '>' || *s == 0x7f)
			return 0;
	return 1;
}

/* prefix + "." + subject into out[WIRE_MAX]. */
static void wire_subject(const struct broker *b, const char *subject, char *out)
{
	if (b->prefix_len)
		snprintf(out, WIRE_MAX, "%s.%s", b->prefix, subject);
	else
		snprintf(out, WIRE_MAX, "%s", subject);
}

/* ---- queue ----------------------------------------------------------- */

static size_t msg_data_offset(size_t subject_len)
{
	size_t off = offsetof(struct msg, subject) + subject_len + 1;
	size_t a = _Alignof(max_align_t);
	return (off + a - 1) / a * a;
}

static void queue_free(struct broker *b)
{
	struct msg *m = b->q_head;
	while (m) {
		struct msg *next = m->next;
		free(m);
		m = next;
	}
	b->q_head = b->q_tail = NULL;
	b->q_count = b->q_bytes = 0;
}

static struct msg *queue_pop(struct broker *b)
{
	struct msg *m = b->q_head;
	if (!m)
		return NULL;
	b->q_head = m->next;
	if (!b->q_head)
		b->q_tail = NULL;
	b->q_count--;
	b->q_bytes -= m->len;
	return m;
}

static void on_idle(uv_idle_t *h);

int broker_incoming(struct broker *b, const char *wire, const void *data, size_t len)
{
	if (!b || !wire || (!data && len))
		return LAB_EINVAL;
	if (b->closed)
		return LAB_ESTATE;
	const char *subject = wire;
	if (b->prefix_len) {
		if (strncmp(wire, b->prefix, b->prefix_len) != 0 || wire[b->prefix_len] != '.')
			return LAB_EINVAL;
		subject = wire + b->prefix_len + 1;
	}
	if (!broker_subject_valid(subject, 0))
		return LAB_EINVAL;
	if (b->q_count >= b->max_msgs || len > b->max_bytes || b->q_bytes > b->max_bytes - len)
		return LAB_EBUSY;

	size_t slen = strlen(subject);
	size_t off = msg_data_offset(slen);
	struct msg *m = malloc(off + len + 1);
	if (!m)
		return LAB_ENOMEM;
	m->next = NULL;
	m->len = len;
	memcpy(m->subject, subject, slen + 1);
	char *d = (char *)m + off;
	if (len)
		memcpy(d, data, len);
	d[len] = '\0'; /* not a contract, but JSON readers that overrun stop here */
	m->data = d;

	if (b->q_tail)
		b->q_tail->next = m;
	else
		b->q_head = m;
	b->q_tail = m;
	b->q_count++;
	b->q_bytes += len;
	uv_idle_start(&b->idle, on_idle); /* no-op while already active */
	return 0;
}

/* ---- delivery -------------------------------------------------------- */

static void sub_free(struct broker_sub *s)
{
	list_del(&s->link);
	free(s->plugin);
	free(s);
}

/* Frees the subscriptions unsubscribed during a pass (all of them after a
 * close from inside a callback). */
static void reap(struct broker *b)
{
	struct list *p, *t;
	list_for_each_safe(p, t, &b->subs) {
		struct broker_sub *s = list_entry(p, struct broker_sub, link);
		if (s->dead || b->closed)
			sub_free(s);
	}
}

static void deliver(struct broker *b, const struct msg *m)
{
	uint64_t limit = b->next_sub_id;
	struct list *p = b->subs.next;
	while (p != &b->subs) {
		struct broker_sub *s = list_entry(p, struct broker_sub, link);
		if (!s->dead && s->id < limit && broker_subject_match(s->pattern, m->subject)) {
			metric_add(b->metrics, M_BROKER_MESSAGES, 1, label(s->plugin), "in");
			s->cb(m->subject, m->data, m->len, s->ud);
			if (b->closed)
				return;
		}
		/* s stays linked even if it was unsubscribed: freed only in reap() */
		p = p->next;
	}
}

static void on_idle(uv_idle_t *h)
{
	struct broker *b = h->data;
	/* Only what was queued before this pass: a subscriber that publishes
	 * from its callback cannot keep the loop from polling. */
	size_t n = b->q_count;
	b->delivering = 1;
	while (n-- > 0 && !b->closed) {
		struct msg *m = queue_pop(b);
		if (!m)
			break;
		deliver(b, m);
		free(m);
	}
	b->delivering = 0;
	reap(b);
	if (!b->closed && !b->q_head)
		uv_idle_stop(&b->idle);
}

/* ---- drops ----------------------------------------------------------- */

static void count_drop(struct broker *b, const char *plugin, const char *subject, int rc)
{
	metric_add(b->metrics, M_BROKER_DROPPED, 1, label(plugin));
	b->drops_unlogged++;
	uint64_t now = uv_hrtime() / 1000000;
	if (b->drop_logged && now - b->drop_log_ms < 1000)
		return;
	log_kv(LAB_LOG_WARN, plugin, "broker message dropped", LAB_FS("subject", subject),
	       LAB_FS("error", lab_strerror(rc)), LAB_FI("dropped", b->drops_unlogged));
	b->drop_logged = 1;
	b->drop_log_ms = now;
	b->drops_unlogged = 0;
}

/* ---- the local backend ----------------------------------------------- */

static int local_open(struct broker *b, uv_loop_t *loop, const struct host_conf *hc, void **state)
{
	*state = b;
	return 0;
}

static int local_publish(void *state, const char *wire, const void *data, size_t len)
{
	return broker_incoming(state, wire, data, len);
}

static void local_close(void *state) {}

static const struct broker_backend local_backend = {
	.name = "local",
	.open = local_open,
	.publish = local_publish,
	.close = local_close,
};

/* A transport backend joins this table, guarded by its configure conditional. */
#ifdef HAVE_NATS
extern const struct broker_backend broker_backend_nats; /* host/broker_nats.c */
#endif
static const struct broker_backend *const backends[] = {
	&local_backend,
#ifdef HAVE_NATS
	&broker_backend_nats,
#endif
};

/* ---- front ----------------------------------------------------------- */

static void on_closed(uv_handle_t *h) { free(h->data); }

int broker_open(uv_loop_t *loop, struct metrics *metrics, const struct host_conf *hc,
		struct broker **out)
{
	static int nats_logged;
	const char *backend = hc && hc->broker_backend ? hc->broker_backend : "local";
	const char *prefix = hc && hc->subject_prefix ? hc->subject_prefix : "lab";
	const struct broker_backend *be = NULL;

	if (!loop || !out)
		return LAB_EINVAL;
	*out = NULL;
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
		if (strcmp(backends[i]->name, backend) == 0)
			be = backends[i];
	if (!be && strcmp(backend, "nats") == 0) {
		if (!nats_logged) {
			nats_logged = 1;
			log_msg(LAB_LOG_ERROR, NULL,
				"broker backend nats is not available: labd was built without libnats");
		}
		return LAB_ENOTSUP;
	}
	if (!be) {
		log_kv(LAB_LOG_ERROR, NULL, "unknown broker backend", LAB_FS("backend", backend));
		return LAB_ECONFIG;
	}
	if (!prefix_valid(prefix)) {
		log_kv(LAB_LOG_ERROR, NULL, "bad broker subject prefix", LAB_FS("prefix", prefix));
		return LAB_ECONFIG;
	}

	struct broker *b = calloc(1, sizeof *b);
	if (!b)
		return LAB_ENOMEM;
	b->loop = loop;
	b->metrics = metrics;
	b->be = be;
	b->prefix_len = strlen(prefix);
	memcpy(b->prefix, prefix, b->prefix_len + 1);
	list_init(&b->subs);
	b->max_msgs = BROKER_QUEUE_MAX_MSGS;
	b->max_bytes = BROKER_QUEUE_MAX_BYTES;
	int rc = be->open(b, loop, hc, &b->be_state);
	if (rc < 0) {
		free(b);
		return rc;
	}
	uv_idle_init(loop, &b->idle);
	b->idle.data = b;
	*out = b;
	return 0;
}

void broker_close(struct broker *b)
{
	if (!b || b->closed)
		return;
	b->closed = 1;
	b->be->close(b->be_state);
	queue_free(b);
	if (b->delivering) {
		/* on_idle is on the stack and walking the list: it reaps. */
		struct list *p;
		for (p = b->subs.next; p != &b->subs; p = p->next)
			list_entry(p, struct broker_sub, link)->dead = 1;
	} else {
		reap(b);
	}
	uv_idle_stop(&b->idle);
	uv_close((uv_handle_t *)&b->idle, on_closed);
}

void broker_set_limits(struct broker *b, size_t max_msgs, size_t max_bytes)
{
	if (!b)
		return;
	if (max_msgs)
		b->max_msgs = max_msgs;
	if (max_bytes)
		b->max_bytes = max_bytes;
}

int broker_publish(struct broker *b, const char *plugin, const char *subject, const void *data,
		   size_t len)
{
	char wire[WIRE_MAX];
	if (!b || !subject || (!data && len))
		return LAB_EINVAL;
	if (b->closed)
		return LAB_ESTATE;
	if (!broker_subject_valid(subject, 0))
		return LAB_EINVAL;
	wire_subject(b, subject, wire);
	int rc = b->be->publish(b->be_state, wire, data, len);
	if (rc < 0) {
		count_drop(b, plugin, subject, rc);
		return rc;
	}
	metric_add(b->metrics, M_BROKER_MESSAGES, 1, label(plugin), "out");
	return 0;
}

int broker_subscribe(struct broker *b, const char *plugin, const char *pattern, broker_msg_cb cb,
		     void *ud, struct broker_sub **out)
{
	if (out)
		*out = NULL;
	if (!b || !pattern || !cb)
		return LAB_EINVAL;
	if (b->closed)
		return LAB_ESTATE;
	if (!broker_subject_valid(pattern, 1))
		return LAB_EINVAL;
	size_t plen = strlen(pattern);
	struct broker_sub *s = calloc(1, sizeof *s + plen + 1);
	if (!s)
		return LAB_ENOMEM;
	memcpy(s->pattern, pattern, plen + 1);
	if (plugin && !(s->plugin = strdup(plugin))) {
		free(s);
		return LAB_ENOMEM;
	}
	if (b->be->subscribe) {
		char wire[WIRE_MAX];
		wire_subject(b, pattern, wire);
		int rc = b->be->subscribe(b->be_state, wire, &s->be_handle);
		if (rc < 0) {
			free(s->plugin);
			free(s);
			return rc;
		}
	}
	s->b = b;
	s->cb = cb;
	s->ud = ud;
	s->id = b->next_sub_id++;
	list_add_tail(&b->subs, &s->link);
	if (out)
		*out = s;
	return 0;
}

void broker_unsubscribe(struct broker_sub *s)
{
	if (!s || s->dead)
		return;
	struct broker *b = s->b;
	if (b->be->unsubscribe && !b->closed)
		b->be->unsubscribe(b->be_state, s->be_handle);
	s->dead = 1;
	if (!b->delivering)
		sub_free(s);
}

int broker_subscribed(const struct broker *b, const char *plugin, const char *subject)
{
	if (!b || b->closed || !subject)
		return 0;
	for (struct list *l = b->subs.next; l != &b->subs; l = l->next) {
		const struct broker_sub *s = list_entry(l, struct broker_sub, link);
		if (s->dead || (plugin ? !s->plugin || strcmp(s->plugin, plugin) != 0 : s->plugin != NULL))
			continue;
		if (broker_subject_match(s->pattern, subject))
			return 1;
	}
	return 0;
}

int broker_ready(struct broker *b, const char **reason)
{
	if (reason)
		*reason = NULL;
	if (!b)
		return LAB_EINVAL;
	if (b->closed) {
		if (reason)
			*reason = "broker is closed";
		return LAB_ESTATE;
	}
	if (!b->be->ready)
		return 0;
	return b->be->ready(b->be_state, reason);
}
