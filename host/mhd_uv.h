/* libmicrohttpd driven by the libuv loop, shared by the admin endpoint and
 * the public HTTP listener: MHD runs without threads, its epoll fd watched
 * by a uv_poll_t and its timeouts by a uv_timer_t, so every MHD callback
 * runs on the loop thread.  The listening socket is labd's: labd accepts,
 * applies the connection limit and hands connections over
 * (MHD_add_connection), and a guard cuts connections that do not deliver a
 * request head in time (slowloris, idle keep-alive).
 *
 * Threading: loop thread only. */
#ifndef LAB_HOST_MHD_UV_H
#define LAB_HOST_MHD_UV_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

struct mhd_uv;

struct mhd_uv_conf {
	const char *name;   /* log prefix: "admin", "http" */
	const char *listen; /* "HOST:PORT" (listen_addr.h) */
	unsigned conn_limit;
	/* A new connection must deliver a complete request head within
	 * head_timeout_ms; after an answer, the next head within
	 * idle_timeout_ms (0 = head_timeout_ms). */
	uint64_t head_timeout_ms, idle_timeout_ms;
	unsigned mhd_timeout_s;   /* MHD's own idle backstop (seconds) */
	size_t conn_memory;       /* MHD_OPTION_CONNECTION_MEMORY_LIMIT */
	unsigned extra_flags;     /* e.g. MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE */
	MHD_AccessHandlerCallback on_request;
	MHD_RequestCompletedCallback on_completed;
	void *cls; /* for the callbacks above and below */
	/* A connection was refused or cut: "connections" (limit), "timeout"
	 * (no request head in time).  May be NULL. */
	void (*on_reject)(void *cls, const char *reason);
	/* Called once the driver is gone after mhd_uv_stop (all handles closed):
	 * the owner may free what the callbacks used.  May be NULL. */
	void (*on_freed)(void *cls);
	/* MHD_OPTION_UNESCAPE_CALLBACK; NULL = MHD's percent-decoding. */
	size_t (*unescape)(void *cls, struct MHD_Connection *c, char *s);
};

/* Errors: LAB_ECONFIG (bad listen), LAB_EIO (cannot bind / start), LAB_ENOMEM. */
int mhd_uv_start(uv_loop_t *loop, const struct mhd_uv_conf *conf, struct mhd_uv **out);
int mhd_uv_port(const struct mhd_uv *d);
struct MHD_Daemon *mhd_uv_daemon(struct mhd_uv *d);
/* Connections currently accepted and not cut, detached ones included. */
unsigned mhd_uv_live(const struct mhd_uv *d);
/* True once mhd_uv_stop ran: MHD callbacks must return MHD_NO. */
int mhd_uv_stopping(const struct mhd_uv *d);

/* The guard's view of a connection: its request head arrived (no head
 * timeout while it is answered), its answer completed (the next head is
 * due within the idle timeout), or it became a long-lived stream (never
 * cut by the guard; counted until MHD reports it closed). */
void mhd_uv_request_begin(struct mhd_uv *d, struct MHD_Connection *c);
void mhd_uv_request_end(struct mhd_uv *d, struct MHD_Connection *c);
void mhd_uv_hold(struct mhd_uv *d, struct MHD_Connection *c);
/* A socket MHD lets go of that its owner keeps open (an upgraded
 * WebSocket on a duplicate of MHD's descriptor, before
 * MHD_UPGRADE_ACTION_CLOSE): mhd_uv_detach when it leaves MHD (from then
 * on it is counted as detached, not as MHD's connection), mhd_uv_detached_end
 * when the owner closes it.  Detached sockets count against conn_limit like
 * MHD's. */
void mhd_uv_detach(struct mhd_uv *d, struct MHD_Connection *c);
void mhd_uv_detached_end(struct mhd_uv *d);
/* The client address of a connection (NULL if unknown). */
const struct sockaddr *mhd_uv_client(struct MHD_Connection *c);

/* Let MHD run now (after MHD_resume_connection or an upgrade action). */
void mhd_uv_kick(struct mhd_uv *d);

/* Closes the listener and every connection; no MHD callback runs
 * afterwards.  Safe from inside an MHD callback.  The memory is released by
 * the loop's close callbacks (then on_freed), so the loop must run. */
void mhd_uv_stop(struct mhd_uv *d);

#endif
