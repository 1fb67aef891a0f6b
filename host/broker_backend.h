/* The interface between the broker front (host/broker.c: subjects, prefix,
 * subscriptions, the delivery queue, metrics) and a transport backend.
 *
 * The front owns every subscription and delivers every message itself, from
 * its queue, on the loop: a backend only moves bytes.  Whatever a backend
 * receives it hands to broker_incoming() (loop thread only), which queues it;
 * the local backend's publish does exactly that, so both backends share one
 * delivery path and the same unsubscribe/close guarantees.
 *
 * Subjects and patterns passed to a backend are wire subjects: they carry
 * the deployment prefix ("lab.beacon.slot", "lab.beacon.>"). */
#ifndef LAB_HOST_BROKER_BACKEND_H
#define LAB_HOST_BROKER_BACKEND_H

#include <stddef.h>
#include <uv.h>

#include "broker.h"
#include "config.h"

struct broker_backend {
	const char *name; /* the broker.backend value that selects it */
	/* Connect or prepare; `b` is the front, for broker_incoming(). */
	int (*open)(struct broker *b, uv_loop_t *loop, const struct host_conf *hc, void **state);
	/* Send one message.  0 = accepted (sent or buffered).  On failure the
	 * front counts the message in lab_broker_dropped_total and logs it. */
	int (*publish)(void *state, const char *wire_subject, const void *data, size_t len);
	/* Optional (NULL = nothing to do): start receiving messages that match
	 * wire_pattern; *handle is given back to unsubscribe. */
	int (*subscribe)(void *state, const char *wire_pattern, void **handle);
	void (*unsubscribe)(void *state, void *handle);
	/* Optional (NULL = always ready): 0 when usable, else a reason. */
	int (*ready)(void *state, const char **reason);
	/* Release everything, including remaining subscription handles.  Never
	 * calls broker_incoming() afterwards.  May finish asynchronously on the
	 * loop, but must not touch the front any more. */
	void (*close)(void *state);
};

/* A message arrived on wire_subject: strip the prefix, check the subject and
 * queue it (data is copied).  Never calls a subscriber.  LAB_EINVAL for a
 * subject outside the prefix or malformed, LAB_EBUSY when the queue is
 * full, LAB_ESTATE after broker_close. */
int broker_incoming(struct broker *b, const char *wire_subject, const void *data, size_t len);

#endif
