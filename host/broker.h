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
struct metrics;
struct broker_sub;

/* Longest subject or pattern, without the prefix (bytes). */
#define BROKER_SUBJECT_MAX 255
/* Default bound of the delivery queue; beyond it messages are dropped and
 * counted in lab_broker_dropped_total{plugin}. */
#define BROKER_QUEUE_MAX_MSGS 10000
#define BROKER_QUEUE_MAX_BYTES (64u << 20)

typedef void (*broker_msg_cb)(const char *subject, const void *data, size_t len, void *ud);

/* hc NULL = local backend, prefix "lab".  LAB_ENOTSUP for a backend this
 * build lacks, LAB_ECONFIG for an unknown one or a bad prefix.  Messages are
 * counted in metrics (NULL: not counted). */
int broker_open(uv_loop_t *loop, struct metrics *metrics, const struct host_conf *hc,
		struct broker **out);
/* Drops queued messages and frees every remaining subscription (their
 * handles become invalid); no callback runs afterwards, even when called
 * from inside one.  The last bytes are released when the loop runs the
 * handle's close callback. */
void broker_close(struct broker *b);

/* `plugin` labels lab_broker_messages_total{plugin,direction}; NULL = "host".
 * The payload is copied.  LAB_EINVAL for a bad subject, LAB_EBUSY when the
 * queue is full (the message is dropped and counted), LAB_ESTATE after
 * broker_close. */
int broker_publish(struct broker *b, const char *plugin, const char *subject, const void *data,
		   size_t len);
int broker_subscribe(struct broker *b, const char *plugin, const char *pattern, broker_msg_cb cb,
		     void *ud, struct broker_sub **out);
/* After return the callback is never called again, even for queued messages. */
void broker_unsubscribe(struct broker_sub *sub);
/* 1 if valid, else 0: tokens of [A-Za-z0-9_-] separated by '.', no empty
 * token, at most BROKER_SUBJECT_MAX bytes; wildcards only when is_pattern
 * ('*' a whole token, '>' only the last token). */
int broker_subject_valid(const char *subject, int is_pattern);
/* 1 if the (valid) subject matches the (valid) pattern, else 0. */
int broker_subject_match(const char *pattern, const char *subject);
int broker_ready(struct broker *b, const char **reason);
/* 1 if `plugin` (NULL = the host) has a live subscription matching the
 * (valid) subject, else 0: whether a message published now would reach it
 * (the admin API's reprocess checks that the plugin listens). */
int broker_subscribed(const struct broker *b, const char *plugin, const char *subject);
/* Change the queue bound (tests; 0 keeps the current value). */
void broker_set_limits(struct broker *b, size_t max_msgs, size_t max_bytes);

#endif
