/* Cluster services (SDK 1.5, docs/cluster.md): leases, claims and shared
 * state of the plugins, on the loop thread.  The key/value work runs in a
 * backend: "none" (one daemon: everything granted, executed on the loop and
 * completed on the next turn) or "nats" (JetStream KV, cluster_nats.c: a
 * thread of its own makes every blocking nats.c call).  Both hand their
 * results back through the same completion list and uv_async. */
#ifndef LAB_HOST_CLUSTER_H
#define LAB_HOST_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "config.h"
#include "lab/plugin.h"

struct cluster;
struct metrics;

/* May the host call this plugin's callbacks now (it has started and its
 * drain has not finished)?  Set by the instance layer. */
typedef int (*cluster_gate_fn)(lab_ctx *ctx);

int cluster_open(uv_loop_t *loop, struct metrics *m, const struct host_conf *hc,
		 cluster_gate_fn gate, struct cluster **out);
/* Asynchronous: handles close on the loop; the thread is told to stop. */
void cluster_close(struct cluster *c);

const char *cluster_backend_name(const struct cluster *c);
const char *cluster_node_id(const struct cluster *c);

/* The SDK calls (hostapi.c); `plugin` is the caller's name and outlives the
 * calls' effects (until cluster_forget). */
int cluster_lease_hold(struct cluster *c, lab_ctx *ctx, const char *plugin, const char *name,
		       lab_lease_cb cb, void *ud, lab_lease **out);
int cluster_lease_valid(struct cluster *c, lab_ctx *ctx, const lab_lease *l);
int cluster_lease_release(struct cluster *c, lab_ctx *ctx, lab_lease *l);
int cluster_claim(struct cluster *c, lab_ctx *ctx, const char *plugin, const char *name,
		  lab_claim_cb cb, void *ud);
int cluster_claim_valid(struct cluster *c, lab_ctx *ctx, const lab_claim *cl);
int cluster_claim_finish(struct cluster *c, lab_ctx *ctx, lab_claim *cl, int completed);
/* Shared state through the backend (nats).  With backend none hostapi.c
 * reads/writes the plugin's state and hands the answer to cluster_local_answer. */
int cluster_shared_get(struct cluster *c, lab_ctx *ctx, const char *plugin, const char *key,
		       lab_shared_cb cb, void *ud);
int cluster_shared_cas(struct cluster *c, lab_ctx *ctx, const char *plugin, const char *key,
		       const char *json, size_t len, uint64_t revision, lab_shared_cb cb,
		       void *ud);
int cluster_is_local(const struct cluster *c);
/* backend none: the revision of a local key (0 = unknown) and after a write. */
uint64_t cluster_local_rev(struct cluster *c, lab_ctx *ctx, const char *plugin, const char *key,
			   int exists, int bump);
/* backend none: deliver (status, json, rev) to cb on the next loop turn. */
int cluster_local_answer(struct cluster *c, lab_ctx *ctx, const char *plugin, int status,
			 const char *json, size_t len, uint64_t rev, lab_shared_cb cb, void *ud);

/* The plugin stopped (after its drain): release its leases and claims in
 * the background, drop pending requests without calling back. */
void cluster_forget(struct cluster *c, lab_ctx *ctx);

/* /plugins: "cluster":{"leases":[...held names...],"claims":N} for this plugin. */
void cluster_plugin_json(struct cluster *c, lab_ctx *ctx, struct buf *out);
/* GET /cluster/leases: the last listing of the leases bucket (refreshed
 * every renew_interval). Returns the HTTP status. */
int cluster_leases_json(struct cluster *c, struct buf *out);

/* Pure parts, exposed for tests/unit/test_cluster.c. */
int cluster_name_ok(const char *name);
/* Monotonic ms until which a lease renewed (or acquired) by a request sent
 * at `sent_ms` is valid: sent + ttl - renew. */
uint64_t cluster_loss_deadline(uint64_t sent_ms, uint64_t ttl_ms, uint64_t renew_ms);

#endif
