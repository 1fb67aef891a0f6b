/*
 * progress — what the beacon plugin tells operators about its loops (SDK
 * 1.2): per network and loop (head, trailing, backfill) the gauges
 * lab_beacon_{cursor_slot,target_slot,slots_remaining,slots_per_second,
 * eta_seconds}, the counters lab_beacon_slots_{stored,missed}_total, the
 * backfill as a lab_progress() entry ("NETWORK backfill", for /plugins and
 * `labctl status`), and one "progress" info line per network every
 * `progress_interval`, which also carries the slots stored and missed in
 * the interval (slots are logged one by one only at debug).
 *
 * Rates are slots settled per second over the last PROG_WINDOW samples (a
 * sample every min(PROG_SAMPLE_S, progress_interval) seconds): for the
 * backfill the slots its cursor passed, for the others the slots they
 * stored, found existing or recorded as missed.  ETA = remaining / rate,
 * -1 while the rate is 0 (unknown or stalled).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "beacon.h"

#define PROG_SAMPLE_S 5

static const char *const loop_names[BC_LOOPS] = { "head", "trailing", "backfill" };

void bc_metrics_register(struct beacon *bc)
{
	static const struct {
		const char *name, *help;
	} gauges[BC_GAUGES] = {
		{ "cursor_slot", "Slot a loop has reached (backfill: the next slot it takes, downward)." },
		{ "target_slot", "Slot a loop works towards (head: current slot - head_lag_slots)." },
		{ "slots_remaining", "Slots between a loop's cursor and its target (trailing: pending slots)." },
		{ "slots_per_second", "Slots a loop settled per second over the last minute." },
		{ "eta_seconds", "Seconds until a loop reaches its target at the current rate; -1 unknown." },
	};
	lab_ctx *ctx = bc->ctx;
	int rc = 0;
	for (int i = 0; i < BC_GAUGES && rc == 0; i++)
		rc = lab_metric_gauge(ctx, gauges[i].name, gauges[i].help,
				      LAB_LABELS("network", "loop"), &bc->m_gauge[i]);
	if (rc == 0)
		rc = lab_metric_counter(ctx, "slots_stored_total", "Slot documents written.",
					LAB_LABELS("network"), &bc->m_stored);
	if (rc == 0)
		rc = lab_metric_counter(ctx, "slots_missed_total",
					"Slots recorded as missed (no block after the grace period).",
					LAB_LABELS("network"), &bc->m_missed);
	if (rc < 0 && rc != LAB_ENOTSUP) /* a host without metrics: the plugin works without */
		lab_logkv(ctx, LAB_LOG_WARN, "metrics unavailable", LAB_FS("error", lab_strerror(rc)));
}

void bc_progress_count(struct bc_net *net, int loop, uint64_t n)
{
	if (loop >= 0 && loop < BC_LOOPS)
		net->loops[loop].done += n;
}

/* Cursor, target and slots remaining of one loop now. */
static void loop_position(struct bc_net *net, int loop, uint64_t *cursor, uint64_t *target,
			  uint64_t *remaining)
{
	switch (loop) {
	case BC_LOOP_HEAD:
		*cursor = net->last_head;
		*target = bc_head_target(net);
		*remaining = *target > *cursor ? *target - *cursor : 0;
		break;
	case BC_LOOP_TRAIL:
		*cursor = net->npending ? net->pending[0] : net->last_head;
		*target = net->last_head;
		*remaining = net->npending;
		break;
	default:
		*cursor = !net->bf_have ? 0 : net->bf_finished ? net->target : net->bf_next;
		*target = net->target;
		*remaining = !net->bf_have || net->bf_finished || net->bf_next < net->target
				     ? 0
				     : net->bf_next - net->target + 1;
	}
}

/* Slots per second over the sample window. */
static double loop_rate(const struct bc_loopstat *ls)
{
	if (ls->nsamples < 2)
		return 0;
	unsigned newest = (ls->pos + PROG_WINDOW - 1) % PROG_WINDOW;
	unsigned oldest = ls->nsamples < PROG_WINDOW ? 0 : ls->pos;
	uint64_t ms = ls->at_ms[newest] - ls->at_ms[oldest];
	if (!ms)
		return 0;
	double r = (double)(ls->done_at[newest] - ls->done_at[oldest]) * 1000.0 / (double)ms;
	return (double)(uint64_t)(r * 1000 + 0.5) / 1000; /* 3 decimals are plenty */
}

/* Whole seconds. */
static double eta_of(uint64_t remaining, double rate)
{
	if (remaining == 0)
		return 0;
	return rate > 0 ? (double)(uint64_t)((double)remaining / rate) : -1;
}

static void sample(struct bc_net *net)
{
	struct beacon *bc = net->bc;
	uint64_t now = lab_monotonic_ms(bc->ctx);
	for (int l = 0; l < BC_LOOPS; l++) {
		struct bc_loopstat *ls = &net->loops[l];
		uint64_t cursor, target, remaining;
		ls->at_ms[ls->pos] = now;
		ls->done_at[ls->pos] = ls->done;
		ls->pos = (ls->pos + 1) % PROG_WINDOW;
		if (ls->nsamples < PROG_WINDOW)
			ls->nsamples++;
		ls->rate = loop_rate(ls);
		loop_position(net, l, &cursor, &target, &remaining);
		const double v[BC_GAUGES] = { (double)cursor, (double)target, (double)remaining,
					      ls->rate, eta_of(remaining, ls->rate) };
		for (int g = 0; g < BC_GAUGES; g++)
			lab_metric_set(bc->ctx, bc->m_gauge[g], v[g],
				       LAB_LABELS(net->name, loop_names[l]));
	}
	/* The backfill's share of the chain from the head down to its target. */
	char what[64];
	uint64_t cursor, target, remaining;
	loop_position(net, BC_LOOP_BACKFILL, &cursor, &target, &remaining);
	uint64_t total = net->last_head >= target ? net->last_head - target + 1 : 0;
	snprintf(what, sizeof what, "%.48s backfill", net->name);
	if (net->bf_have && total > 0)
		lab_progress(bc->ctx, what, (double)(total - (remaining < total ? remaining : total)),
			     (double)total, net->loops[BC_LOOP_BACKFILL].rate);
}

static void sample_fire(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct beacon *bc = ud;
	for (size_t i = 0; i < bc->nnets; i++)
		sample(&bc->nets[i]);
}

/* "2h41m", "3m20s", "45s"; "unknown" for a negative ETA. */
static void eta_text(double eta, char *out, size_t cap)
{
	uint64_t s = eta < 0 ? 0 : (uint64_t)eta;
	if (eta < 0)
		snprintf(out, cap, "unknown");
	else if (s >= 86400)
		snprintf(out, cap, "%" PRIu64 "d%" PRIu64 "h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, cap, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(out, cap, "%" PRIu64 "s", s);
}

/* One line per network: the interval's counts, the head, the backfill. */
static void log_fire(lab_ctx *ctx, lab_timer *t, void *ud)
{
	struct beacon *bc = ud;
	for (size_t i = 0; i < bc->nnets; i++) {
		struct bc_net *net = &bc->nets[i];
		uint64_t cursor, target, remaining, hc, ht, hr;
		char eta[32];
		sample(net); /* the line and the gauges agree */
		loop_position(net, BC_LOOP_HEAD, &hc, &ht, &hr);
		loop_position(net, BC_LOOP_BACKFILL, &cursor, &target, &remaining);
		double rate = net->loops[BC_LOOP_BACKFILL].rate;
		double e = eta_of(remaining, rate);
		eta_text(e, eta, sizeof eta);
		const char *state = !net->bf_have ? "idle" : remaining ? "running" : "finished";
		lab_logkv(ctx, LAB_LOG_INFO, "progress", LAB_FS("network", net->name),
			  LAB_FI("stored", net->log_stored), LAB_FI("missed", net->log_missed),
			  LAB_FI("seconds", bc->progress_interval_s), LAB_FI("head", hc),
			  LAB_FI("head_behind", hr), LAB_FI("pending", net->npending),
			  LAB_FS("backfill", state), LAB_FI("backfill_cursor", cursor),
			  LAB_FI("backfill_target", target), LAB_FI("backfill_remaining", remaining),
			  LAB_FD("backfill_slots_per_second", (double)(int64_t)(rate * 10) / 10),
			  LAB_FI("backfill_eta_seconds", (int64_t)e), LAB_FS("backfill_eta", eta));
		net->log_stored = net->log_missed = 0;
	}
}

void bc_progress_start(struct beacon *bc)
{
	lab_ctx *ctx = bc->ctx;
	uint64_t every = (uint64_t)bc->progress_interval_s * 1000;
	uint64_t samp = every < PROG_SAMPLE_S * 1000 ? every : PROG_SAMPLE_S * 1000;
	for (size_t i = 0; i < bc->nnets; i++)
		sample(&bc->nets[i]); /* gauges and progress from the start */
	if (lab_timer_start(ctx, samp, samp, sample_fire, bc, NULL) < 0 ||
	    lab_timer_start(ctx, every, every, log_fire, bc, NULL) < 0)
		lab_logf(ctx, LAB_LOG_WARN, "cannot start the progress timers");
}

void bc_count_slot(struct bc_net *net, int missed)
{
	struct beacon *bc = net->bc;
	lab_metric_add(bc->ctx, missed ? bc->m_missed : bc->m_stored, 1, LAB_LABELS(net->name));
}
