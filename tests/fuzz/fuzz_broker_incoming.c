/* libFuzzer target: messages from the broker's wire to plugins
 * (host/broker.c broker_incoming and delivery; a NATS server or anyone who
 * can publish to it controls subject and payload).  Input: the wire subject,
 * a NUL, then the payload.  The front (prefix "lab") has four subscribers;
 * the loop runs until the queue is empty.
 * Oracle beyond "no crash": a message is delivered iff its wire subject is
 * "lab." + a valid subject; each subscriber gets it exactly when an
 * independent matcher says its pattern matches, with the prefix stripped and
 * the payload byte for byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "broker.h"
#include "broker_backend.h"
#include "lab/plugin.h"
#include "log.h"
#include "metrics.h"

/* This test's registry (the daemon owns one; the services get it at open). */
static struct metrics *M;

static const char *const patterns[] = { ">", "*", "a.*.c", "example.>" };
#define NSUB (sizeof patterns / sizeof patterns[0])

static uv_loop_t loop;
static struct broker *br;
static unsigned got[NSUB];
static const uint8_t *want_data;
static size_t want_len;
static const char *want_subject;

static void on_msg(const char *subject, const void *data, size_t len, void *ud)
{
	size_t i = (size_t)(uintptr_t)ud;
	got[i]++;
	if (!want_subject || strcmp(subject, want_subject) != 0 || len != want_len ||
	    (len && memcmp(data, want_data, len) != 0)) {
		fprintf(stderr, "subscriber %zu got the wrong message\n", i);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LAB_LOG_ERROR, 0, 2);
	if (metrics_new("fuzz", &M) < 0 || uv_loop_init(&loop) != 0 ||
	    broker_open(&loop, M, NULL, &br) != 0)
		abort();
	for (size_t i = 0; i < NSUB; i++) {
		struct broker_sub *s;
		if (broker_subscribe(br, "fuzz", patterns[i], on_msg, (void *)(uintptr_t)i, &s) != 0)
			abort();
	}
	return 0;
}

/* Independent statement of the rules in broker.h. */
static int valid(const char *s)
{
	size_t n = strlen(s), tok = 0;
	if (n == 0 || n > BROKER_SUBJECT_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (tok == 0)
				return 0;
			tok = 0;
		} else if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
				  s[i])) {
			tok++;
		} else {
			return 0;
		}
	}
	return 1;
}

static size_t tokens(const char *s)
{
	size_t n = 1;
	for (; *s; s++)
		n += *s == '.';
	return n;
}

static int matches(size_t i, const char *s)
{
	switch (i) {
	case 0:
		return 1;
	case 1:
		return tokens(s) == 1;
	case 2:
		return tokens(s) == 3 && strncmp(s, "a.", 2) == 0 && strlen(s) >= 4 &&
		       strcmp(s + strlen(s) - 2, ".c") == 0;
	default:
		return strncmp(s, "example.", 8) == 0 && s[8] != '\0';
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	if (!nul)
		return 0;
	const char *wire = (const char *)data;
	want_data = nul + 1;
	want_len = size - (size_t)(want_data - data);
	int ours = strncmp(wire, "lab.", 4) == 0 && valid(wire + 4);
	want_subject = ours ? wire + 4 : NULL;
	memset(got, 0, sizeof got);
	int rc = broker_incoming(br, wire, want_len ? (const void *)want_data : "", want_len);
	if ((rc == 0) != ours) {
		fprintf(stderr, "broker_incoming returned %d for a %s subject\n", rc,
			ours ? "valid" : "foreign or invalid");
		abort();
	}
	uv_run(&loop, UV_RUN_NOWAIT);
	for (size_t i = 0; i < NSUB; i++) {
		unsigned want = ours && matches(i, wire + 4);
		if (got[i] != want) {
			fprintf(stderr, "subscriber %s: %u deliveries, want %u\n", patterns[i], got[i],
				want);
			abort();
		}
	}
	return 0;
}
