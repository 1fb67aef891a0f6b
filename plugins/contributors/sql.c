/*
 * contributors — the queries (SPEC §9.2) and their answers (contrib.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contrib.h"

/* ---- queries ---------------------------------------------------------------
 * All portable to ClickHouse 18.16 (SPEC §11).  `?` are bound by the host. */

#define PUBLIC_ROWS                                                                 \
	" FROM beacon_api_eth_v1_events_block FINAL"                                \
	" WHERE slot_start_date_time BETWEEN ? AND ?"                               \
	" AND meta_client_name != '' AND meta_client_name IS NOT NULL"              \
	" AND meta_network_name IN (%s)"

static const char SQL_SUMMARY[] =
	"SELECT net, dk.1 AS dim, dk.2 AS k, count() AS total, sum(pub) AS public"
	" FROM (SELECT net, pub, arrayJoin([('', ''), ('countries', country),"
	" ('continents', continent), ('cities', city), ('consensus_implementations', cons)]) AS dk"
	" FROM (SELECT meta_network_name AS net, meta_client_geo_country AS country,"
	" meta_client_geo_continent_code AS continent, meta_client_geo_city AS city,"
	" meta_client_name AS name, meta_consensus_implementation AS cons,"
	" if(name LIKE 'ethpandaops%%', 0, 1) AS pub" PUBLIC_ROWS
	" GROUP BY net, country, continent, city, name, cons))"
	" GROUP BY net, dim, k ORDER BY net, dim, k";

/* countries and users read two time ranges (window_cache.h's plan: the
 * first, partial bucket and everything after the cached buckets; a full run
 * passes the whole window and an empty second range). */
#define SERIES_ROWS                                                                 \
	" FROM beacon_api_eth_v1_events_block FINAL"                                \
	" WHERE (slot_start_date_time BETWEEN ? AND ? OR slot_start_date_time BETWEEN ? AND ?)" \
	" AND meta_client_name != '' AND meta_client_name IS NOT NULL"              \
	" AND meta_network_name IN (%s)"

static const char SQL_COUNTRIES[] =
	"SELECT meta_network_name AS net,"
	" toInt64(intDiv(toUInt32(slot_start_date_time), ?) * ?) AS t,"
	" meta_client_geo_country AS k, uniqExact(meta_client_name) AS n" SERIES_ROWS
	" AND meta_client_name NOT LIKE 'ethpandaops%%'"
	" GROUP BY net, t, k ORDER BY net, t, k";

/*
 * Usernames (SPEC §9.2) without regular expressions: ClickHouse's RE2 works
 * on UTF-8, and `[^/]+` does not match invalid UTF-8 bytes, so
 * extractAll(name, '/([^/]+)/[^/]+$') yields '' for a name like
 * "pub-x/\xff\xfeuser/node" although the rule is about bytes.  These are
 * byte-exact on every ClickHouse version:
 *   USER_TAIL  /([^/]+)/[^/]+$ — in the reversed name r, i = the first '/',
 *              which must not be the first byte (last part non-empty), and
 *              the next '/' after it must exist and not follow at once;
 *   USER_MID   /([^/]+)/[^/]+/ — the first part p[k] (k >= 2: a '/' before
 *              it) that is non-empty, followed by a non-empty part that is
 *              itself followed by a '/'.
 * Both read columns r, i, r2, j and p, defined by USER_COLS over `name`.
 */
#define USER_COLS                                                                   \
	" reverse(name) AS r, position(r, '/') AS i, substring(r, i + 1) AS r2,"    \
	" position(r2, '/') AS j, splitByChar('/', name) AS p"
#define USER_TAIL "if(i > 1 AND j > 1, reverse(substring(r2, 1, j - 1)), '')"
#define USER_MID                                                                    \
	"arrayElement(p, arrayFirst(x -> x >= 2 AND x + 2 <= length(p) AND p[x] != ''" \
	" AND p[x + 1] != '', arrayEnumerate(p)))"

static const char SQL_USERS[] =
	"SELECT net, t, k, uniqExact(name) AS n FROM ("
	"SELECT meta_network_name AS net,"
	" toInt64(intDiv(toUInt32(slot_start_date_time), ?) * ?) AS t,"
	" meta_client_name AS name," USER_COLS ", " USER_TAIL " AS k" SERIES_ROWS
	" AND meta_client_name NOT LIKE 'ethpandaops%%')"
	" GROUP BY net, t, k ORDER BY net, t, k";

static const char SQL_USUM[] =
	"SELECT username, net, name, cons, consv, country, city, continent, slot, sst_unix,"
	" impl, ver FROM ("
	"SELECT multiIf(name LIKE 'pub%%', " USER_TAIL ", name LIKE 'ethpandaops%%', 'ethpandaops', "
	USER_MID ") AS username, net, name, cons, consv, country, city, continent, slot,"
	" toUnixTimestamp(sst) AS sst_unix, impl, ver," USER_COLS " FROM ("
	"SELECT meta_network_name AS net, meta_client_name AS name,"
	" meta_consensus_implementation AS cons, meta_consensus_version AS consv,"
	" meta_client_geo_country AS country, meta_client_geo_city AS city,"
	" meta_client_geo_continent_code AS continent, slot, slot_start_date_time AS sst,"
	" meta_client_implementation AS impl, meta_client_version AS ver" PUBLIC_ROWS
	" ORDER BY name, sst DESC, event_date_time DESC, net, slot DESC, cons, consv, impl, ver,"
	" country, city, continent"
	" LIMIT 1 BY name)) ORDER BY username, name";

static void on_query(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *rows, void *ud)
{
	struct contrib *c = ud;
	long w;
	int p = contrib_task(c, contrib_job(c), &w);
	int rc = 0;
	if (status < 0) {
		lab_logkv(ctx, LAB_LOG_ERROR, "query failed", LAB_FS("processor", contrib_proc_name[p]),
			  LAB_FS("error", lab_strerror(status)), LAB_FS("message", errmsg ? errmsg : ""));
		contrib_job_done(c, status);
		return;
	}
	size_t nr = ctx->api->rows_count(rows);
	int cached = 0; /* cached buckets in the window */
	for (size_t i = 0; (p == P_COUNTRIES || p == P_USERS) && i < c->cache.n; i++) {
		int64_t t = wc_row(&c->cache, i)[0].i;
		cached |= t >= c->plan.use_from && t < c->plan.use_to;
	}
	if (nr == 0 && !cached) {
		lab_logkv(ctx, LAB_LOG_INFO, "no rows, nothing stored", LAB_FS("processor", contrib_proc_name[p]),
			  LAB_FS("window", w >= 0 ? c->wins[w].file : ""));
		/* summary / user_summaries: no write, and not recorded (retried next
		 * time); a window: not recorded, the processor still is. */
		contrib_job_done(c, WJ_NORECORD);
		return;
	}
	c->row_err = 0;
	rc = contrib_build(c, p, w, rows, nr);
	if (rc == 0 && c->row_err < 0) {
		lab_logkv(ctx, LAB_LOG_ERROR, "malformed ClickHouse answer, nothing stored",
			  LAB_FS("processor", contrib_proc_name[p]),
			  LAB_FS("window", w >= 0 ? c->wins[w].file : ""), LAB_FI("rows", (int64_t)nr));
		contrib_job_done(c, LAB_EPARSE);
		return;
	}
	if (rc < 0) {
		lab_logkv(ctx, LAB_LOG_ERROR, "cannot build documents", LAB_FS("processor", contrib_proc_name[p]),
			  LAB_FS("error", lab_strerror(rc)));
		contrib_job_done(c, rc);
		return;
	}
	lab_logkv(ctx, LAB_LOG_INFO, "storing documents", LAB_FS("processor", contrib_proc_name[p]),
		  LAB_FS("window", w >= 0 ? c->wins[w].file : ""), LAB_FI("rows", (int64_t)nr),
		  LAB_FI("documents", (int64_t)c->ndocs));
	contrib_store(c);
}


int contrib_query(struct contrib *c, int p, long w)
{
	const char *tmpl = p == P_SUMMARY ? SQL_SUMMARY :
			   p == P_COUNTRIES ? SQL_COUNTRIES :
			   p == P_USERS ? SQL_USERS : SQL_USUM;
	size_t np = c->nnets, k = 0;
	char *marks = malloc(np * 3 + 1), *sql = NULL;
	lab_param *params = calloc(np + 6, sizeof *params);
	int rc = LAB_ENOMEM;
	if (!marks || !params)
		goto out;
	marks[0] = '\0';
	for (size_t i = 0; i < np; i++)
		strcat(marks, i ? ",?" : "?");
	size_t sl = strlen(tmpl) + strlen(marks) + 1;
	if (!(sql = malloc(sl)))
		goto out;
	snprintf(sql, sl, tmpl, marks);
	int64_t start;
	if (p == P_SUMMARY)
		start = contrib_now(c) - 3600;
	else if (p == P_USUM)
		start = contrib_now(c) - 86400;
	else
		start = contrib_now(c) + c->wins[w].range;
	if (p == P_COUNTRIES || p == P_USERS) {
		if ((rc = contrib_cache_plan(c, p, w, start < 0 ? 0 : start)) < 0)
			goto out;
		params[k++] = LAB_PUINT(c->wins[w].step);
		params[k++] = LAB_PUINT(c->wins[w].step);
		params[k++] = LAB_PTIME(c->plan.a0);
		params[k++] = LAB_PTIME(c->plan.a1);
		params[k++] = LAB_PTIME(c->plan.b0);
		params[k++] = LAB_PTIME(c->plan.b1);
	} else {
		params[k++] = LAB_PTIME(start < 0 ? 0 : start);
		params[k++] = LAB_PTIME(contrib_now(c));
	}
	for (size_t i = 0; i < np; i++)
		params[k++] = LAB_PSTR(c->nets[i]);
	rc = c->ctx->api->query(c->ctx, sql, params, k, 0, NULL, on_query, c, NULL);
out:
	free(marks);
	free(sql);
	free(params);
	return rc;
}

