/* lab-plugin-test: the SDK 1.2 metrics and progress of the fake host.
 * Metrics go into the host's own registry (host/metrics.c), so names,
 * labels, types, limits and the Prometheus text are exactly labd's; the
 * test reads them back with labt_metric / labt_metrics_text.  Progress is
 * kept per instance with labd's rules (host/progress.c). */
#include <math.h>
#include <string.h>

#include "metrics.h"
#include "labt.h"

void labti_metrics_new(struct labt *t)
{
	if (metrics_new("lab-plugin-test", &t->metrics) != 0)
		labti_die("labt_new", "out of memory");
}

void labti_metrics_free(struct labt *t)
{
	metrics_free(t->metrics);
	t->metrics = NULL;
	buf_free(&t->metrics_text);
}

int labti_metric_register(struct labt *t, int type, const char *name, const char *help,
			  const char *const *labels, lab_metric **out)
{
	struct metric_family *f = NULL;
	if (!out)
		return LAB_EINVAL;
	*out = NULL;
	int rc = metrics_plugin_register(t->metrics, t->desc->name, type, name, help, labels, &f);
	if (rc == 0)
		*out = (lab_metric *)f; /* the handle is the family itself, as in labd */
	return rc;
}

int labti_metric_update(struct labt *t, lab_metric *metric, int op, double v,
			const char *const *values)
{
	int limit_hit = 0;
	int rc = metrics_plugin_update(t->metrics, t->desc->name, (struct metric_family *)metric, op,
				       v, values, &limit_hit);
	if (limit_hit && !t->series_warned) { /* labd warns once per instance too */
		t->series_warned = 1;
		lab_field f = LAB_FI("limit", LAB_METRIC_MAX_SERIES);
		labti_log_add(t, LAB_LOG_WARN,
			      "metric series limit reached; new label values are dropped", &f, 1);
	}
	return rc;
}

double labt_metric(const labt *t, const char *name, const char *const *values)
{
	double v, n;
	if (metrics_plugin_value(t->metrics, t->desc->name, name, values, &v, &n) != 0)
		return NAN;
	return n > 0 ? n : v; /* only a histogram's series has observations (it has one at least) */
}

double labt_metric_sum(const labt *t, const char *name, const char *const *values)
{
	double v, n;
	if (metrics_plugin_value(t->metrics, t->desc->name, name, values, &v, &n) != 0)
		return NAN;
	return v;
}

const char *labt_metrics_text(labt *t)
{
	buf_reset(&t->metrics_text);
	metrics_plugin_render(t->metrics, t->desc->name, &t->metrics_text);
	buf_append(&t->metrics_text, "", 1); /* NUL-terminated, not counted */
	t->metrics_text.len--;
	return t->metrics_text.data ? t->metrics_text.data : "";
}

/* ---- progress (labd's rules: host/progress.c) --------------------------- */

int labti_progress(struct labt *t, const char *what, double done, double total, double per_second)
{
	return progress_set(t->progress, &t->n_progress, what, done, total, per_second,
			    labt_now_ms(t));
}

int labt_progress(const labt *t, const char *what, double *done, double *total,
		  double *per_second)
{
	for (unsigned i = 0; what && i < t->n_progress; i++) {
		const struct progress_entry *p = &t->progress[i];
		if (strcmp(p->what, what) != 0)
			continue;
		if (done)
			*done = p->done;
		if (total)
			*total = p->total;
		if (per_second)
			*per_second = p->per_second;
		return 0;
	}
	return LAB_ENOENT;
}

size_t labt_progress_count(const labt *t) { return t->n_progress; }
