/* A listen address as labd's configuration writes it: "A.B.C.D:PORT" or
 * "[IPv6]:PORT", numeric only (no name lookup, which could block or
 * change meaning), port 0-65535.  Used by the admin endpoint when it binds
 * and by the configuration check, so `labd -t` refuses what start-up
 * would. */
#ifndef LAB_HOST_LISTEN_ADDR_H
#define LAB_HOST_LISTEN_ADDR_H

#include <sys/socket.h>

/* 0 and the address in *ss (when ss is not NULL), or LAB_ECONFIG. */
int listen_addr_parse(const char *listen, struct sockaddr_storage *ss);

#endif
