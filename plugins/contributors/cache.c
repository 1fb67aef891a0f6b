/*
 * contributors — the bucket cache of countries and users (contrib.h,
 * common/window_cache.h): the stable buckets of a window are kept in state
 * as the document elements they produced, per network, and only the first
 * and the unstable buckets are asked of ClickHouse.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contrib.h"

void contrib_cache_free(struct contrib *c)
{
	wc_free(&c->cache);
	free(c->fp);
	c->fp = NULL;
	memset(&c->plan, 0, sizeof c->plan);
}

int contrib_cache_plan(struct contrib *c, int p, long w, int64_t start)
{
	struct buf fp = { 0 };
	const char *why;
	contrib_cache_free(c);
	int n = snprintf(c->cache_key, sizeof c->cache_key, "cache/%s/%s", contrib_proc_name[p],
			 c->wins[w].file);
	if (n < 0 || (size_t)n >= sizeof c->cache_key)
		return LAB_ERANGE;
	/* what the rows answer: query version, step and the networks (a row
	 * names its network; another list leaves buckets incomplete) */
	buf_puts(&fp, contrib_proc_name[p]);
	buf_puts(&fp, "/q" CONTRIB_QUERY_VERSION "/step=");
	buf_i64(&fp, c->wins[w].step);
	buf_puts(&fp, "/nets=");
	for (size_t i = 0; i < c->nnets; i++) {
		if (i)
			buf_putc(&fp, ',');
		buf_puts(&fp, c->nets[i]);
	}
	if (fp.oom) {
		buf_free(&fp);
		return LAB_ENOMEM;
	}
	c->fp = fp.data;
	int rc = wc_load(c->ctx, &c->cache, c->cache_key, c->fp, CACHE_COLS, 0, CACHE_SMASK, &why);
	if (rc < 0)
		return rc;
	if (why)
		lab_logkv(c->ctx, LAB_LOG_INFO, "bucket cache dropped; full recompute",
			  LAB_FS("key", c->cache_key), LAB_FS("reason", why));
	int64_t now = contrib_now(c), last = c->cache.last_full;
	int full = c->cache_max_bytes == 0 || c->full_interval == 0 ||
		   now - last >= c->full_interval || last > now || last < c->full_requested;
	wc_plan(&c->cache, now, start, c->wins[w].step, c->settle_margin, full, &c->plan);
	return 0;
}

static int cmp_net_t(const void *a, const void *b)
{
	const struct contrib_elem *x = a, *y = b;
	if (x->net != y->net)
		return x->net < y->net ? -1 : 1;
	return x->t < y->t ? -1 : x->t > y->t;
}

static int cmp_t_net(const void *a, const void *b)
{
	const struct contrib_elem *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->net < y->net ? -1 : x->net > y->net;
}

static int push(struct contrib_elem **e, size_t *n, int64_t t, size_t net, const char *text)
{
	struct contrib_elem *p = realloc(*e, (*n + 1) * sizeof *p);
	if (!p)
		return LAB_ENOMEM;
	*e = p;
	if (!(p[*n].text = strdup(text)))
		return LAB_ENOMEM;
	p[*n].t = t;
	p[*n].net = net;
	(*n)++;
	return 0;
}

int contrib_cache_merge(struct contrib *c, int p, long w, struct contrib_elem **e, size_t *n)
{
	const struct wc_plan *pl = &c->plan;
	const struct wc *old = &c->cache;
	struct wc nc = { .ncols = CACHE_COLS, .smask = CACHE_SMASK };
	int rc;
	for (size_t i = 0; i < old->n; i++) {
		const union wc_cell *r = wc_row(old, i);
		size_t net = 0;
		if (r[0].i < pl->use_from || r[0].i >= pl->use_to)
			continue;
		while (net < c->nnets && strcmp(c->nets[net], r[1].s))
			net++;
		if (net == c->nnets) /* the fingerprint names the networks */
			continue;
		if ((rc = push(e, n, r[0].i, net, r[2].s)) < 0)
			return rc;
	}
	if (*n)
		qsort(*e, *n, sizeof **e, cmp_t_net);
	for (size_t i = 0; i < *n; i++) {
		const struct contrib_elem *x = &(*e)[i];
		union wc_cell row[CACHE_COLS];
		if (x->t < pl->keep_from || x->t >= pl->keep_to)
			continue;
		row[0].i = x->t;
		row[1].s = strdup(c->nets[x->net]);
		row[2].s = strdup(x->text);
		if (!row[1].s || !row[2].s) {
			free(row[1].s);
			free(row[2].s);
			wc_free(&nc);
			return LAB_ENOMEM;
		}
		if ((rc = wc_add(&nc, row)) < 0) {
			wc_free(&nc);
			return rc;
		}
	}
	wc_commit(c->ctx, old, &nc, pl, contrib_now(c), c->wins[w].step, c->cache_key, c->fp,
		  c->cache_max_bytes, NULL);
	int whole = pl->use_from == pl->use_to;
	lab_logkv(c->ctx, LAB_LOG_INFO, "window computed", LAB_FS("processor", contrib_proc_name[p]),
		  LAB_FS("window", c->wins[w].file), LAB_FI("incremental", !whole),
		  LAB_FI("cached_buckets", (int64_t)nc.n));
	wc_free(&nc);
	if (*n)
		qsort(*e, *n, sizeof **e, cmp_net_t);
	return 0;
}
