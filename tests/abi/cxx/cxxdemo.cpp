// cxxdemo — a labd plugin in C++17, built by tests/abi/out-of-tree.sh
// against the installed SDK only: options with ranges, allowed values and
// binding, a timer, state, a query with bound parameters, a document and
// an event, lab_logkv with fields (LAB_FS/LAB_FI/LAB_FD, LAB_PSTR/LAB_PTIME
// are the header's macros).  It must compile without warnings with
// g++/clang++ -std=c++17 -Wall -Wextra -Wpedantic -Werror.
#define LAB_PLUGIN_MIN_ABI_MINOR 1
#include <lab/plugin.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>

namespace {

struct demo {
	lab_ctx *ctx = nullptr;
	int64_t interval_s = 0;
	const char *network = nullptr;
	const char *mode = nullptr;
	int64_t passes = 0;
	bool once = false;
};

// Options built in code: C++17 has no designated initializers (C++20 has;
// then the C way with LAB_RANGE, LAB_ALLOWED and LAB_BIND works too).
lab_option option(const char *name, int type, const char *def, const char *desc)
{
	lab_option o{};
	o.name = name;
	o.type = type;
	o.def = def;
	o.desc = desc;
	return o;
}
lab_option bound(lab_option o, size_t offset, size_t size)
{
	o.bind_offset = offset;
	o.bind_size = size;
	return o;
}
lab_option ranged(lab_option o, int64_t lo, int64_t hi)
{
	o.has_min = o.has_max = 1;
	o.min = lo;
	o.max = hi;
	return o;
}
const char *const modes[] = { "count", "skip", nullptr };
lab_option allowed(lab_option o, const char *const *values)
{
	o.allowed = values;
	return o;
}
lab_option flagged(lab_option o, unsigned flags)
{
	o.flags = flags;
	return o;
}

const lab_option options[] = {
	bound(ranged(option("interval", LAB_SET_DURATION, "1m", "how often"), 1, 86400),
	      offsetof(demo, interval_s), sizeof(int64_t)),
	bound(flagged(option("network", LAB_SET_STRING, "mainnet", "network"),
		      LAB_SETTING_KEY_SEGMENT),
	      offsetof(demo, network), sizeof(const char *)),
	bound(allowed(option("mode", LAB_SET_STRING, "count", "what to do"), modes),
	      offsetof(demo, mode), sizeof(const char *)),
	lab_option{},
};

void finish(demo *d, int status)
{
	if (d->once)
		lab_done(d->ctx, status);
}

void on_stored(lab_ctx *ctx, int status, const void *, size_t, void *ud)
{
	auto *d = static_cast<demo *>(ud);
	if (status == 0) {
		d->passes++;
		std::string v = std::to_string(d->passes);
		lab_state_set(ctx, "passes", v.data(), v.size());
		std::string ev = "{\"passes\":" + v + "}";
		lab_publish(ctx, "cxxdemo.done", ev.data(), ev.size());
	}
	finish(d, status);
}

void on_rows(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *rows, void *ud)
{
	auto *d = static_cast<demo *>(ud);
	uint64_t n = 0;
	if (status < 0 || lab_rows_count(ctx, rows) != 1 || lab_rows_u64(ctx, rows, 0, 0, &n) < 0) {
		lab_logkv(ctx, LAB_LOG_ERROR, "query failed",
			  LAB_FS("error", errmsg ? errmsg : lab_strerror(status)));
		finish(d, status < 0 ? status : LAB_EPARSE);
		return;
	}
	std::string key = std::string("cxxdemo/") + d->network + ".json";
	std::string doc = "{\"network\":\"" + std::string(d->network) + "\",\"blocks\":" +
			  std::to_string(n) + "}";
	int rc = lab_storage_put(ctx, key.c_str(), doc.data(), doc.size(), nullptr, nullptr,
				 on_stored, d);
	if (rc < 0)
		finish(d, rc);
}

void pass(demo *d)
{
	if (std::string(d->mode) == "skip") {
		finish(d, 0);
		return;
	}
	lab_param p[] = { LAB_PSTR(d->network), LAB_PTIME(lab_now(d->ctx) - 3600) };
	int rc = lab_query(d->ctx,
			   "SELECT count() FROM beacon_api_eth_v1_events_block"
			   " WHERE meta_network_name = ? AND slot_start_date_time >= ?",
			   p, 2, on_rows, d);
	if (rc < 0)
		finish(d, rc);
}

void on_tick(lab_ctx *, lab_timer *, void *ud) { pass(static_cast<demo *>(ud)); }

int demo_init(lab_ctx *ctx, void **self)
{
	auto *d = new (std::nothrow) demo;
	if (!d)
		return LAB_ENOMEM;
	d->ctx = ctx;
	if (lab_cfg_bind(ctx, nullptr, d) < 0) {
		delete d;
		return LAB_ECONFIG;
	}
	lab_logkv(ctx, LAB_LOG_INFO, "cxxdemo ready", LAB_FS("network", d->network),
		  LAB_FI("interval_s", d->interval_s), LAB_FD("version", 1.0));
	*self = d;
	return 0;
}

int demo_start(void *self)
{
	auto *d = static_cast<demo *>(self);
	uint64_t ms = static_cast<uint64_t>(d->interval_s) * 1000;
	return lab_timer_start(d->ctx, ms, ms, on_tick, d, nullptr);
}

int demo_once(void *self)
{
	auto *d = static_cast<demo *>(self);
	d->once = true;
	pass(d);
	return 0;
}

int demo_stop(void *) { return 0; }
void demo_destroy(void *self) { delete static_cast<demo *>(self); }

} // namespace

// The descriptor without designated initializers: lab_plugin_stamp() fills
// magic, ABI version and sizes as LAB_PLUGIN_DEFINE does.
lab_plugin descriptor()
{
	lab_plugin d{};
	d.name = "cxxdemo";
	d.version = "1.0.0";
	d.description = "a C++17 plugin";
	d.init = demo_init;
	d.start = demo_start;
	d.stop = demo_stop;
	d.destroy = demo_destroy;
	d.once = demo_once;
	d.options = options;
	return lab_plugin_stamp(d);
}

extern "C" LAB_EXPORT const lab_plugin *lab_plugin_entry(void);
extern "C" LAB_EXPORT const lab_plugin *lab_plugin_entry(void)
{
	static const lab_plugin d = descriptor();
	return &d;
}
