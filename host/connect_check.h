/* labd -t --connect: reachability and credentials of the services the
 * configuration names (docs/operations.md, "Checking a configuration"). */
#ifndef LAB_HOST_CONNECT_CHECK_H
#define LAB_HOST_CONNECT_CHECK_H

#include "config.h"

/* Each check (and all of them together) gives up after this long. */
#define CONNECT_CHECK_TIMEOUT_MS 10000

/* Checks, on a loop of its own and before any service runs (it blocks):
 *   ClickHouse  `SELECT 1` with the configured URL, user and password;
 *   storage     a put, get and delete of a probe object under the reserved
 *               prefix `.labd-check/` (after storage.prefix): the fs root
 *               or the S3 bucket is writable with the credentials;
 *   broker      with backend "nats", a connection to the server.
 * Prints one line per check on stderr ("labd: check clickhouse: ok ...").
 * Returns 0 when every check passed, else 1.  Never prints a URL, user
 * name or secret that may carry credentials. */
int connect_check(const struct host_conf *hc);

#endif
