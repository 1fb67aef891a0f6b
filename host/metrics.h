/* Prometheus metrics (text format 0.0.4).  The family names are a contract
 * (SPEC §4.5).  Label values are given in the family's declared order.
 * A registry is an object (`struct metrics`) owned by the daemon and handed
 * to each service that counts (storage, ClickHouse, broker, state, admin)
 * and to instances through `struct host_services`; two registries in one
 * process are independent.  Every call accepts a NULL registry and then does
 * nothing (metric_get: 0), for the tools and tests that run a service
 * without one.  Loop thread only. */
#ifndef LAB_HOST_METRICS_H
#define LAB_HOST_METRICS_H

#include "buf.h"
#include "lab/plugin.h"

enum metric_id {
	M_UP,                   /* gauge */
	M_BUILD_INFO,           /* gauge {version} */
	M_PLUGIN_STATE,         /* gauge {plugin,state} */
	M_PLUGIN_RELOADS,       /* counter {plugin,result} */
	M_TIMER_FIRES,          /* counter {plugin} */
	M_CH_QUERIES,           /* counter {plugin,result} */
	M_CH_QUERY_SECONDS,     /* histogram {plugin} */
	M_CH_ROWS,              /* counter {plugin} */
	M_STORAGE_OPS,          /* counter {plugin,op,result} */
	M_STORAGE_BYTES,        /* counter {plugin,op} */
	M_BROKER_MESSAGES,      /* counter {plugin,direction} */
	M_BROKER_DROPPED,       /* counter {plugin} (events that could not be sent) */
	M_STATE_FLUSHES,        /* counter {result} */
	M_STATE_CORRUPT,        /* counter {plugin} (state files moved aside) */
	M_STATE_OPS,            /* counter {plugin,op,result} (state reads and writes) */
	M_STATE_BYTES,          /* counter {plugin,op} */
	M_PLUGIN_RETRIES,       /* counter {plugin} (automatic restarts of a failed plugin) */
	M_CONFIG_RELOADS,       /* counter {result} (SIGHUP: ok, error) */
	M_HTTP_REQUESTS,        /* counter {plugin,route,code} (public HTTP listener) */
	M_HTTP_SECONDS,         /* histogram {plugin,route} */
	M_HTTP_CONNECTIONS,     /* gauge */
	M_HTTP_STREAMS,         /* gauge {plugin,kind} */
	M_HTTP_SLOW_DROPS,      /* counter {plugin,kind} */
	M_HTTP_REJECTED,        /* counter {reason} */
	M_CLUSTER_UP,           /* gauge: 1 while the cluster KV answers (docs/cluster.md) */
	M_CLUSTER_LEASES_HELD,  /* gauge {plugin} */
	M_CLUSTER_LEASE_CHANGES, /* counter {plugin,event} (acquired, lost, released) */
	M_CLUSTER_CLAIMS_IN_FLIGHT, /* gauge {plugin} */
	M_CLUSTER_CLAIMS,       /* counter {plugin,result} (granted, busy, done, error) */
	M_CLUSTER_CAS_CONFLICTS, /* counter {plugin} */
	M_COUNT
};

struct metrics;

/* A new registry with lab_up and lab_build_info{version} set to 1.
 * Errors: LAB_ENOMEM. */
int metrics_new(const char *version, struct metrics **out);
void metrics_free(struct metrics *m);
/* Counters and gauges: metric_add(m, id, v, labels...) adds v to the series
 * with these label values.
 * Label values are `const char *` (NULL is ""; each is cut at 255 bytes). */
#define metric_add(...) metric_add_l(__VA_ARGS__, metric_label_end)
#define metric_set(...) metric_set_l(__VA_ARGS__, metric_label_end)
#define metric_observe(...) metric_observe_l(__VA_ARGS__, metric_label_end)
/* Current value of a series (tests); NAN-free: 0 if absent.  Histograms:
 * the observation count. */
#define metric_get(...) metric_get_l(__VA_ARGS__, metric_label_end)

/* The macros above end the label list with this sentinel, so a call with the
 * wrong number of labels is caught (logged once, ignored) instead of reading
 * arguments that were never passed. */
extern const char metric_label_end[];
void metric_add_l(struct metrics *m, enum metric_id id, double v, ...);
void metric_set_l(struct metrics *m, enum metric_id id, double v, ...);
void metric_observe_l(struct metrics *m, enum metric_id id, double v, ...);
double metric_get_l(struct metrics *m, enum metric_id id, ...);
/* Sets lab_plugin_state{plugin,state} to 1 for `state` and 0 for the other states. */
void metrics_plugin_state(struct metrics *m, const char *plugin, const char *state);
/* Drops every series labelled with this plugin (it was removed from the config). */
void metrics_forget_plugin(struct metrics *m, const char *plugin);
/* ---- plugin families (ABI 1.2 lab_metric_*; lab/plugin.h has the rules) ----
 * Exposed as lab_PLUGIN_NAME after the host's families.  They belong to the
 * plugin (by name), not to one instance. */
struct metric_family;
/* Registers (or finds again, un-staled) family NAME of `plugin`.  Errors:
 * LAB_EINVAL (bad name, help, labels, type), LAB_EEXIST (name clash or the
 * same name with another shape), LAB_EBUSY (too many families),
 * LAB_ENOMEM, LAB_ESTATE (no registry). */
int metrics_plugin_register(struct metrics *m, const char *plugin, int type, const char *name,
			    const char *help, const char *const *labels,
			    struct metric_family **out);
/* op: LAB_METRIC_ADD/SET/OBSERVE on the series of `values`.  `f` is checked
 * to be one of `plugin`'s families.  *limit_hit (may be NULL) is set when
 * the per-plugin series bound refused a new series (LAB_EBUSY). */
int metrics_plugin_update(struct metrics *m, const char *plugin, struct metric_family *f,
			  int op, double v, const char *const *values, int *limit_hit);
/* A hot reload begins: mark the plugin's families; registering clears the mark. */
void metrics_plugin_mark_stale(struct metrics *m, const char *plugin);
/* ...and the new instance started: drop the families still marked. */
void metrics_plugin_sweep(struct metrics *m, const char *plugin);
/* The plugin is unloaded: drop all its families. */
void metrics_plugin_drop(struct metrics *m, const char *plugin);
/* Only `plugin`'s families (NULL: every plugin's), as metrics_render
 * writes them (lab-plugin-test's labt_metrics_text). */
void metrics_plugin_render(struct metrics *m, const char *plugin, struct buf *out);
/* The series of `values` of `plugin`'s family NAME (as registered, without
 * lab_PLUGIN_): *value its value (histograms: the sum of observations) and
 * *count the observations (histograms; else 0).  LAB_ENOENT when the
 * family or the series does not exist.  For lab-plugin-test. */
int metrics_plugin_value(struct metrics *m, const char *plugin, const char *name,
			 const char *const *values, double *value, double *count);
/* Render every family plus process_resident_memory_bytes and
 * process_start_time_seconds. */
void metrics_render(struct metrics *m, struct buf *out);

#endif
