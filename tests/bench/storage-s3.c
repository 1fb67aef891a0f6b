/* storage-s3 N CONCURRENCY BYTES: N puts of a BYTES-long JSON document
 * through the storage front and the s3 backend (gzip, SigV4, one PUT
 * each), CONCURRENCY in flight, against $S3_ENDPOINT / $S3_BUCKET with
 * $S3_ACCESS_KEY_ID / $S3_SECRET_ACCESS_KEY / $S3_REGION (what
 * tests/services/with-services.sh s3 exports).  With BENCH_FS_ROOT set, the
 * fs backend under that directory instead (gzip, temp file, rename).
 * Prints one line:
 *   puts=N concurrency=C bytes=B seconds=S puts_per_s=R failed=F
 * Exit 0 when every put succeeded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lab/plugin.h"
#include "log.h"
#include "metrics.h"

/* This test's registry (the daemon owns one; the services get it at open). */
static struct metrics *M;
#include "storage.h"

static struct storage *st;
static char *doc;
static size_t doc_len;
static long total, issued, done_n, failed, conc;

static void issue(void);

static void on_put(int status, const void *data, size_t len, void *ud)
{
	(void)data;
	(void)len;
	(void)ud;
	done_n++;
	if (status < 0)
		failed++;
	issue();
}

static void issue(void)
{
	while (issued < total && issued - done_n < conc) {
		char key[64];
		snprintf(key, sizeof key, "bench/%ld.json", issued);
		issued++;
		if (storage_put(st, "bench", key, doc, doc_len, NULL, NULL, LAB_PUT_ATOMIC, on_put,
				NULL, NULL) < 0) {
			done_n++;
			failed++;
		}
	}
}

static const char *env(const char *k, const char *def)
{
	const char *v = getenv(k);
	return v && *v ? v : def;
}

int main(int argc, char **argv)
{
	struct host_conf hc;
	uv_loop_t loop;
	size_t i, gz_len = 0;
	uint32_t seed = 1;
	void *gz = NULL;

	if (argc != 4) {
		fprintf(stderr, "usage: %s N CONCURRENCY BYTES\n", argv[0]);
		return 2;
	}
	total = atol(argv[1]);
	conc = atol(argv[2]);
	doc_len = (size_t)atol(argv[3]);
	if (total <= 0 || conc <= 0 || doc_len < 16)
		return 2;
	/* A JSON array of pseudo-random 7-digit numbers: compresses about
	 * 2:1, like the numeric documents the plugins write. */
	doc = malloc(doc_len + 1);
	if (!doc)
		return 1;
	doc[0] = '[';
	for (i = 1; i + 1 < doc_len; i++) {
		seed = seed * 1103515245u + 12345u;
		/* no leading zero: the document must be valid JSON (compare.sh) */
		doc[i] = (i % 8 == 0) ? ',' :
			 (i % 8 == 1) ? (char)('1' + (seed >> 16) % 9) :
					(char)('0' + (seed >> 16) % 10);
	}
	doc[doc_len - 1] = ']';
	doc[doc_len] = '\0';
	if (gzip_encode(doc, doc_len, &gz, &gz_len) != 0)
		return 1;
	free(gz);

	log_setup(LAB_LOG_WARN, LOG_FORMAT_LOGFMT, 2);
	if (metrics_new("bench", &M) != 0 || uv_loop_init(&loop) != 0)
		return 1;
	memset(&hc, 0, sizeof hc);
	hc.storage_backend = "s3";
	if (getenv("BENCH_FS_ROOT") && *getenv("BENCH_FS_ROOT")) {
		hc.storage_backend = "fs";
		hc.fs_root = getenv("BENCH_FS_ROOT");
	}
	hc.s3_endpoint = (char *)env("S3_ENDPOINT", "");
	hc.s3_bucket = (char *)env("S3_BUCKET", "lab-data");
	hc.s3_region = (char *)env("S3_REGION", "us-east-1");
	hc.s3_access_key_id = (char *)env("S3_ACCESS_KEY_ID", "");
	hc.s3_secret_access_key = (char *)env("S3_SECRET_ACCESS_KEY", "");
	hc.s3_timeout = 30;
	hc.s3_max_retries = 4;
	if (storage_open(&loop, M, &hc, &st) < 0)
		return 1;

	uint64_t t0 = uv_hrtime();
	issue();
	uv_run(&loop, UV_RUN_DEFAULT);
	double secs = (double)(uv_hrtime() - t0) / 1e9;
	printf("puts=%ld concurrency=%ld bytes=%zu gzip_bytes=%zu seconds=%.3f puts_per_s=%.0f "
	       "failed=%ld\n",
	       total, conc, doc_len, gz_len, secs, secs > 0 ? (double)done_n / secs : 0.0, failed);
	storage_close(st);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	metrics_free(M);
	M = NULL;
	free(doc);
	return failed || done_n != total ? 1 : 0;
}
