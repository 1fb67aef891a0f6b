/* The JSON the api plugin reads from outside (pure: json-c and libc, no
 * SDK; unit-tested and fuzzed): broker payloads and WebSocket client
 * messages {"subscribe":[topics]} / {"unsubscribe":[topics]}. */
#ifndef LAB_API_MESSAGE_H
#define LAB_API_MESSAGE_H

#include <stddef.h>

#include <json-c/json.h>

#include "topics.h"

/* data[0..len) as one JSON value (trailing whitespace allowed), or NULL:
 * empty, a NUL byte, invalid, trailing bytes, nesting deeper than json-c's
 * default.  The caller puts the object. */
json_object *api_json_parse(const void *data, size_t len);

enum client_msg {
	CLIENT_MSG_OK = 0,        /* *set updated */
	CLIENT_MSG_NOT_JSON = 1,  /* close 1003 */
	CLIENT_MSG_BAD_SHAPE = 2, /* not an object of "subscribe"/"unsubscribe" arrays: close 1008 */
	CLIENT_MSG_BAD_TOPIC = 3  /* an invalid topic or a 17th network: *set unchanged, bad[] says which */
};

/* Apply one client message to *set (keys in document order; unsubscribe
 * of a topic not held is fine).  bad: TOPIC_TEXT_MAX bytes. */
enum client_msg api_client_msg(const void *data, size_t len, struct topic_set *set, char *bad);

#endif
