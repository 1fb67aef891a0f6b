#include "listen_addr.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lab/plugin.h"

int listen_addr_parse(const char *listen, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port, *h = listen;
	size_t hlen;
	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');
		if (!rb || rb[1] != ':')
			return LAB_ECONFIG;
		h = listen + 1;
		hlen = (size_t)(rb - h);
		port = rb + 2;
	} else {
		const char *colon = strrchr(listen, ':');
		if (!colon || strchr(listen, ':') != colon)
			return LAB_ECONFIG;
		hlen = (size_t)(colon - listen);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return LAB_ECONFIG;
	size_t plen = strlen(port);
	if (plen == 0 || plen > 5 || strspn(port, "0123456789") != plen || atoi(port) > 65535)
		return LAB_ECONFIG;
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	struct addrinfo hints = { 0 }, *res = NULL;
	hints.ai_family = listen[0] == '[' ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
		return LAB_ECONFIG;
	if (res->ai_addrlen > sizeof(struct sockaddr_storage)) {
		freeaddrinfo(res);
		return LAB_ECONFIG;
	}
	if (ss) {
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, res->ai_addr, res->ai_addrlen);
	}
	freeaddrinfo(res);
	return 0;
}
