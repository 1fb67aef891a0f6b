/* `config_url` networks: the config.yaml is fetched over HTTP(S) at start-up
 * and cached in storage, so that a restart without network still works.
 *
 * This runs once, in daemon_main, before any plugin is loaded and before
 * the loop serves anything: a blocking libcurl easy transfer (bounded by
 * FETCH_TIMEOUT_S) is acceptable here because nothing else is running yet.
 * The cache goes through the storage API (any backend), so the loop is run
 * just until each storage operation completes. */
#include "networks.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "storage.h"

#define FETCH_TIMEOUT_S 10L
#define CONNECT_TIMEOUT_S 5L
#define FETCH_MAX (4L << 20) /* as networks.c's file limit */
#define CACHE_PREFIX "state/networks/"

struct fetch {
	struct buf body;
	int too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct fetch *f = ud;
	size_t len = size * n;
	if (f->body.len + len > (size_t)FETCH_MAX) {
		f->too_big = 1;
		return 0; /* aborts the transfer */
	}
	buf_append(&f->body, p, len);
	return f->body.oom ? 0 : len;
}

/* GET url into *out (a buf the caller frees); err says why not. */
static int fetch_url(const char *url, struct buf *out, char *err, size_t errlen)
{
	struct fetch f = { BUF_INIT, 0 };
	char cerr[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "cannot create a curl handle");
		return LAB_ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, FETCH_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE, FETCH_MAX);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "labd");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);

	int rc = 0;
	if (f.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, errlen, "larger than %ld bytes", FETCH_MAX);
		rc = LAB_ERANGE;
	} else if (f.body.oom) {
		snprintf(err, errlen, "out of memory");
		rc = LAB_ENOMEM;
	} else if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
		rc = cc == CURLE_OPERATION_TIMEDOUT ? LAB_ETIMEDOUT : LAB_EIO;
	} else if (code != 200) {
		snprintf(err, errlen, "HTTP status %ld", code);
		rc = LAB_EUNAVAIL;
	}
	if (rc) {
		buf_free(&f.body);
		return rc;
	}
	*out = f.body;
	return 0;
}

/* ---- the cache: one storage operation, waited for on the loop ----------- */

struct wait {
	int done;
	int status;
	struct buf data;
};

static void op_done(int status, const void *data, size_t len, void *ud)
{
	struct wait *w = ud;
	w->done = 1;
	w->status = status;
	if (status == 0 && data)
		buf_append(&w->data, data, len);
	if (w->data.oom)
		w->status = LAB_ENOMEM;
}

static int wait_op(uv_loop_t *loop, struct wait *w, int started)
{
	if (started < 0)
		return started;
	while (!w->done && uv_run(loop, UV_RUN_ONCE))
		;
	return w->done ? w->status : LAB_EIO;
}

static int cache_put(uv_loop_t *loop, struct storage *st, const char *key, const struct buf *b)
{
	struct wait w = { 0, 0, BUF_INIT };
	int rc = wait_op(loop, &w,
			 storage_put(st, NULL, key, b->data, b->len, "application/yaml", "no-store",
				     LAB_PUT_ATOMIC, op_done, &w, NULL));
	buf_free(&w.data);
	return rc;
}

static int cache_get(uv_loop_t *loop, struct storage *st, const char *key, struct buf *out)
{
	struct wait w = { 0, 0, BUF_INIT };
	int rc = wait_op(loop, &w, storage_get(st, NULL, key, op_done, &w, NULL));
	if (rc == 0)
		*out = w.data;
	else
		buf_free(&w.data);
	return rc;
}

/* ---- per network ------------------------------------------------------------ */

static int resolve_one(struct networks *n, size_t i, uv_loop_t *loop, struct storage *st,
		       char *err, size_t errlen)
{
	const lab_network *net = networks_at(n, i);
	const char *name = network_name(net);
	char url[2048], why[600], key[STORAGE_KEY_MAX];
	struct buf body = BUF_INIT;

	/* A copy: networks_apply_yaml frees the pending URL. */
	if ((size_t)snprintf(url, sizeof url, "%s", network_pending_url(net)) >= sizeof url) {
		snprintf(err, errlen, "network '%s': config_url is longer than %zu bytes", name,
			 sizeof url - 1);
		return LAB_ECONFIG;
	}
	snprintf(key, sizeof key, CACHE_PREFIX "%s.yaml", name);
	int rc = fetch_url(url, &body, why, sizeof why);
	if (rc == 0) {
		rc = networks_apply_yaml(n, i, body.data ? body.data : "", body.len, url, why,
					 sizeof why);
		if (rc == 0) {
			log_kv(LAB_LOG_INFO, NULL, "network config fetched", LAB_FS("network", name),
			       LAB_FS("url", url), LAB_FI("bytes", body.len));
			if (st) {
				int prc = cache_put(loop, st, key, &body);
				if (prc < 0)
					log_kv(LAB_LOG_WARN, NULL,
					       "cannot cache the network config",
					       LAB_FS("network", name), LAB_FS("key", key),
					       LAB_FS("error", lab_strerror(prc)));
			}
			buf_free(&body);
			return 0;
		}
	}
	buf_free(&body);
	/* why: the fetch or the parse error of the fetched file. */
	if (!st) {
		snprintf(err, errlen, "network '%s': cannot use config_url %s: %s", name, url, why);
		return LAB_ECONFIG;
	}
	struct buf cached = BUF_INIT;
	int grc = cache_get(loop, st, key, &cached);
	if (grc == 0) {
		char perr[600];
		grc = networks_apply_yaml(n, i, cached.data ? cached.data : "", cached.len, key,
					  perr, sizeof perr);
		buf_free(&cached);
		if (grc == 0) {
			log_kv(LAB_LOG_WARN, NULL,
			       "cannot fetch the network config; using the cached copy",
			       LAB_FS("network", name), LAB_FS("url", url), LAB_FS("error", why),
			       LAB_FS("key", key));
			return 0;
		}
		snprintf(err, errlen,
			 "network '%s': cannot use config_url %s: %s; the cached copy is bad too: %s",
			 name, url, why, perr);
		return LAB_ECONFIG;
	}
	snprintf(err, errlen,
		 "network '%s': cannot use config_url %s: %s; and there is no cached copy (%s: %s)",
		 name, url, why, key, lab_strerror(grc));
	return LAB_ECONFIG;
}

int networks_fetch_urls(struct networks *n, uv_loop_t *loop, struct storage *st, char *err,
			size_t errlen)
{
	char dummy[1];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	for (size_t i = 0; i < networks_count(n); i++) {
		if (!network_pending_url(networks_at(n, i)))
			continue;
		int rc = resolve_one(n, i, loop, st, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}
