/* slotdoc — the beacon slot document (SPEC §9.3); see slotdoc.h. */
#include "slotdoc.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int kind;
} fields[SD_BLOCK_FIELDS] = {
	{ "slot", SD_INT },
	{ "slot_start_date_time", SD_TIME },
	{ "epoch", SD_INT },
	{ "epoch_start_date_time", SD_TIME },
	{ "block_root", SD_STR },
	{ "block_version", SD_STR },
	{ "block_total_bytes", SD_INT },
	{ "block_total_bytes_compressed", SD_INT },
	{ "parent_root", SD_STR },
	{ "state_root", SD_STR },
	{ "proposer_index", SD_INT },
	{ "eth1_data_block_hash", SD_STR },
	{ "eth1_data_deposit_root", SD_STR },
	{ "execution_payload_block_hash", SD_STR },
	{ "execution_payload_block_number", SD_INT },
	{ "execution_payload_fee_recipient", SD_STR },
	{ "execution_payload_base_fee_per_gas", SD_INT },
	{ "execution_payload_blob_gas_used", SD_INT },
	{ "execution_payload_excess_blob_gas", SD_INT },
	{ "execution_payload_gas_limit", SD_INT },
	{ "execution_payload_gas_used", SD_INT },
	{ "execution_payload_state_root", SD_STR },
	{ "execution_payload_parent_hash", SD_STR },
	{ "execution_payload_transactions_count", SD_INT },
	{ "execution_payload_transactions_total_bytes", SD_INT },
	{ "execution_payload_transactions_total_bytes_compressed", SD_INT },
};

const char *sd_block_field(size_t i, int *kind)
{
	if (i >= SD_BLOCK_FIELDS)
		return NULL;
	if (kind)
		*kind = fields[i].kind;
	return fields[i].name;
}

void sd_username(const char *name, size_t n, const char **u, size_t *ulen)
{
	const char *slash = memchr(name, '/', n);
	*u = "";
	*ulen = 0;
	if (!slash)
		return;
	for (size_t i = 0; i + 11 <= n; i++)
		if (!memcmp(name + i, "ethpandaops", 11)) {
			*u = "ethpandaops";
			*ulen = 11;
			return;
		}
	const char *start = slash + 1;
	const char *end = memchr(start, '/', n - (size_t)(start - name));
	*u = start;
	*ulen = end ? (size_t)(end - start) : n - (size_t)(start - name);
}

int64_t sd_window_start(int64_t ms, int64_t first)
{
	int64_t d = ms - first;
	int64_t q = d >= 0 ? d / SD_WINDOW_MS : -((-d + SD_WINDOW_MS - 1) / SD_WINDOW_MS);
	int64_t m = q * SD_WINDOW_MS + first;
	int64_t r = m % SD_WINDOW_MS;
	if (r < 0)
		r += SD_WINDOW_MS;
	return m - r;
}

/* Votes whose ms already holds the window start. */
static int cmp_vote(const void *a, const void *b)
{
	const struct sd_vote *x = a, *y = b;
	if (x->ms != y->ms)
		return x->ms < y->ms ? -1 : 1;
	if (x->validator != y->validator)
		return x->validator < y->validator ? -1 : 1;
	return 0;
}

void sd_windows_json(struct jbuf *b, struct sd_vote *votes, size_t n)
{
	jbuf_char(b, '[');
	if (n == 0) {
		jbuf_char(b, ']');
		return;
	}
	int64_t first = votes[0].ms;
	for (size_t i = 1; i < n; i++)
		if (votes[i].ms < first)
			first = votes[i].ms;
	for (size_t i = 0; i < n; i++)
		votes[i].ms = sd_window_start(votes[i].ms, first);
	qsort(votes, n, sizeof *votes, cmp_vote);
	size_t i = 0;
	while (i < n) {
		int64_t w = votes[i].ms;
		if (i)
			jbuf_char(b, ',');
		jbuf_lit(b, "{\"start_ms\":");
		jbuf_i64(b, w);
		jbuf_lit(b, ",\"end_ms\":");
		jbuf_i64(b, w + SD_WINDOW_MS);
		jbuf_lit(b, ",\"validator_indices\":[");
		size_t j = i;
		for (; j < n && votes[j].ms == w; j++) {
			if (j > i)
				jbuf_char(b, ',');
			jbuf_u64(b, votes[j].validator);
		}
		jbuf_lit(b, "]}");
		i = j;
	}
	jbuf_char(b, ']');
}

void sd_put_int(struct jbuf *b, const struct sd_str *v)
{
	size_t i = 0;
	if (!v->p || v->n == 0 || v->n > 20) {
		jbuf_lit(b, "null");
		return;
	}
	if (v->p[0] == '-')
		i = 1;
	if (i == v->n) {
		jbuf_lit(b, "null");
		return;
	}
	for (size_t k = i; k < v->n; k++)
		if (v->p[k] < '0' || v->p[k] > '9') {
			jbuf_lit(b, "null");
			return;
		}
	jbuf_raw(b, v->p, v->n);
}

void sd_put_str(struct jbuf *b, const struct sd_str *v)
{
	if (!v->p) {
		jbuf_lit(b, "null");
		return;
	}
	size_t n = v->n;
	while (n && v->p[n - 1] == '\0')
		n--;
	jbuf_str(b, v->p, n);
}

static void put_time(struct jbuf *b, const struct sd_str *v)
{
	char t[24];
	if (!v->p || v->n == 0 || v->n >= sizeof t) {
		jbuf_lit(b, "null");
		return;
	}
	memcpy(t, v->p, v->n);
	t[v->n] = '\0';
	char *end;
	long long x = strtoll(t, &end, 10);
	if (*end) {
		jbuf_lit(b, "null");
		return;
	}
	jbuf_iso(b, x, -1);
}

static int sd_str_eq(const struct sd_str *a, const struct sd_str *b)
{
	return a->n == b->n && (a->n == 0 || !memcmp(a->p, b->p, a->n));
}

struct seen_ref {
	const struct sd_seen *s;
	size_t order; /* list index, then row: the first list a client appears in wins */
};

static int cmp_seen_ref(const void *a, const void *b)
{
	const struct seen_ref *x = a, *y = b;
	size_t n = x->s->client.n < y->s->client.n ? x->s->client.n : y->s->client.n;
	int c = n ? memcmp(x->s->client.p, y->s->client.p, n) : 0;
	if (c)
		return c;
	if (x->s->client.n != y->s->client.n)
		return x->s->client.n < y->s->client.n ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order);
}

static void put_node(struct jbuf *b, const struct sd_seen *s, const struct geo_table *geo)
{
	const char *u;
	size_t ulen;
	double lat, lon;
	sd_username(s->client.p, s->client.n, &u, &ulen);
	jbuf_str(b, s->client.p, s->client.n);
	jbuf_lit(b, ":{\"name\":");
	jbuf_str(b, s->client.p, s->client.n);
	jbuf_lit(b, ",\"username\":");
	jbuf_str(b, u, ulen);
	jbuf_lit(b, ",\"geo\":{\"city\":");
	jbuf_str(b, s->city.p, s->city.n);
	jbuf_lit(b, ",\"country\":");
	jbuf_str(b, s->country.p, s->country.n);
	jbuf_lit(b, ",\"continent\":");
	jbuf_str(b, s->continent.p, s->continent.n);
	if (geo && geo_lookup(geo, s->city.p, s->city.n, s->country.p, s->country.n, s->cc.p,
			      s->cc.n, s->continent.p, s->continent.n, &lat, &lon)) {
		jbuf_lit(b, ",\"latitude\":");
		jbuf_f64(b, lat);
		jbuf_lit(b, ",\"longitude\":");
		jbuf_f64(b, lon);
		jbuf_lit(b, "}}");
	} else {
		jbuf_lit(b, ",\"latitude\":null,\"longitude\":null}}");
	}
}

/* {CLIENT: ms} or {CLIENT: {"IDX": ms}}; rows are grouped by client (sorted). */
static void put_timings(struct jbuf *b, const struct sd_seen *v, size_t n, int blobs)
{
	jbuf_char(b, '{');
	for (size_t i = 0; i < n;) {
		if (i)
			jbuf_char(b, ',');
		jbuf_str(b, v[i].client.p, v[i].client.n);
		jbuf_char(b, ':');
		if (!blobs) {
			jbuf_i64(b, v[i].ms);
			size_t j = i + 1;
			while (j < n && sd_str_eq(&v[j].client, &v[i].client))
				j++; /* duplicates: the first counts */
			i = j;
			continue;
		}
		jbuf_char(b, '{');
		size_t j = i;
		int64_t last = -1;
		for (; j < n && sd_str_eq(&v[j].client, &v[i].client); j++) {
			if (v[j].blob == last)
				continue;
			if (j > i)
				jbuf_char(b, ',');
			jbuf_char(b, '"');
			jbuf_i64(b, v[j].blob);
			jbuf_lit(b, "\":");
			jbuf_i64(b, v[j].ms);
			last = v[j].blob;
		}
		jbuf_char(b, '}');
		i = j;
	}
	jbuf_char(b, '}');
}

int sd_build(struct jbuf *b, struct sd_slot *s, const char *network, int64_t processed_ms,
	     int64_t processing_ms, const struct geo_table *geo)
{
	int rc = sd_build_open(b, s, network, processed_ms, processing_ms, geo);
	jbuf_char(b, '}');
	return rc < 0 || b->oom ? -2 : 0;
}

int sd_build_open(struct jbuf *b, struct sd_slot *s, const char *network, int64_t processed_ms,
		  int64_t processing_ms, const struct geo_table *geo)
{
	static const char *const timing_names[4] = { "block_seen", "blob_seen",
						     "block_first_seen_p2p",
						     "blob_first_seen_p2p" };
	int64_t psec = processed_ms >= 0 ? processed_ms / 1000 : -((-processed_ms + 999) / 1000);
	jbuf_lit(b, "{\"slot\":");
	jbuf_u64(b, s->slot);
	jbuf_lit(b, ",\"network\":");
	jbuf_str(b, network, strlen(network));
	jbuf_lit(b, ",\"processed_at\":");
	jbuf_iso(b, psec, (int)(processed_ms - psec * 1000) * 1000);
	jbuf_lit(b, ",\"processing_time_ms\":");
	jbuf_i64(b, processing_ms);
	jbuf_lit(b, ",\"block\":{");
	for (size_t i = 0; i < SD_BLOCK_FIELDS; i++) {
		if (i)
			jbuf_char(b, ',');
		jbuf_char(b, '"');
		jbuf_lit(b, fields[i].name);
		jbuf_lit(b, "\":");
		if (fields[i].kind == SD_INT)
			sd_put_int(b, &s->block[i]);
		else if (fields[i].kind == SD_TIME)
			put_time(b, &s->block[i]);
		else
			sd_put_str(b, &s->block[i]);
	}
	jbuf_lit(b, "},\"proposer\":{\"slot\":");
	jbuf_u64(b, s->slot);
	jbuf_lit(b, ",\"proposer_validator_index\":");
	jbuf_u64(b, s->proposer);
	jbuf_lit(b, "},\"entity\":");
	if (s->entity)
		jbuf_str(b, s->entity, s->entity_len);
	else
		jbuf_lit(b, "null");

	/* nodes: every client of the four lists once, first list first */
	size_t total = 0;
	for (int k = 0; k < 4; k++)
		total += s->nseen[k];
	struct seen_ref *all = calloc(total ? total : 1, sizeof *all);
	if (!all)
		return -2;
	size_t n = 0;
	for (int k = 0; k < 4; k++)
		for (size_t i = 0; i < s->nseen[k]; i++, n++) {
			all[n].s = &s->seen[k][i];
			all[n].order = n;
		}
	qsort(all, n, sizeof *all, cmp_seen_ref);
	jbuf_lit(b, ",\"nodes\":{");
	int firstnode = 1;
	for (size_t i = 0; i < n; i++) {
		if (i && sd_str_eq(&all[i].s->client, &all[i - 1].s->client))
			continue;
		if (!firstnode)
			jbuf_char(b, ',');
		firstnode = 0;
		put_node(b, all[i].s, geo);
	}
	free(all);
	jbuf_lit(b, "},\"timings\":{");
	for (int k = 0; k < 4; k++) {
		if (k)
			jbuf_char(b, ',');
		jbuf_char(b, '"');
		jbuf_lit(b, timing_names[k]);
		jbuf_lit(b, "\":");
		put_timings(b, s->seen[k], s->nseen[k], k == SD_BLOB_SEEN || k == SD_BLOB_P2P);
	}
	jbuf_lit(b, "},\"attestations\":{\"windows\":");
	sd_windows_json(b, s->votes, s->nvotes);
	jbuf_lit(b, ",\"maximum_votes\":");
	jbuf_u64(b, s->max_votes);
	jbuf_char(b, '}');
	return b->oom ? -2 : 0;
}
