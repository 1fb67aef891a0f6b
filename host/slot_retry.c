/* Automatic restarts of failed plugins (slot.h, docs/operations.md
 * "Self-healing"): a plugin whose state could not be loaded, or whose init
 * or start failed with a transient code, is activated again after an
 * exponential, jittered, bounded delay, until it runs.  Loop thread only. */
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "slot.h"

int slot_error_transient(int rc)
{
	switch (rc) {
	case LAB_EIO:       /* transport, storage */
	case LAB_ETIMEDOUT: /* a server too slow */
	case LAB_EUNAVAIL:  /* a server down, 5xx */
	case LAB_EBUSY:     /* a limit reached */
	case LAB_ENOMEM:
	case LAB_EQUERY:    /* a table or a grant that may exist later */
	case LAB_ECANCELED: /* a service going away under it */
		return 1;
	default:
		/* LAB_EINVAL, LAB_ECONFIG, LAB_EABI, LAB_ENOTSUP, LAB_EPERM,
		 * LAB_ERANGE, LAB_EPARSE, LAB_ESTATE, LAB_ENOENT, LAB_EEXIST and
		 * unknown codes: the same code and config fail the same way. */
		return 0;
	}
}

uint64_t slot_retry_delay_ms(uint64_t initial_ms, uint64_t max_ms, unsigned attempt,
			     uint64_t rnd)
{
	uint64_t d = initial_ms;
	for (unsigned i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* 80..120 % spreads restarts of plugins that failed together. */
	d = d * (80 + rnd % 41) / 100; /* d <= 1 day in ms: no overflow */
	return d > max_ms ? max_ms : d;
}

static uint64_t next_rnd(struct slots *d)
{
	if (!d->retry_rng)
		d->retry_rng = (clock_monotonic_ms() << 16) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15u;
	/* xorshift64 */
	uint64_t x = d->retry_rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	d->retry_rng = x;
	return x >> 11;
}

static void retry_fired(uv_timer_t *t)
{
	struct slot *s = t->data;
	struct slots *d = s->d;
	s->next_retry_at = 0;
	/* Anything else (enable, disable, SIGHUP, a file change, shutdown)
	 * may have started or stopped it since. */
	if (d->stopping || !s->enabled || s->inst || s->state_loading || s->status != PS_FAILED)
		return;
	s->retries++;
	metric_add(d->svc.metrics, M_PLUGIN_RETRIES, 1, s->name);
	log_kv(LAB_LOG_INFO, s->name, "restarting the failed plugin", LAB_FI("attempt", s->retries),
	       LAB_FS("last_error", s->last_error));
	slot_activate(s);
}

uint64_t slot_retry_schedule(struct slot *s)
{
	struct slots *d = s->d;
	const struct host_conf *hc = &d->cfg->host;
	if (d->mode != MODE_SERVE || d->stopping || !s->enabled || hc->retry_initial <= 0)
		return 0;
	if (!s->retry_timer_live) {
		if (uv_timer_init(d->svc.loop, &s->retry_timer) != 0)
			return 0;
		s->retry_timer.data = s;
		s->retry_timer_live = 1;
	}
	uint64_t ms = slot_retry_delay_ms((uint64_t)hc->retry_initial * 1000,
					  (uint64_t)hc->retry_max * 1000, s->retries, next_rnd(d));
	s->next_retry_at = clock_now_ms() + (int64_t)ms;
	uv_timer_start(&s->retry_timer, retry_fired, ms, 0);
	return ms;
}

void slot_retry_cancel(struct slot *s)
{
	if (s->retry_timer_live)
		uv_timer_stop(&s->retry_timer);
	s->next_retry_at = 0;
}

void slots_retry_close(struct slots *d)
{
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		slot_retry_cancel(s);
		if (s->retry_timer_live) {
			uv_close((uv_handle_t *)&s->retry_timer, NULL);
			s->retry_timer_live = 0;
		}
	}
}
