/* The host services a plugin instance reaches through the host API: the
 * loop, storage, ClickHouse, the broker, the networks and the metrics
 * registry.  Owned by the daemon (daemon.c opens and closes them); instances
 * get a pointer to this struct, never to the daemon.  Only logging and the
 * clock are process-wide (log.h, clock.h). */
#ifndef LAB_HOST_SERVICES_H
#define LAB_HOST_SERVICES_H

#include <stddef.h>
#include <uv.h>

struct networks;
struct storage;
struct clickhouse;
struct broker;
struct defer;
struct metrics;
struct httpd;
struct cluster;

struct host_services {
	uv_loop_t *loop;
	struct defer *defer; /* deferred completions (defer.h) */
	struct networks *nets;
	struct storage *storage; /* NULL in -t */
	struct clickhouse *ch;   /* NULL in -t */
	struct broker *broker;   /* NULL in -t */
	struct metrics *metrics; /* the daemon's registry (metrics.h), rendered at /metrics */
	struct httpd *httpd;     /* routes and streams of SDK 1.4 (httpd.h); NULL in -t */
	struct cluster *cluster; /* leases, claims, shared state (cluster.h); NULL in -t */
	size_t work_max_per_plugin; /* work.max_per_plugin: a plugin's lab_work items on the pool at once */
};

#endif
