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

void sd_windows_json(struct buf *b, struct sd_vote *votes, size_t n)
{
	buf_putc(b, '[');
	if (n == 0) {
		buf_putc(b, ']');
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
			buf_putc(b, ',');
		buf_puts(b, "{\"start_ms\":");
		buf_i64(b, w);
		buf_puts(b, ",\"end_ms\":");
		buf_i64(b, w + SD_WINDOW_MS);
		buf_puts(b, ",\"validator_indices\":[");
		size_t j = i;
		for (; j < n && votes[j].ms == w; j++) {
			if (j > i)
				buf_putc(b, ',');
			buf_u64(b, votes[j].validator);
		}
		buf_puts(b, "]}");
		i = j;
	}
	buf_putc(b, ']');
}

void sd_put_int(struct buf *b, const struct sd_str *v)
{
	size_t i = 0;
	if (!v->p || v->n == 0 || v->n > 20) {
		buf_puts(b, "null");
		return;
	}
	if (v->p[0] == '-')
		i = 1;
	if (i == v->n) {
		buf_puts(b, "null");
		return;
	}
	for (size_t k = i; k < v->n; k++)
		if (v->p[k] < '0' || v->p[k] > '9') {
			buf_puts(b, "null");
			return;
		}
	buf_append(b, v->p, v->n);
}

void sd_put_str(struct buf *b, const struct sd_str *v)
{
	if (!v->p) {
		buf_puts(b, "null");
		return;
	}
	size_t n = v->n;
	while (n && v->p[n - 1] == '\0')
		n--;
	buf_json_str(b, v->p, n);
}

static void put_time(struct buf *b, const struct sd_str *v)
{
	char t[24];
	if (!v->p || v->n == 0 || v->n >= sizeof t) {
		buf_puts(b, "null");
		return;
	}
	memcpy(t, v->p, v->n);
	t[v->n] = '\0';
	char *end;
	long long x = strtoll(t, &end, 10);
	if (*end) {
		buf_puts(b, "null");
		return;
	}
	buf_iso(b, x, -1);
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

static void put_node(struct buf *b, const struct sd_seen *s, const struct geo_table *geo)
{
	const char *u;
	size_t ulen;
	double lat, lon;
	sd_username(s->client.p, s->client.n, &u, &ulen);
	buf_json_str(b, s->client.p, s->client.n);
	buf_puts(b, ":{\"name\":");
	buf_json_str(b, s->client.p, s->client.n);
	buf_puts(b, ",\"username\":");
	buf_json_str(b, u, ulen);
	buf_puts(b, ",\"geo\":{\"city\":");
	buf_json_str(b, s->city.p, s->city.n);
	buf_puts(b, ",\"country\":");
	buf_json_str(b, s->country.p, s->country.n);
	buf_puts(b, ",\"continent\":");
	buf_json_str(b, s->continent.p, s->continent.n);
	if (geo && geo_lookup(geo, s->city.p, s->city.n, s->country.p, s->country.n, s->cc.p,
			      s->cc.n, s->continent.p, s->continent.n, &lat, &lon)) {
		buf_puts(b, ",\"latitude\":");
		buf_f64(b, lat);
		buf_puts(b, ",\"longitude\":");
		buf_f64(b, lon);
		buf_puts(b, "}}");
	} else {
		buf_puts(b, ",\"latitude\":null,\"longitude\":null}}");
	}
}

/* {CLIENT: ms} or {CLIENT: {"IDX": ms}}; rows are grouped by client (sorted). */
static void put_timings(struct buf *b, const struct sd_seen *v, size_t n, int blobs)
{
	buf_putc(b, '{');
	for (size_t i = 0; i < n;) {
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, v[i].client.p, v[i].client.n);
		buf_putc(b, ':');
		if (!blobs) {
			buf_i64(b, v[i].ms);
			size_t j = i + 1;
			while (j < n && sd_str_eq(&v[j].client, &v[i].client))
				j++; /* duplicates: the first counts */
			i = j;
			continue;
		}
		buf_putc(b, '{');
		size_t j = i;
		int64_t last = -1;
		for (; j < n && sd_str_eq(&v[j].client, &v[i].client); j++) {
			if (v[j].blob == last)
				continue;
			if (j > i)
				buf_putc(b, ',');
			buf_putc(b, '"');
			buf_i64(b, v[j].blob);
			buf_puts(b, "\":");
			buf_i64(b, v[j].ms);
			last = v[j].blob;
		}
		buf_putc(b, '}');
		i = j;
	}
	buf_putc(b, '}');
}

int sd_build(struct buf *b, struct sd_slot *s, const char *network, int64_t processed_ms,
	     int64_t processing_ms, const struct geo_table *geo)
{
	int rc = sd_build_open(b, s, network, processed_ms, processing_ms, geo);
	buf_putc(b, '}');
	return rc < 0 || b->oom ? -2 : 0;
}

int sd_build_open(struct buf *b, struct sd_slot *s, const char *network, int64_t processed_ms,
		  int64_t processing_ms, const struct geo_table *geo)
{
	static const char *const timing_names[4] = { "block_seen", "blob_seen",
						     "block_first_seen_p2p",
						     "blob_first_seen_p2p" };
	int64_t psec = processed_ms >= 0 ? processed_ms / 1000 : -((-processed_ms + 999) / 1000);
	buf_puts(b, "{\"slot\":");
	buf_u64(b, s->slot);
	buf_puts(b, ",\"network\":");
	buf_json_str(b, network, strlen(network));
	buf_puts(b, ",\"processed_at\":");
	buf_iso(b, psec, (int)(processed_ms - psec * 1000) * 1000);
	buf_puts(b, ",\"processing_time_ms\":");
	buf_i64(b, processing_ms);
	buf_puts(b, ",\"block\":{");
	for (size_t i = 0; i < SD_BLOCK_FIELDS; i++) {
		if (i)
			buf_putc(b, ',');
		buf_putc(b, '"');
		buf_puts(b, fields[i].name);
		buf_puts(b, "\":");
		if (fields[i].kind == SD_INT)
			sd_put_int(b, &s->block[i]);
		else if (fields[i].kind == SD_TIME)
			put_time(b, &s->block[i]);
		else
			sd_put_str(b, &s->block[i]);
	}
	buf_puts(b, "},\"proposer\":{\"slot\":");
	buf_u64(b, s->slot);
	buf_puts(b, ",\"proposer_validator_index\":");
	buf_u64(b, s->proposer);
	buf_puts(b, "},\"entity\":");
	if (s->entity)
		buf_json_str(b, s->entity, s->entity_len);
	else
		buf_puts(b, "null");

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
	buf_puts(b, ",\"nodes\":{");
	int firstnode = 1;
	for (size_t i = 0; i < n; i++) {
		if (i && sd_str_eq(&all[i].s->client, &all[i - 1].s->client))
			continue;
		if (!firstnode)
			buf_putc(b, ',');
		firstnode = 0;
		put_node(b, all[i].s, geo);
	}
	free(all);
	buf_puts(b, "},\"timings\":{");
	for (int k = 0; k < 4; k++) {
		if (k)
			buf_putc(b, ',');
		buf_putc(b, '"');
		buf_puts(b, timing_names[k]);
		buf_puts(b, "\":");
		put_timings(b, s->seen[k], s->nseen[k], k == SD_BLOB_SEEN || k == SD_BLOB_P2P);
	}
	buf_puts(b, "},\"attestations\":{\"windows\":");
	sd_windows_json(b, s->votes, s->nvotes);
	buf_puts(b, ",\"maximum_votes\":");
	buf_u64(b, s->max_votes);
	buf_putc(b, '}');
	return b->oom ? -2 : 0;
}
