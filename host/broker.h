/* The broker behind lab_publish/lab_subscribe: `local` (in-process) and,
 * later, `nats`.  Subjects given here are WITHOUT the deployment prefix;
 * the broker adds `subject_prefix.` on the wire and strips it on delivery.
 * Patterns use NATS wildcards: `*` matches one token, `>` one or more
 * trailing tokens.  Delivery is always asynchronous, on the loop: a
 * publish never calls a subscriber re-entrantly. */
#ifndef LAB_HOST_BROKER_H
#define LAB_HOST_BROKER_H

#include <stddef.h>
#include <uv.h>

#include "config.h"

struct broker;
struct broker_sub;

typedef void (*broker_msg_cb)(const char *subject, const void *data, size_t len, void *ud);

int broker_open(uv_loop_t *loop, const struct host_conf *hc, struct broker **out);
void broker_close(struct broker *b);

/* `plugin` labels lab_broker_messages_total{plugin,direction}; NULL = "host". */
int broker_publish(struct broker *b, const char *plugin, const char *subject, const void *data,
		   size_t len);
int broker_subscribe(struct broker *b, const char *plugin, const char *pattern, broker_msg_cb cb,
		     void *ud, struct broker_sub **out);
/* After return the callback is never called again, even for queued messages. */
void broker_unsubscribe(struct broker_sub *sub);
/* Tokens of [A-Za-z0-9_-] separated by '.', no empty token; wildcards only
 * when is_pattern ('*' a whole token, '>' only the last token). */
int broker_subject_valid(const char *subject, int is_pattern);
int broker_subject_match(const char *pattern, const char *subject);
int broker_ready(struct broker *b, const char **reason);

#endif
