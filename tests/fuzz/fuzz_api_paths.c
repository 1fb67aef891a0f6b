/* libFuzzer target: the api plugin's request path -> storage key map
 * (plugins/api/paths.c) and its topic parser (topics.c), which see every
 * URL path and topic list a client sends.  Oracle: an accepted path gives
 * a key that the storage key rules accept (common/keyrules.h), that lies
 * under one of the document prefixes (or is config.json), and that maps
 * back to itself; no topic list is accepted that names a bad topic; a
 * WebSocket client message (message.c) that is refused changes nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyrules.h"
#include "message.h"
#include "paths.h"
#include "topics.h"

static int under(const char *key, const char *pre)
{
	size_t n = strlen(pre);
	return strncmp(key, pre, n) == 0 && key[n] == '/';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct api_prefixes pfx = { "beacon", "beacon_chain_timings",
						  "xatu_public_contributors" };
	struct api_doc d, again;
	const char *s = (const char *)data;
	if (api_path_to_doc(&pfx, s, size, &d) == 0) {
		size_t kl = strlen(d.key);
		if (!key_segments_ok(d.key, kl, NULL) || kl < 6 ||
		    memcmp(d.key + kl - 5, ".json", 5) != 0)
			abort();
		if (strcmp(d.key, "config.json") != 0 && !under(d.key, pfx.beacon) &&
		    !under(d.key, pfx.timings) && !under(d.key, pfx.contributors))
			abort();
		if (api_path_to_doc(&pfx, d.key, kl, &again) != 0 || strcmp(again.key, d.key) != 0)
			abort();
	}
	/* the same bytes as a topic list (NUL-terminated copy) */
	char *list = malloc(size + 1);
	if (!list)
		return 0;
	memcpy(list, data, size);
	list[size] = '\0';
	struct topic_set set = { 0 };
	char bad[TOPIC_TEXT_MAX];
	if (strlen(list) == size && topic_set_parse_list(&set, list, bad) == 0) {
		for (size_t i = 0; i < set.nnets; i++)
			if (!key_segment_ok(set.nets[i], strlen(set.nets[i]), TOPIC_NET_MAX, NULL,
					    KEY_SEG_PLAIN))
				abort();
	}
	free(list);
	/* and as a WebSocket client message: a refused one changes nothing */
	struct topic_set ws = { 0 }, was;
	was = ws;
	enum client_msg rc = api_client_msg(data, size, &ws, bad);
	if (rc != CLIENT_MSG_OK && memcmp(&ws, &was, sizeof ws) != 0)
		abort();
	for (size_t i = 0; i < ws.nnets; i++)
		if (!key_segment_ok(ws.nets[i], strlen(ws.nets[i]), TOPIC_NET_MAX, NULL, KEY_SEG_PLAIN))
			abort();
	return 0;
}
