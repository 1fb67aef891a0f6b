/*
 * lab/plugin.h — the labd plugin SDK.  This header is the whole contract
 * between the labd host and a plugin, and it is also its manual.
 *
 * ==========================================================================
 * 1. What a plugin is
 * ==========================================================================
 * A plugin is a shared object (NAME.so) that exports exactly one symbol:
 *
 *     const lab_plugin *lab_plugin_entry(void);
 *
 * returning a pointer to a constant descriptor (struct lab_plugin) that lives
 * as long as the .so is loaded.  The host dlopen()s the file with
 * RTLD_NOW|RTLD_LOCAL, calls lab_plugin_entry(), and checks before anything
 * else: `magic` == LAB_PLUGIN_MAGIC, `abi_major` == the host's major,
 * `abi_minor` <= the host's minor, `size` >= the size of the version-1.0
 * descriptor, and `name` equal to the name the plugin is configured under.
 * A plugin that fails a check is refused with a message naming both versions.
 *
 * Use LAB_PLUGIN_DEFINE() (end of this file) instead of writing the entry
 * function by hand: it fills magic, ABI version (the minor the plugin needs,
 * see §5) and sizes for you, and new optional fields default to NULL in old
 * sources.
 *
 * The plugin never links host symbols.  Everything the host offers comes
 * through the function table `lab_host_api` reachable from the context
 * handle (`ctx->api`), wrapped by the static inline functions below so that
 * a call reads `lab_timer_start(ctx, ...)`.
 *
 * ==========================================================================
 * 2. Life cycle (all calls on the host's single loop thread)
 * ==========================================================================
 *
 *   load ── init ──► start ──► ... callbacks ... ──► stop ──► (drain) ──► destroy ── unload
 *                 └─► once ──► ... lab_done() ... ──► stop ──► (drain) ──► destroy    (labd --once)
 *
 *  init(ctx, &self)   Read the configuration, allocate the instance, build
 *                     lookup tables.  No timers or I/O yet is recommended but
 *                     allowed.  Return 0 or a negative LAB_E* code; on
 *                     failure the host calls nothing else (not even destroy):
 *                     free what you allocated before returning the error.
 *                     The plugin's durable state is already loaded.
 *  start(self)        Begin scheduled work: start timers, subscribe.
 *                     When start returns an error the host still calls
 *                     stop (with the drain) and then destroy, exactly as
 *                     after a successful start: the instance exists since
 *                     init succeeded.  So never free the instance inside
 *                     start; release what start itself set up in stop or
 *                     destroy.  The same holds for once: a failing once
 *                     (error returned, or lab_done(ctx, <0)) is followed by
 *                     stop and destroy.
 *  once(self)         (optional; `labd --once`) Do the plugin's work exactly
 *                     one time, then call lab_done(ctx, status) exactly once.
 *                     `start` is not called in a --once run.
 *  run(self)          (optional) "Run your scheduled work now": POST
 *                     /plugins/NAME/run and the lab.NAME.run broker subject.
 *  stop(self)         Stop starting new work.  After stop returns the host
 *                     removes the plugin's timers and subscriptions (no more
 *                     timer or message callbacks).  Operations already in
 *                     flight (queries, storage, work items) are drained:
 *                     their completion callbacks still run, and from them the
 *                     plugin may issue the follow-up operations it needs to
 *                     finish a unit of work (store the document, update
 *                     state).  The drain is bounded by the host's drain
 *                     timeout; what is left is cancelled WITHOUT calling back
 *                     (1.3: work submitted with lab_work_submit_cancel()
 *                     gets its `cancel` callback instead, so it can free
 *                     its memory).
 *  destroy(self)      Free the instance.  The host never calls into the
 *                     plugin's code after destroy returns, and unloads it.
 *
 * State is flushed after the drain and before destroy, so everything the
 * plugin wrote with lab_state_set() during the drain is kept.
 *
 * ==========================================================================
 * 3. Ownership and lifetime rules
 * ==========================================================================
 *  - The host owns every handle it gives out (lab_timer, lab_sub, lab_op);
 *    they are tied to the plugin instance and released by the host when the
 *    instance stops.  A plugin may cancel a handle earlier; it never frees
 *    one itself.
 *  - Buffers a plugin passes to the host (keys, bodies, SQL, parameters,
 *    subjects, JSON for state) are copied before the call returns: the
 *    plugin may free or reuse them immediately.
 *  - Pointers the host passes to a callback (row sets, bodies, subjects,
 *    error messages) are valid only until that callback returns.  Copy what
 *    you keep.
 *  - Pointers returned by getters (configuration strings, network names,
 *    state values) are valid as documented at each function; configuration
 *    and network data stay valid until `destroy` returns.
 *  - `ud` (user data) pointers are never dereferenced by the host.
 *  - Completion: no callback is ever invoked before the call that registered
 *    it returns.  Timers (even 0 ms), storage operations, queries, state
 *    flushes, messages and work items complete on a later turn of the loop,
 *    and so do the plugin's own stop/destroy after lab_done().  A call that
 *    fails at once returns a negative LAB_E* and never calls back.  A plugin
 *    needs no guard against re-entry from the call it is making.
 *
 * ==========================================================================
 * 4. Threads
 * ==========================================================================
 * Every callback runs on the host's loop thread, and every host function
 * must be called from it — EXCEPT these, which are safe from any thread
 * (notably from a lab_work function running on a worker):
 *     lab_log(), lab_logf(), lab_logkv(), lab_now_ms(), lab_now(),
 *     lab_monotonic_ms(), lab_strerror(), lab_key_segment() and
 *     lab_key_segment_check() (1.1), lab_log_enabled(), the lab_json_* writer
 *     (1.3; one writer used by one thread at a time), lab_cluster_backend()
 *     and lab_cluster_node() (1.5) and LAB_HAS().
 * A plugin never blocks the loop: no sleeping, no blocking I/O, nothing
 * CPU-heavy for more than about a millisecond.  Heavy transforms go through
 * lab_work_submit().
 *
 * ==========================================================================
 * 5. ABI stability
 * ==========================================================================
 *  - Only C11 standard types and this SDK's own opaque handles cross the ABI.
 *  - lab_host_api carries its own size.  New functions are only appended at
 *    its end and bump LAB_ABI_MINOR; a plugin that needs minor N runs on
 *    every host with minor >= N of the same major.  A plugin that needs a
 *    newer minor than the host has is refused at load.
 *  - "Needs" is what the plugin declares, not the header it was built
 *    with: LAB_PLUGIN_DEFINE stamps LAB_PLUGIN_MIN_ABI_MINOR (default 0).
 *    Define it before including this header when the plugin relies on a
 *    newer minor without testing for it:
 *
 *        #define LAB_PLUGIN_MIN_ABI_MINOR 1   // uses `options` (1.1)
 *        #include <lab/plugin.h>
 *
 *    A plugin that declares a lower minor than its header's may still call
 *    newer functions after testing LAB_HAS(ctx, fn); the 1.1 wrappers test
 *    it themselves and return LAB_ENOTSUP on an older host.
 *  - The descriptor (lab_plugin) likewise only grows at its end; the host
 *    reads a field only when `size` says the plugin has it.
 *  - Removing or changing anything bumps LAB_ABI_MAJOR; plugins of another
 *    major are refused.
 *  - Errors are negative LAB_E* codes; 0 is success.  No errno.
 */
#ifndef LAB_PLUGIN_H
#define LAB_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LAB_ABI_MAJOR 1
#define LAB_ABI_MINOR 5
#define LAB_PLUGIN_MAGIC 0x4c414250u /* "LABP" */

/* Exported symbol name, for hosts and tools. */
#define LAB_PLUGIN_ENTRY_SYMBOL "lab_plugin_entry"

#if defined(__GNUC__)
#define LAB_EXPORT __attribute__((visibility("default")))
#define LAB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LAB_EXPORT
#define LAB_PRINTF(f, a)
#endif

/* --------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */
enum lab_error {
	LAB_OK = 0,
	LAB_EINVAL = -1,     /* invalid argument */
	LAB_ENOMEM = -2,     /* out of memory */
	LAB_ENOENT = -3,     /* no such key / setting / object */
	LAB_EIO = -4,        /* I/O or transport failure (retryable) */
	LAB_ETIMEDOUT = -5,  /* timed out */
	LAB_ECANCELED = -6,  /* cancelled (plugin stopping, daemon exiting) */
	LAB_EBUSY = -7,      /* resource busy / limit reached */
	LAB_ENOTSUP = -8,    /* not supported by this host or backend */
	LAB_EABI = -9,       /* ABI mismatch */
	LAB_ECONFIG = -10,   /* bad configuration */
	LAB_EPARSE = -11,    /* malformed data (JSON, rows, YAML) */
	LAB_EQUERY = -12,    /* ClickHouse rejected the query (message given) */
	LAB_EUNAVAIL = -13,  /* service unavailable (down, 5xx) */
	LAB_ERANGE = -14,    /* value out of range */
	LAB_EPERM = -15,     /* not permitted (unsafe key, permissions) */
	LAB_ESTATE = -16,    /* wrong state for this call (e.g. not running) */
	LAB_EEXIST = -17     /* already exists */
};

/* Thread-safe; never returns NULL. */
static inline const char *lab_strerror(int err)
{
	switch (err) {
	case LAB_OK: return "success";
	case LAB_EINVAL: return "invalid argument";
	case LAB_ENOMEM: return "out of memory";
	case LAB_ENOENT: return "not found";
	case LAB_EIO: return "I/O error";
	case LAB_ETIMEDOUT: return "timed out";
	case LAB_ECANCELED: return "cancelled";
	case LAB_EBUSY: return "busy";
	case LAB_ENOTSUP: return "not supported";
	case LAB_EABI: return "ABI mismatch";
	case LAB_ECONFIG: return "configuration error";
	case LAB_EPARSE: return "malformed data";
	case LAB_EQUERY: return "query failed";
	case LAB_EUNAVAIL: return "service unavailable";
	case LAB_ERANGE: return "out of range";
	case LAB_EPERM: return "not permitted";
	case LAB_ESTATE: return "wrong state";
	case LAB_EEXIST: return "already exists";
	default: return "unknown error";
	}
}

/* --------------------------------------------------------------------------
 * Opaque handles
 * ------------------------------------------------------------------------ */
typedef struct lab_host_api lab_host_api;
typedef struct lab_timer lab_timer;   /* a timer owned by the host */
typedef struct lab_sub lab_sub;       /* a broker subscription */
typedef struct lab_op lab_op;         /* an in-flight query / storage op */
typedef struct lab_rows lab_rows;     /* a ClickHouse row set (read-only) */
typedef struct lab_cfg lab_cfg;       /* a node of the plugin's config section */
typedef struct lab_network lab_network; /* a configured Ethereum network */
typedef struct lab_metric lab_metric; /* (1.2) a metric family registered by this plugin */
struct lab_http_req; /* (1.4) an HTTP request to answer: see below */
typedef struct lab_stream lab_stream;     /* (1.4) an open SSE or WebSocket stream */
typedef struct lab_route lab_route;       /* (1.4) a registered HTTP route */
typedef struct lab_lease lab_lease;   /* (1.5) a named lease held by this plugin */
typedef struct lab_claim lab_claim;   /* (1.5) a claimed unit of work */

/*
 * The per-instance context.  Its only public member is the host function
 * table; the rest is private to the host.  Valid from init until destroy
 * returns.  Never copy it; never write to it.
 */
typedef struct lab_ctx {
	const lab_host_api *api;
} lab_ctx;

/* --------------------------------------------------------------------------
 * Logging
 * ------------------------------------------------------------------------ */
enum lab_log_level {
	LAB_LOG_DEBUG = 0,
	LAB_LOG_INFO = 1,
	LAB_LOG_WARN = 2,
	LAB_LOG_ERROR = 3
};

enum lab_field_type { LAB_FIELD_STR = 1, LAB_FIELD_INT = 2, LAB_FIELD_DOUBLE = 3 };

/* One structured key=value log field.  Build them with LAB_FS/LAB_FI/LAB_FD. */
typedef struct lab_field {
	const char *key;
	int type; /* enum lab_field_type */
	const char *s;
	int64_t i;
	double d;
} lab_field;

/* LAB_CXX_VALUE(T, ...): a value of struct T — a compound literal in C, a
 * braced temporary in C++ (which has no compound literals).  Internal to
 * the macros of this header. */
#ifdef __cplusplus
#define LAB_CXX_VALUE(T, ...) (T{ __VA_ARGS__ })
#else
#define LAB_CXX_VALUE(T, ...) ((T){ __VA_ARGS__ })
#endif
#define LAB_FS(k, v) LAB_CXX_VALUE(lab_field, (k), LAB_FIELD_STR, (v), 0, 0.0)
#define LAB_FI(k, v) LAB_CXX_VALUE(lab_field, (k), LAB_FIELD_INT, NULL, (int64_t)(v), 0.0)
#define LAB_FD(k, v) LAB_CXX_VALUE(lab_field, (k), LAB_FIELD_DOUBLE, NULL, 0, (double)(v))

/* --------------------------------------------------------------------------
 * Configuration map: the settings a plugin declares (Fluent Bit style).
 * The host validates the plugin's section against it before init: unknown
 * keys, wrong types and missing required settings are errors with
 * file:line.  `labd --describe NAME` prints it.  The keys `enabled` and
 * `path` are the host's and must not be declared.
 * ------------------------------------------------------------------------ */
enum lab_setting_type {
	LAB_SET_STRING = 1,
	LAB_SET_INT = 2,       /* 64-bit integer */
	LAB_SET_BOOL = 3,
	LAB_SET_DURATION = 4,  /* string "<int>(s|m|h|d)", may be negative; read as seconds;
				  with LAB_SETTING_MS (1.3) also "<int>ms" */
	LAB_SET_DOUBLE = 5,
	LAB_SET_STRINGS = 6,   /* list of strings: ( "a", "b" ) or [ "a", "b" ] */
	LAB_SET_GROUP = 7,     /* group { ... } whose keys are `children` */
	LAB_SET_LIST = 8,      /* list ( {..}, {..} ) of groups, each keyed by `children` */
	LAB_SET_MAP = 9        /* group whose keys are free names, each value a group keyed by `children` */
};

enum lab_setting_flags {
	LAB_SETTING_REQUIRED = 1u << 0,
	/* 1.1, honoured in lab_option tables (STRING, STRINGS): the host checks
	 * the value with its storage key rules before init. */
	LAB_SETTING_KEY_PREFIX = 1u << 1,  /* a relative key prefix: "a/b", no empty,
					      ".", ".." segment, no control byte, no '\\' */
	LAB_SETTING_KEY_SEGMENT = 1u << 2, /* one portable segment: 1..128 bytes of
					      [A-Za-z0-9._-], not "." or ".." */
	/* 1.3, DURATION only (lab_setting and lab_option tables): the value may
	 * also be written in milliseconds, "250ms" (every other unit works as
	 * before).  Read it with lab_cfg_duration_ms(); lab_cfg_duration()
	 * returns LAB_ERANGE for a value that is not a whole number of seconds.
	 * For such a setting min/max are in MILLISECONDS and LAB_BIND stores
	 * milliseconds.  Without the flag "ms" is refused by the validator, so
	 * plugins built before 1.3 never see a sub-second value.  A plugin
	 * using it needs LAB_PLUGIN_MIN_ABI_MINOR 2 (an older host would
	 * refuse "250ms" with a configuration error). */
	LAB_SETTING_MS = 1u << 3
};

typedef struct lab_setting {
	const char *name;           /* NULL terminates an array of settings */
	int type;                   /* enum lab_setting_type */
	const char *def;            /* default as text ("1h", "3", "true"); NULL = none */
	const char *desc;           /* one line, shown by --describe and in docs */
	const struct lab_setting *children; /* for GROUP, LIST, MAP */
	unsigned flags;             /* enum lab_setting_flags */
} lab_setting;

/*
 * ABI 1.1: a setting declaration with checks and binding.  A plugin declares
 * its settings either as `settings` (lab_setting, 1.0) or as `options`
 * (lab_option, 1.1, needs LAB_PLUGIN_MIN_ABI_MINOR 1), never both.  The
 * first six members mean what they mean in lab_setting.
 *
 * The host checks the plugin's section against the table before init, and
 * the defaults when it loads the plugin (a default outside its own range is
 * a bad declaration: the plugin is refused).  A violation is reported like
 * every other configuration error, once, as
 *     FILE:LINE: setting 'plugins.NAME.PATH': REASON
 * and init is not called.  So init never re-checks what the table declares.
 *
 *   min, max    INT and DURATION (in seconds; in milliseconds with
 *               LAB_SETTING_MS) only: the inclusive bounds,
 *               each one in force when its has_min / has_max is set.  Write
 *               them with LAB_MIN(v), LAB_MAX(v) or LAB_RANGE(lo, hi).
 *   allowed     STRING and STRINGS only: NULL-terminated list of the values
 *               accepted (compared byte for byte); NULL = any.  Write it with
 *               LAB_ALLOWED("a", "b") (a compound literal: use it in tables
 *               at file scope, which have static storage).  --describe
 *               lists them.
 *   bind_*      where lab_cfg_bind() stores the setting's value (or its
 *               default) in a struct of the plugin: bind_size != 0 binds it;
 *               bind_offset is offsetof() of the member, which must be an
 *               int64_t (INT, DURATION in seconds or, with
 *               LAB_SETTING_MS, milliseconds), int (BOOL), double
 *               (DOUBLE) or const char * (STRING; host-owned, valid until
 *               destroy).  Members of a GROUP bind into the same struct as
 *               the group; members of LIST and MAP elements bind into the
 *               struct passed for that element.  Write it with
 *               LAB_BIND(struct type, member).
 *
 * Arrays of lab_option are read with the stride the descriptor's
 * `option_size` gives (LAB_PLUGIN_DEFINE fills it), so a later minor can
 * append members here without breaking plugins built earlier.
 */
typedef struct lab_option {
	const char *name;           /* NULL terminates an array of options */
	int type;                   /* enum lab_setting_type */
	const char *def;            /* default as text; NULL = none */
	const char *desc;           /* one line, shown by --describe and in docs */
	const struct lab_option *children; /* for GROUP, LIST, MAP */
	unsigned flags;             /* enum lab_setting_flags */
	int has_min;                /* min is in force */
	int has_max;                /* max is in force */
	int64_t min;                /* inclusive lower bound (INT; DURATION in seconds) */
	int64_t max;                /* inclusive upper bound */
	const char *const *allowed; /* NULL-terminated accepted values (STRING, STRINGS) */
	size_t bind_offset;         /* offsetof() of the bound member */
	size_t bind_size;           /* sizeof the bound member; 0 = not bound */
} lab_option;

/* Designated-initializer fragments for lab_option entries (see above).
 * C++ (C++20 designated initializers, or C++17 with the GCC/Clang
 * extension) needs the members of an entry in declaration order: name,
 * type, def, desc, children, flags, LAB_MIN/LAB_MAX/LAB_RANGE, LAB_ALLOWED,
 * LAB_BIND; these fragments keep their own members in that order. */
#define LAB_MIN(v) .has_min = 1, .min = (int64_t)(v)
#define LAB_MAX(v) .has_max = 1, .max = (int64_t)(v)
#ifdef __cplusplus
#define LAB_RANGE(lo, hi) .has_min = 1, .has_max = 1, .min = (int64_t)(lo), .max = (int64_t)(hi)
/* A function-local static array: C++ has no compound literals. */
#define LAB_ALLOWED(...)                                                          \
	.allowed = []() -> const char *const * {                                  \
		static const char *const allowed_[] = { __VA_ARGS__, nullptr }; \
		return allowed_;                                              \
	}()
#else
#define LAB_RANGE(lo, hi) LAB_MIN(lo), LAB_MAX(hi)
#define LAB_ALLOWED(...) .allowed = (const char *const[]){ __VA_ARGS__, NULL }
#endif
#define LAB_BIND(type, member) \
	.bind_offset = offsetof(type, member), .bind_size = sizeof(((type *)0)->member)

/* --------------------------------------------------------------------------
 * ClickHouse query parameters.  SQL text contains `?` placeholders (outside
 * quoted literals, identifiers and comments); the host replaces the n-th `?`
 * with the n-th parameter, escaped as a ClickHouse literal.  A plugin never
 * splices values into SQL itself.
 * ------------------------------------------------------------------------ */
enum lab_param_type {
	LAB_PARAM_STR = 1,      /* 's' quoted, with \\ \' and control bytes escaped */
	LAB_PARAM_INT = 2,      /* signed 64-bit */
	LAB_PARAM_UINT = 3,     /* unsigned 64-bit */
	LAB_PARAM_DOUBLE = 4,   /* finite double */
	LAB_PARAM_DATETIME = 5, /* Unix seconds, rendered toDateTime(N) */
	LAB_PARAM_NULL = 6,
	/* 1.3: an identifier (table or column name) in `s`/`len`: one name or
	 * "database.name", each part 1..128 bytes of [A-Za-z0-9_] not starting
	 * with a digit, rendered back-quoted (`db`.`table`).  Anything else is
	 * refused with LAB_EINVAL before the query is sent, so an identifier
	 * from the configuration can never change the statement.  Hosts before
	 * 1.3 refuse the type with LAB_EINVAL: test LAB_HAS(ctx, json_new) or
	 * declare LAB_PLUGIN_MIN_ABI_MINOR 2. */
	LAB_PARAM_IDENT = 7
};

typedef struct lab_param {
	int type; /* enum lab_param_type */
	const char *s;
	size_t len; /* for STR; (size_t)-1 = strlen(s) */
	int64_t i;
	uint64_t u;
	double d;
} lab_param;

#define LAB_PSTR(v) LAB_CXX_VALUE(lab_param, LAB_PARAM_STR, (v), (size_t)-1, 0, 0, 0.0)
#define LAB_PINT(v) LAB_CXX_VALUE(lab_param, LAB_PARAM_INT, NULL, 0, (int64_t)(v), 0, 0.0)
#define LAB_PUINT(v) LAB_CXX_VALUE(lab_param, LAB_PARAM_UINT, NULL, 0, 0, (uint64_t)(v), 0.0)
#define LAB_PDOUBLE(v) LAB_CXX_VALUE(lab_param, LAB_PARAM_DOUBLE, NULL, 0, 0, 0, (double)(v))
#define LAB_PTIME(v) LAB_CXX_VALUE(lab_param, LAB_PARAM_DATETIME, NULL, 0, (int64_t)(v), 0, 0.0)
#define LAB_PNULL LAB_CXX_VALUE(lab_param, LAB_PARAM_NULL, NULL, 0, 0, 0, 0.0)
/* 1.3: LAB_PIDENT("beacon_api_eth_v1_events_block") -> `beacon_api_eth_v1_events_block` */
#define LAB_PIDENT(v) LAB_CXX_VALUE(lab_param, LAB_PARAM_IDENT, (v), (size_t)-1, 0, 0, 0.0)

/*
 * Query completion.  `status` is 0 or a negative LAB_E* code; `errmsg` is
 * ClickHouse's (or the transport's) message on failure, NULL on success.
 * Without LAB_QUERY_STREAM, `rows` holds the whole result on success (NULL
 * on failure).  With it, rows arrive through `on_rows` batches and `rows` is
 * NULL here.  Everything handed to the callbacks is valid only until they
 * return.
 */
typedef void (*lab_query_cb)(lab_ctx *ctx, int status, const char *errmsg, const lab_rows *rows,
			     void *ud);
typedef void (*lab_rows_cb)(lab_ctx *ctx, const lab_rows *batch, void *ud);

enum lab_query_flags {
	LAB_QUERY_STREAM = 1u << 0 /* deliver rows in batches through on_rows */
};

/* --------------------------------------------------------------------------
 * Storage
 * ------------------------------------------------------------------------ */
enum lab_put_flags {
	LAB_PUT_ATOMIC = 1u << 0 /* readers see the old or the new object, never a partial one */
};

/*
 * Storage completion.  status: 0 success; for exists: 1 = exists, 0 = does
 * not exist; negative LAB_E* on failure (LAB_ENOENT for get of a missing
 * key).  `data`/`len`: the object body (already gunzipped) for get, else
 * NULL/0.  Valid until the callback returns.
 */
typedef void (*lab_storage_cb)(lab_ctx *ctx, int status, const void *data, size_t len, void *ud);

/* --------------------------------------------------------------------------
 * Other callbacks
 * ------------------------------------------------------------------------ */
typedef void (*lab_timer_cb)(lab_ctx *ctx, lab_timer *timer, void *ud);
/* `subject` is without the deployment's subject prefix. */
typedef void (*lab_msg_cb)(lab_ctx *ctx, const char *subject, const void *data, size_t len,
			   void *ud);
/* Runs on a worker thread: may only call the thread-safe functions (§4). */
typedef void (*lab_work_fn)(void *ud);
/* Runs on the loop after the work function returned; status 0 or LAB_ECANCELED. */
typedef void (*lab_work_done_cb)(lab_ctx *ctx, int status, void *ud);
/* State flush completion. */
typedef void (*lab_done_cb)(lab_ctx *ctx, int status, void *ud);

/* --------------------------------------------------------------------------
 * Key segments (ABI 1.1): the host owns the storage key rules (SPEC §5,
 * §9.2), so a plugin that names objects after untrusted text (usernames)
 * asks the host for the segment instead of escaping it itself.
 * ------------------------------------------------------------------------ */
enum lab_key_segment_flags {
	/* lab_key_segment: always the escaped form, even when the name could be
	 * used raw (the form labd 1.0 used for every name that was not
	 * LAB_KEYSEG_PORTABLE, to find and remove such old copies). */
	LAB_KEYSEG_ESCAPED = 1u << 0,
	/* lab_key_segment_check: the strict rule for names from the
	 * configuration (network names, file names): 1..128 bytes of
	 * [A-Za-z0-9._-], not "." or "..". */
	LAB_KEYSEG_PORTABLE = 1u << 1
};

/* 1.3: a cancelled work item's last call (lab_work_submit_cancel). */
typedef void (*lab_work_cancel_fn)(void *ud);

/* 1.3: a JSON text being written (lab_json_new); owned by the plugin until
 * lab_json_free(). */
typedef struct lab_json lab_json;

/* (1.5) Cluster services: see lab_lease_hold() and friends below. */
enum lab_lease_event { LAB_LEASE_ACQUIRED = 1, LAB_LEASE_LOST = 2 };
typedef void (*lab_lease_cb)(lab_ctx *ctx, lab_lease *l, int event, void *ud);
typedef void (*lab_claim_cb)(lab_ctx *ctx, int status, lab_claim *claim, void *ud);
typedef void (*lab_shared_cb)(lab_ctx *ctx, int status, const char *json, size_t len,
			      uint64_t revision, void *ud);
/* Longest lease, claim or shared-state name, in bytes (without the NUL). */
#define LAB_CLUSTER_NAME_MAX 200

/* Room that is always enough for lab_key_segment()'s output, with the NUL. */
#define LAB_KEY_SEGMENT_MAX 200

/* (1.2) Metric families (lab_metric_counter() and friends, below). */
enum lab_metric_type {
	LAB_METRIC_COUNTER = 1,  /* only goes up: lab_metric_add() with v >= 0 */
	LAB_METRIC_GAUGE = 2,    /* any value: lab_metric_set(), lab_metric_add() */
	LAB_METRIC_HISTOGRAM = 3 /* observations in the host's buckets: lab_metric_observe() */
};
enum lab_metric_op { LAB_METRIC_ADD = 1, LAB_METRIC_SET = 2, LAB_METRIC_OBSERVE = 3 };
#define LAB_METRIC_MAX_LABELS 4      /* label names per family */
#define LAB_METRIC_MAX_FAMILIES 64   /* families per plugin */
#define LAB_METRIC_MAX_SERIES 1000   /* series (label value sets) per plugin, all families */
#define LAB_PROGRESS_MAX 16          /* lab_progress() entries per plugin */
/* A NULL-terminated list of label names or values, for the metric calls:
 * LAB_LABELS("network", "loop").  A compound literal: valid in its block. */
#define LAB_LABELS(...) ((const char *const[]){ __VA_ARGS__, NULL })


/* --------------------------------------------------------------------------
 * HTTP services (ABI 1.4): types.  The functions and their contracts are
 * with the wrappers (lab_http_route() and the following, below).
 * ------------------------------------------------------------------------ */
/* A request to answer.  Like lab_ctx, its only public member is the host
 * table (so the accessors need no ctx); the rest is private to the host.
 * Never copy it; never write to it. */
typedef struct lab_http_req {
	const lab_host_api *api;
} lab_http_req;

/* A request that matched a route (lab_http_route): loop thread. */
typedef void (*lab_http_cb)(lab_ctx *ctx, lab_http_req *req, void *ud);

enum lab_http_flags {
	/* The body is gzip-encoded: sent as stored with Content-Encoding: gzip
	 * to clients that accept gzip, decoded by the host for those that do
	 * not.  Vary: Accept-Encoding is added either way.  A strong etag is
	 * per representation (RFC 9110 8.8.3): the gzip answer carries it with
	 * "-gz" before the closing quote ("\"abc\"" -> "\"abc-gz\""), the
	 * decoded one as given, and If-None-Match is compared with the one the
	 * client would get.  A weak etag (W/"...") is sent as given to both. */
	LAB_HTTP_GZIP = 1u << 0
};

/* An answer (lab_http_respond).  Every pointer only needs to be valid
 * during the call: the host copies what it keeps. */
typedef struct lab_http_response {
	int status;                 /* 100..599: 200, 404, ... */
	const char *content_type;   /* NULL = "application/json" */
	const void *body;           /* len bytes; NULL only with len 0 */
	size_t len;
	unsigned flags;             /* enum lab_http_flags */
	const char *etag;           /* ETag with its quotes ("\"abc\""); NULL = none; see
				     * LAB_HTTP_GZIP for the gzip variant */
	int64_t last_modified;      /* Unix seconds; 0 = none */
	const char *cache_control;  /* NULL = none */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated; NULL = none */
} lab_http_response;

enum lab_stream_kind { LAB_STREAM_SSE = 1, LAB_STREAM_WEBSOCKET = 2 };

/* WebSocket: one complete text or binary message from the client (loop
 * thread; `data` valid during the call, not NUL-terminated). */
typedef void (*lab_stream_msg_cb)(lab_ctx *ctx, lab_stream *s, const void *data, size_t len,
				  void *ud);
/* The stream ended; the last callback for `s`, which is invalid after it
 * returns.  reason: 0 closed by the peer or by lab_stream_close,
 * LAB_EBUSY slow client dropped, LAB_ECANCELED plugin or daemon stopping,
 * LAB_EPARSE protocol error (bad frame, message too big), LAB_ETIMEDOUT. */
typedef void (*lab_stream_close_cb)(lab_ctx *ctx, lab_stream *s, int reason, void *ud);

/* --------------------------------------------------------------------------
 * The host function table (ABI 1.0).  Call through the inline wrappers.
 * ------------------------------------------------------------------------ */
struct lab_host_api {
	uint32_t size; /* sizeof(struct lab_host_api) of the host: test with LAB_HAS() */
	uint16_t abi_major;
	uint16_t abi_minor;

	/* log */
	void (*log)(lab_ctx *ctx, int level, const char *msg, const lab_field *fields, size_t n);
	int (*log_enabled)(lab_ctx *ctx, int level);

	/* clock */
	int64_t (*now_ms)(lab_ctx *ctx);
	uint64_t (*monotonic_ms)(lab_ctx *ctx);

	/* config */
	int (*cfg_string)(lab_ctx *ctx, const lab_cfg *node, const char *path, const char **out);
	int (*cfg_int)(lab_ctx *ctx, const lab_cfg *node, const char *path, int64_t *out);
	int (*cfg_bool)(lab_ctx *ctx, const lab_cfg *node, const char *path, int *out);
	int (*cfg_double)(lab_ctx *ctx, const lab_cfg *node, const char *path, double *out);
	int (*cfg_duration)(lab_ctx *ctx, const lab_cfg *node, const char *path, int64_t *seconds);
	int (*cfg_count)(lab_ctx *ctx, const lab_cfg *node, const char *path);
	int (*cfg_elem)(lab_ctx *ctx, const lab_cfg *node, const char *path, int index,
			const lab_cfg **out);
	const char *(*cfg_name)(lab_ctx *ctx, const lab_cfg *node);
	int (*cfg_where)(lab_ctx *ctx, const lab_cfg *node, const char *path, const char **file,
			 int *line);

	/* timers */
	int (*timer_start)(lab_ctx *ctx, uint64_t delay_ms, uint64_t repeat_ms, lab_timer_cb cb,
			   void *ud, lab_timer **out);
	int (*timer_cancel)(lab_ctx *ctx, lab_timer *timer);

	/* state */
	int (*state_get)(lab_ctx *ctx, const char *key, const char **json, size_t *len);
	int (*state_set)(lab_ctx *ctx, const char *key, const char *json, size_t len);
	int (*state_delete)(lab_ctx *ctx, const char *key);
	int (*state_flush)(lab_ctx *ctx, lab_done_cb cb, void *ud);

	/* storage */
	int (*storage_put)(lab_ctx *ctx, const char *key, const void *data, size_t len,
			   const char *content_type, const char *cache_control, unsigned flags,
			   lab_storage_cb cb, void *ud, lab_op **out);
	int (*storage_get)(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud, lab_op **out);
	int (*storage_exists)(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
			      lab_op **out);
	int (*storage_delete)(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
			      lab_op **out);

	/* clickhouse */
	int (*query)(lab_ctx *ctx, const char *sql, const lab_param *params, size_t nparams,
		     unsigned flags, lab_rows_cb on_rows, lab_query_cb cb, void *ud, lab_op **out);
	int (*op_cancel)(lab_ctx *ctx, lab_op *op);
	size_t (*rows_count)(const lab_rows *rows);
	size_t (*rows_columns)(const lab_rows *rows);
	const char *(*rows_column_name)(const lab_rows *rows, size_t col);
	int (*rows_is_null)(const lab_rows *rows, size_t row, size_t col);
	int (*rows_str)(const lab_rows *rows, size_t row, size_t col, const char **s, size_t *len);
	int (*rows_i64)(const lab_rows *rows, size_t row, size_t col, int64_t *out);
	int (*rows_u64)(const lab_rows *rows, size_t row, size_t col, uint64_t *out);
	int (*rows_f64)(const lab_rows *rows, size_t row, size_t col, double *out);

	/* broker */
	int (*publish)(lab_ctx *ctx, const char *subject, const void *data, size_t len);
	int (*subscribe)(lab_ctx *ctx, const char *subject, lab_msg_cb cb, void *ud, lab_sub **out);
	int (*unsubscribe)(lab_ctx *ctx, lab_sub *sub);

	/* networks */
	size_t (*network_count)(lab_ctx *ctx);
	const lab_network *(*network_at)(lab_ctx *ctx, size_t index);
	const lab_network *(*network_find)(lab_ctx *ctx, const char *name);
	const char *(*network_name)(const lab_network *net);
	int64_t (*network_genesis_time)(const lab_network *net);
	uint32_t (*network_seconds_per_slot)(const lab_network *net);
	uint32_t (*network_slots_per_epoch)(const lab_network *net);
	int (*network_fork_epoch)(const lab_network *net, const char *fork, uint64_t *epoch);
	const char *(*network_entity)(const lab_network *net, uint64_t validator_index);

	/* work */
	int (*work_submit)(lab_ctx *ctx, lab_work_fn fn, lab_work_done_cb done, void *ud);

	/* --once */
	void (*done)(lab_ctx *ctx, int status);

	/* identity */
	const char *(*plugin_name)(lab_ctx *ctx);

	/* ---- ABI 1.1 ---- */
	/* config: store bound settings into a struct (lab_cfg_bind) */
	int (*cfg_bind)(lab_ctx *ctx, const lab_cfg *node, void *base);
	/* config: report an error about a setting (lab_cfg_error) */
	void (*cfg_error)(lab_ctx *ctx, const lab_cfg *node, const char *path, const char *msg);
	/* key segments (lab_key_segment, lab_key_segment_check) */
	int (*key_segment)(lab_ctx *ctx, const char *name, size_t len, unsigned flags, char *out,
			   size_t cap);
	int (*key_segment_check)(lab_ctx *ctx, const char *s, size_t len, unsigned flags);

	/* ---- ABI 1.2 ---- */
	/* metrics (lab_metric_counter/gauge/histogram, lab_metric_add/set/observe) */
	int (*metric_register)(lab_ctx *ctx, int type, const char *name, const char *help,
			       const char *const *labels, lab_metric **out);
	int (*metric_update)(lab_ctx *ctx, lab_metric *metric, int op, double value,
			     const char *const *values);
	/* progress of a long job, for /plugins and `labctl status` (lab_progress) */
	int (*progress)(lab_ctx *ctx, const char *what, double done, double total,
			double per_second);
	/* ---- ABI 1.3 (plugin authors' kit) ----
	 * One contiguous block; see the wrappers for the contracts. */
	/* JSON writer (lab_json_*): the host's own document writer */
	lab_json *(*json_new)(lab_ctx *ctx);
	void (*json_open)(lab_json *j, char kind);
	void (*json_close)(lab_json *j);
	void (*json_key)(lab_json *j, const char *key, size_t len);
	void (*json_str)(lab_json *j, const char *s, size_t len);
	void (*json_i64)(lab_json *j, int64_t v);
	void (*json_u64)(lab_json *j, uint64_t v);
	void (*json_f64)(lab_json *j, double v);
	void (*json_bool)(lab_json *j, int v);
	void (*json_null)(lab_json *j);
	void (*json_raw)(lab_json *j, const char *json, size_t len);
	int (*json_finish)(lab_json *j, const char **data, size_t *len);
	void (*json_free)(lab_json *j);
	/* config: durations in milliseconds (lab_cfg_duration_ms) */
	int (*cfg_duration_ms)(lab_ctx *ctx, const lab_cfg *node, const char *path, int64_t *ms);
	/* work with a cancel callback (lab_work_submit_cancel) */
	int (*work_submit_cancel)(lab_ctx *ctx, lab_work_fn fn, lab_work_done_cb done,
				  lab_work_cancel_fn cancel, void *ud);
	/* ---- ABI 1.4: HTTP ----
	 * One contiguous block; see the wrappers (lab_http_route() ...). */
	int (*http_route)(lab_ctx *ctx, const char *method, const char *pattern, lab_http_cb cb,
			  void *ud, lab_route **out);
	const char *(*http_method)(const lab_http_req *req);
	const char *(*http_path)(const lab_http_req *req);
	const char *(*http_query)(const lab_http_req *req, const char *name);
	const char *(*http_header)(const lab_http_req *req, const char *name);
	int (*http_respond)(lab_ctx *ctx, lab_http_req *req, const lab_http_response *resp);
	int (*stream_open)(lab_ctx *ctx, lab_http_req *req, int kind, const char *const *headers,
			   lab_stream_msg_cb on_msg, lab_stream_close_cb on_close, void *ud,
			   lab_stream **out);
	int (*stream_send)(lab_ctx *ctx, lab_stream *s, const char *event, const char *id,
			   const void *data, size_t len);
	int (*stream_close)(lab_ctx *ctx, lab_stream *s, int code);
	/* storage: the body as stored, not gunzipped (lab_storage_get_raw) */
	int (*storage_get_raw)(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
			       lab_op **out);
	/* ---- ABI 1.5: cluster (leases, claims, shared state) ----
	 * One contiguous block; see the wrappers (lab_lease_hold and friends). */
	int (*lease_hold)(lab_ctx *ctx, const char *name, lab_lease_cb cb, void *ud,
			  lab_lease **out);
	int (*lease_valid)(lab_ctx *ctx, const lab_lease *l);
	int (*lease_release)(lab_ctx *ctx, lab_lease *l);
	int (*claim_acquire)(lab_ctx *ctx, const char *name, lab_claim_cb cb, void *ud);
	int (*claim_valid)(lab_ctx *ctx, const lab_claim *c);
	int (*claim_finish)(lab_ctx *ctx, lab_claim *c, int completed);
	int (*shared_get)(lab_ctx *ctx, const char *key, lab_shared_cb cb, void *ud);
	int (*shared_cas)(lab_ctx *ctx, const char *key, const char *json, size_t len,
			  uint64_t revision, lab_shared_cb cb, void *ud);
	const char *(*cluster_backend)(lab_ctx *ctx);
	const char *(*cluster_node)(lab_ctx *ctx);
};

/*
 * True when the host's table has member `fn` (for functions newer than the
 * minor the plugin declares it needs, see LAB_PLUGIN_MIN_ABI_MINOR).  A
 * plugin that declares minor 0 may run on a 1.0 host, where
 * LAB_HAS(ctx, key_segment) is false.  Thread-safe.
 */
#define LAB_HAS(ctx, fn)                                                            \
	((ctx)->api->size >= offsetof(lab_host_api, fn) + sizeof((ctx)->api->fn) && \
	 (ctx)->api->fn != NULL)

/* --------------------------------------------------------------------------
 * The plugin descriptor (ABI 1.0).
 * ------------------------------------------------------------------------ */
typedef struct lab_plugin {
	uint32_t magic;     /* LAB_PLUGIN_MAGIC */
	uint16_t abi_major; /* LAB_ABI_MAJOR the plugin was built with */
	uint16_t abi_minor; /* lowest host minor the plugin needs */
	uint32_t size;      /* sizeof(lab_plugin) the plugin was built with */
	const char *name;   /* must equal the configured name: [a-z0-9_]+ */
	const char *version;
	const char *description;
	const lab_setting *settings; /* NULL-terminated; NULL = no settings */

	/* required */
	int (*init)(lab_ctx *ctx, void **self);
	int (*start)(void *self);
	int (*stop)(void *self);
	void (*destroy)(void *self);

	/* optional (NULL = not supported) */
	int (*once)(void *self);
	int (*run)(void *self);
	/*
	 * Contribute this plugin's entry to the frontend config.json: return a
	 * JSON object as text, owned by the plugin and valid until the next call
	 * to describe or destroy.  NULL = contribute nothing.
	 */
	const char *(*describe)(void *self);

	/* ---- ABI 1.1 (read only when `size` covers them) ---- */
	/*
	 * The settings as lab_option (checks and binding) instead of
	 * `settings`; NULL-terminated.  Needs LAB_PLUGIN_MIN_ABI_MINOR >= 1: a
	 * 1.0 host would not see it.
	 */
	const lab_option *options;
	uint32_t option_size; /* sizeof(lab_option) the plugin was built with */
} lab_plugin;

/* The size of the version-1.0 descriptor: the smallest the host accepts. */
#define LAB_PLUGIN_SIZE_V1_0 (offsetof(lab_plugin, describe) + sizeof(void *))
/* The version-1.1 lab_option: the smallest option stride the host accepts. */
#define LAB_OPTION_SIZE_V1_1 (offsetof(lab_option, bind_size) + sizeof(size_t))

/*
 * The lowest host minor this plugin needs (stamped into `abi_minor`).
 * Define it before including this header; 0 = runs on every 1.x host.
 */
#ifndef LAB_PLUGIN_MIN_ABI_MINOR
#define LAB_PLUGIN_MIN_ABI_MINOR 0
#endif
#if LAB_PLUGIN_MIN_ABI_MINOR > LAB_ABI_MINOR
#error "LAB_PLUGIN_MIN_ABI_MINOR is newer than this SDK header"
#endif

/*
 * lab_plugin_stamp(d): `d` with magic, ABI version and sizes filled in as
 * LAB_PLUGIN_DEFINE fills them — for a descriptor built by hand (C++
 * without designated initializers):
 *     extern "C" LAB_EXPORT const lab_plugin *lab_plugin_entry(void)
 *     { static const lab_plugin d = lab_plugin_stamp(make_descriptor()); return &d; }
 */
static inline lab_plugin lab_plugin_stamp(lab_plugin d)
{
	d.magic = LAB_PLUGIN_MAGIC;
	d.abi_major = LAB_ABI_MAJOR;
	d.abi_minor = LAB_PLUGIN_MIN_ABI_MINOR;
	d.size = sizeof(lab_plugin);
	d.option_size = sizeof(lab_option);
	return d;
}

#ifdef __cplusplus
/* C++: the designators in declaration order (name, version, description,
 * settings, init, start, stop, destroy, once, run, describe, options);
 * C++20, or C++17 with the GCC/Clang extension. */
#if defined(__GNUC__)
/* g++ warns about members a designated initializer leaves out; C does not. */
#define LAB_CXX_DESIGNATED_BEGIN \
	_Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"")
#define LAB_CXX_DESIGNATED_END _Pragma("GCC diagnostic pop")
#else
#define LAB_CXX_DESIGNATED_BEGIN
#define LAB_CXX_DESIGNATED_END
#endif
#define LAB_PLUGIN_DEFINE(...)                                                         \
	extern "C" LAB_EXPORT const lab_plugin *lab_plugin_entry(void);                \
	extern "C" LAB_EXPORT const lab_plugin *lab_plugin_entry(void)                 \
	{                                                                              \
		LAB_CXX_DESIGNATED_BEGIN                                               \
		static const lab_plugin desc = lab_plugin_stamp(lab_plugin{ __VA_ARGS__ }); \
		LAB_CXX_DESIGNATED_END                                                 \
		return &desc;                                                          \
	}
#else
#define LAB_PLUGIN_DEFINE(...)                                                         \
	LAB_EXPORT const lab_plugin *lab_plugin_entry(void);                           \
	LAB_EXPORT const lab_plugin *lab_plugin_entry(void)                            \
	{                                                                              \
		static const lab_plugin desc = { .magic = LAB_PLUGIN_MAGIC,            \
						 .abi_major = LAB_ABI_MAJOR,           \
						 .abi_minor = LAB_PLUGIN_MIN_ABI_MINOR, \
						 .size = sizeof(lab_plugin),           \
						 .option_size = sizeof(lab_option),    \
						 __VA_ARGS__ };                        \
		return &desc;                                                          \
	}
#endif

/* ==========================================================================
 * Inline wrappers — the plugin-facing API.
 * ======================================================================== */

/* ---- logging (thread-safe) ---------------------------------------------- */

/* Log `msg` with structured fields.  Secrets must not be passed.
 * Records below the plugin's level are dropped by the host: the level is
 * the plugin's `log_level` setting (plugins.NAME.log_level, host key;
 * changed by SIGHUP without a restart) or else the host's log.level (and
 * `labd -d`).  lab_log_enabled() tells whether a level would be written. */
static inline void lab_log(lab_ctx *ctx, int level, const char *msg, const lab_field *fields,
			   size_t n)
{
	ctx->api->log(ctx, level, msg, fields, n);
}

/* Would a record at `level` be written?  For skipping costly formatting.
 * Thread-safe. */
static inline int lab_log_enabled(lab_ctx *ctx, int level)
{
	return ctx->api->log_enabled(ctx, level);
}

/* printf-style message without fields.  Messages are truncated at 1 KiB. */
static inline void lab_logf(lab_ctx *ctx, int level, const char *fmt, ...) LAB_PRINTF(3, 4);
static inline void lab_logf(lab_ctx *ctx, int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	if (!ctx->api->log_enabled(ctx, level))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	ctx->api->log(ctx, level, buf, NULL, 0);
}

/* lab_logkv(ctx, LAB_LOG_INFO, "slot stored", LAB_FS("network", n), LAB_FI("slot", s)); */
#ifdef __cplusplus
/* C++ has no compound literals: the fields bind to an array parameter (a
 * temporary that lives until the end of the full expression). */
extern "C++" {
template <size_t N>
static inline void lab_logkv_(lab_ctx *ctx, int level, const char *msg, const lab_field (&f)[N])
{
	lab_log(ctx, level, msg, f, N);
}
}
#define lab_logkv(ctx, level, msg, ...) lab_logkv_((ctx), (level), (msg), { __VA_ARGS__ })
#else
#define lab_logkv(ctx, level, msg, ...)                                              \
	lab_log((ctx), (level), (msg), (const lab_field[]){ __VA_ARGS__ },           \
		sizeof((const lab_field[]){ __VA_ARGS__ }) / sizeof(lab_field))
#endif

/* ---- clock -------------------------------------------------------------- */

/* Wall clock in Unix milliseconds; honours `labd --now` (then it is fixed). Thread-safe. */
static inline int64_t lab_now_ms(lab_ctx *ctx) { return ctx->api->now_ms(ctx); }
/* Wall clock in whole Unix seconds (what every time range is computed from).
 * Thread-safe. */
static inline int64_t lab_now(lab_ctx *ctx)
{
	int64_t ms = ctx->api->now_ms(ctx);
	return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}
/* Monotonic milliseconds for measuring durations; never affected by --now.
 * Thread-safe. */
static inline uint64_t lab_monotonic_ms(lab_ctx *ctx) { return ctx->api->monotonic_ms(ctx); }

/* ---- config --------------------------------------------------------------
 * `node` NULL means the plugin's own section; otherwise an element obtained
 * from lab_cfg_elem().  `path` is a dotted path below node ("backfill.to_fork");
 * NULL or "" means node itself.  A missing setting yields its declared
 * default; LAB_ENOENT if it has none.  Strings stay valid until destroy.
 * Types were checked before init, so these fail only on programming errors.
 */
static inline int lab_cfg_string(lab_ctx *ctx, const lab_cfg *node, const char *path,
				 const char **out)
{
	return ctx->api->cfg_string(ctx, node, path, out);
}
static inline int lab_cfg_int(lab_ctx *ctx, const lab_cfg *node, const char *path, int64_t *out)
{
	return ctx->api->cfg_int(ctx, node, path, out);
}
static inline int lab_cfg_bool(lab_ctx *ctx, const lab_cfg *node, const char *path, int *out)
{
	return ctx->api->cfg_bool(ctx, node, path, out);
}
static inline int lab_cfg_double(lab_ctx *ctx, const lab_cfg *node, const char *path,
				 double *out)
{
	return ctx->api->cfg_double(ctx, node, path, out);
}
/* Durations "<int>(s|m|h|d)" as seconds (negative allowed: "-720h").
 * LAB_ERANGE for a LAB_SETTING_MS value that is not whole seconds. */
static inline int lab_cfg_duration(lab_ctx *ctx, const lab_cfg *node, const char *path,
				   int64_t *seconds)
{
	return ctx->api->cfg_duration(ctx, node, path, seconds);
}
/* (1.3) Any DURATION setting in milliseconds: "250ms" (LAB_SETTING_MS),
 * "2s" -> 2000.  Loop thread.  LAB_ENOTSUP on an older host. */
static inline int lab_cfg_duration_ms(lab_ctx *ctx, const lab_cfg *node, const char *path,
				      int64_t *ms)
{
	if (!LAB_HAS(ctx, cfg_duration_ms))
		return LAB_ENOTSUP;
	return ctx->api->cfg_duration_ms(ctx, node, path, ms);
}
/* Number of elements of a list/strings/map/group at path; 0 if absent; <0 on error. */
static inline int lab_cfg_count(lab_ctx *ctx, const lab_cfg *node, const char *path)
{
	return ctx->api->cfg_count(ctx, node, path);
}
/* The index-th element of the list/map/group at path. */
static inline int lab_cfg_elem(lab_ctx *ctx, const lab_cfg *node, const char *path, int index,
			       const lab_cfg **out)
{
	return ctx->api->cfg_elem(ctx, node, path, index, out);
}
/* The key of a map/group member (e.g. "mainnet"); NULL for list elements. */
static inline const char *lab_cfg_name(lab_ctx *ctx, const lab_cfg *node)
{
	return ctx->api->cfg_name(ctx, node);
}
/* Where a setting was written, for error messages: "file", line (0 if default). */
static inline int lab_cfg_where(lab_ctx *ctx, const lab_cfg *node, const char *path,
				const char **file, int *line)
{
	return ctx->api->cfg_where(ctx, node, path, file, line);
}
/*
 * (1.1) Store every setting declared with LAB_BIND at `node`'s level (NULL =
 * the plugin's section; a LIST element or MAP member from lab_cfg_elem())
 * into the struct at `base`: the value from the file, else the declared
 * default; a bound setting with neither is left as it is.  Members of
 * GROUPs below node go into the same struct; LIST and MAP settings are not
 * descended into (bind each element with its own call).  Values were
 * checked against the table before init, so this fails only on
 * programming errors (LAB_EINVAL).  Strings stored stay valid until
 * destroy.  Loop thread; typically called from init.  LAB_ENOTSUP on a
 * 1.0 host.
 */
static inline int lab_cfg_bind(lab_ctx *ctx, const lab_cfg *node, void *base)
{
	if (!LAB_HAS(ctx, cfg_bind))
		return LAB_ENOTSUP;
	return ctx->api->cfg_bind(ctx, node, base);
}
/*
 * (1.1) Report what the table cannot say (two settings that exclude each
 * other, a name the plugin cannot resolve) in the host's one format for
 * configuration errors, logged once at error level:
 *     FILE:LINE: setting 'plugins.NAME.PATH': MESSAGE
 * node/path as for the getters (the setting need not be in the file: the
 * line is then the section's).  Never put the setting's value in the
 * message (it may be a secret).  Messages are truncated at 1 KiB.  Returns
 * LAB_ECONFIG, for `return lab_cfg_error(...)` from init.  Loop thread.  On
 * a 1.0 host the message is logged without the location.
 */
static inline int lab_cfg_error(lab_ctx *ctx, const lab_cfg *node, const char *path,
				const char *fmt, ...) LAB_PRINTF(4, 5);
static inline int lab_cfg_error(lab_ctx *ctx, const lab_cfg *node, const char *path,
				const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (LAB_HAS(ctx, cfg_error))
		ctx->api->cfg_error(ctx, node, path, buf);
	else
		ctx->api->log(ctx, LAB_LOG_ERROR, buf, NULL, 0);
	return LAB_ECONFIG;
}

/* ---- timers --------------------------------------------------------------
 * Fire `cb` after delay_ms, then every repeat_ms (0 = once).  A one-shot
 * timer's handle is released after its callback returns; a repeating one
 * lives until cancelled or the plugin stops.  Cancelling from inside the
 * callback is allowed.  `out` may be NULL.
 */
static inline int lab_timer_start(lab_ctx *ctx, uint64_t delay_ms, uint64_t repeat_ms,
				  lab_timer_cb cb, void *ud, lab_timer **out)
{
	return ctx->api->timer_start(ctx, delay_ms, repeat_ms, cb, ud, out);
}
static inline int lab_timer_cancel(lab_ctx *ctx, lab_timer *timer)
{
	return ctx->api->timer_cancel(ctx, timer);
}

/* ---- state ---------------------------------------------------------------
 * Durable JSON key/value of this plugin, stored as one JSON object at
 * state/modules/NAME.json.  Loaded before init; flushed every
 * state.flush_interval, on stop and on reload.  Values are JSON texts.
 * lab_state_get: `*json` stays valid until the next set/delete of that key
 * or destroy.  LAB_ENOENT when absent.  lab_state_set: LAB_EPARSE when the
 * text is not one JSON value.
 */
static inline int lab_state_get(lab_ctx *ctx, const char *key, const char **json, size_t *len)
{
	return ctx->api->state_get(ctx, key, json, len);
}
static inline int lab_state_set(lab_ctx *ctx, const char *key, const char *json, size_t len)
{
	return ctx->api->state_set(ctx, key, json, len);
}
static inline int lab_state_delete(lab_ctx *ctx, const char *key)
{
	return ctx->api->state_delete(ctx, key);
}
/* Write the state now; cb (may be NULL) when it is durable. */
static inline int lab_state_flush(lab_ctx *ctx, lab_done_cb cb, void *ud)
{
	return ctx->api->state_flush(ctx, cb, ud);
}

/* ---- storage -------------------------------------------------------------
 * Keys are relative to the bucket/root ("beacon/slots/mainnet/1.json").
 * Unsafe keys (empty segment, ".", "..", leading "/", control bytes,
 * backslash) are refused with LAB_EPERM.  Bodies are stored gzip-encoded
 * with Content-Encoding: gzip.  content_type NULL = by extension;
 * cache_control NULL = "max-age=3600".  cb may be NULL for put/delete.
 *
 * The *_op variants (1.1 headers; they work on every 1.x host) also return
 * the operation's handle in `*op` (op may be NULL) when they return 0, for
 * lab_op_cancel().  The handle is the host's: it stays valid until the
 * completion callback returns or the op is cancelled, whichever comes
 * first; never use it after that.
 */
static inline int lab_storage_put_op(lab_ctx *ctx, const char *key, const void *data, size_t len,
				     const char *content_type, const char *cache_control,
				     unsigned flags, lab_storage_cb cb, void *ud, lab_op **op)
{
	return ctx->api->storage_put(ctx, key, data, len, content_type, cache_control, flags, cb,
				     ud, op);
}
static inline int lab_storage_put(lab_ctx *ctx, const char *key, const void *data, size_t len,
				  const char *content_type, const char *cache_control,
				  lab_storage_cb cb, void *ud)
{
	return lab_storage_put_op(ctx, key, data, len, content_type, cache_control, 0, cb, ud,
				  NULL);
}
static inline int lab_storage_put_atomic(lab_ctx *ctx, const char *key, const void *data,
					 size_t len, const char *content_type,
					 const char *cache_control, lab_storage_cb cb, void *ud)
{
	return lab_storage_put_op(ctx, key, data, len, content_type, cache_control,
				  LAB_PUT_ATOMIC, cb, ud, NULL);
}
static inline int lab_storage_get_op(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
				     lab_op **op)
{
	return ctx->api->storage_get(ctx, key, cb, ud, op);
}
static inline int lab_storage_get(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud)
{
	return lab_storage_get_op(ctx, key, cb, ud, NULL);
}
/*
 * (1.4) Like lab_storage_get_op, but `data` in the callback is the body AS
 * STORED, not gunzipped: the gzip bytes (Content-Encoding: gzip) of every
 * object labd wrote.  An object another writer stored without gzip comes
 * back as it is, so the plugin must check the gzip magic (0x1f 0x8b) before
 * treating the bytes as gzip (e.g. before lab_http_respond with
 * LAB_HTTP_GZIP).  The bytes are not checked to gunzip.  Same statuses,
 * threads and lifetimes as lab_storage_get_op (data valid during the
 * callback only).  LAB_ENOTSUP on a host older than 1.4 or one without it
 * (a 1.4 host built before it was added); fall back to lab_storage_get.
 */
static inline int lab_storage_get_raw(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud,
				      lab_op **op)
{
	if (!LAB_HAS(ctx, storage_get_raw))
		return LAB_ENOTSUP;
	return ctx->api->storage_get_raw(ctx, key, cb, ud, op);
}
static inline int lab_storage_exists_op(lab_ctx *ctx, const char *key, lab_storage_cb cb,
					void *ud, lab_op **op)
{
	return ctx->api->storage_exists(ctx, key, cb, ud, op);
}
static inline int lab_storage_exists(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud)
{
	return lab_storage_exists_op(ctx, key, cb, ud, NULL);
}
static inline int lab_storage_delete_op(lab_ctx *ctx, const char *key, lab_storage_cb cb,
					void *ud, lab_op **op)
{
	return ctx->api->storage_delete(ctx, key, cb, ud, op);
}
static inline int lab_storage_delete(lab_ctx *ctx, const char *key, lab_storage_cb cb, void *ud)
{
	return lab_storage_delete_op(ctx, key, cb, ud, NULL);
}

/* ---- key segments (1.1) --------------------------------------------------
 * lab_key_segment: the storage key segment (no '/', no ".json") for an
 * untrusted name, SPEC §9.2: the name itself when lab_key_segment_check()
 * accepts it, else its escaped form — a name of 1..64 bytes percent-encoded
 * (every byte outside [A-Za-z0-9_-] as %XX, upper-case hex), any other "%h"
 * followed by the 64 lower-case hex digits of its SHA-256.  Two different
 * names never share a segment.  Writes a NUL-terminated segment to `out`
 * (LAB_KEY_SEGMENT_MAX bytes are always enough) and returns its length, or
 * LAB_ERANGE when `cap` is too small, LAB_EINVAL for NULL arguments.
 * Flags: LAB_KEYSEG_ESCAPED.
 * lab_key_segment_check: 1 when s[0..len) may be used raw as one segment:
 * valid UTF-8 of 1..128 bytes without control characters (C0, DEL, C1) and
 * none of / \ % ? #, not "." or "..".  With LAB_KEYSEG_PORTABLE only
 * [A-Za-z0-9._-] is accepted.  0 otherwise.
 * Both are thread-safe; both return LAB_ENOTSUP on a 1.0 host.
 */
static inline int lab_key_segment(lab_ctx *ctx, const char *name, size_t len, unsigned flags,
				  char *out, size_t cap)
{
	if (!LAB_HAS(ctx, key_segment))
		return LAB_ENOTSUP;
	return ctx->api->key_segment(ctx, name, len, flags, out, cap);
}
static inline int lab_key_segment_check(lab_ctx *ctx, const char *s, size_t len, unsigned flags)
{
	if (!LAB_HAS(ctx, key_segment_check))
		return LAB_ENOTSUP;
	return ctx->api->key_segment_check(ctx, s, len, flags);
}

/* ---- ClickHouse ----------------------------------------------------------
 * lab_query(ctx, "SELECT slot FROM t WHERE meta_network_name = ? AND slot >= ?",
 *           (lab_param[]){ LAB_PSTR(net), LAB_PUINT(from) }, 2, cb, ud);
 * The result is read with the lab_rows_* getters (typed; LAB_EPARSE when a
 * value does not convert, LAB_ERANGE for an index out of range).
 */
static inline int lab_query(lab_ctx *ctx, const char *sql, const lab_param *params, size_t n,
			    lab_query_cb cb, void *ud)
{
	return ctx->api->query(ctx, sql, params, n, 0, NULL, cb, ud, NULL);
}
/* Streaming variant: on_rows per batch, then cb(status) with rows NULL. */
static inline int lab_query_stream(lab_ctx *ctx, const char *sql, const lab_param *params,
				   size_t n, lab_rows_cb on_rows, lab_query_cb cb, void *ud)
{
	return ctx->api->query(ctx, sql, params, n, LAB_QUERY_STREAM, on_rows, cb, ud, NULL);
}
/* (1.1 headers, every 1.x host) Either of the above, returning the query's
 * handle in `*op` (may be NULL) for lab_op_cancel(); valid as for the
 * storage *_op variants.  `on_rows` != NULL streams. */
static inline int lab_query_op(lab_ctx *ctx, const char *sql, const lab_param *params, size_t n,
			       lab_rows_cb on_rows, lab_query_cb cb, void *ud, lab_op **op)
{
	return ctx->api->query(ctx, sql, params, n, on_rows ? LAB_QUERY_STREAM : 0, on_rows, cb,
			       ud, op);
}
/* Cancel an in-flight query or storage op: its callback is not called. */
static inline int lab_op_cancel(lab_ctx *ctx, lab_op *op) { return ctx->api->op_cancel(ctx, op); }
static inline size_t lab_rows_count(lab_ctx *ctx, const lab_rows *r)
{
	return ctx->api->rows_count(r);
}
static inline size_t lab_rows_columns(lab_ctx *ctx, const lab_rows *r)
{
	return ctx->api->rows_columns(r);
}
static inline const char *lab_rows_column_name(lab_ctx *ctx, const lab_rows *r, size_t col)
{
	return ctx->api->rows_column_name(r, col);
}
static inline int lab_rows_is_null(lab_ctx *ctx, const lab_rows *r, size_t row, size_t col)
{
	return ctx->api->rows_is_null(r, row, col);
}
/* The string is not NUL-terminated in general: use len. */
static inline int lab_rows_str(lab_ctx *ctx, const lab_rows *r, size_t row, size_t col,
			       const char **s, size_t *len)
{
	return ctx->api->rows_str(r, row, col, s, len);
}
static inline int lab_rows_i64(lab_ctx *ctx, const lab_rows *r, size_t row, size_t col,
			       int64_t *out)
{
	return ctx->api->rows_i64(r, row, col, out);
}
static inline int lab_rows_u64(lab_ctx *ctx, const lab_rows *r, size_t row, size_t col,
			       uint64_t *out)
{
	return ctx->api->rows_u64(r, row, col, out);
}
static inline int lab_rows_f64(lab_ctx *ctx, const lab_rows *r, size_t row, size_t col,
			       double *out)
{
	return ctx->api->rows_f64(r, row, col, out);
}

/* ---- broker --------------------------------------------------------------
 * Subjects are given without the deployment prefix ("beacon.slot"); the
 * host prepends broker.subject_prefix.  Subscriptions accept NATS
 * wildcards: `*` one token, `>` the rest.  Message callbacks run on the loop.
 */
static inline int lab_publish(lab_ctx *ctx, const char *subject, const void *data, size_t len)
{
	return ctx->api->publish(ctx, subject, data, len);
}
static inline int lab_subscribe(lab_ctx *ctx, const char *subject, lab_msg_cb cb, void *ud,
				lab_sub **out)
{
	return ctx->api->subscribe(ctx, subject, cb, ud, out);
}
static inline int lab_unsubscribe(lab_ctx *ctx, lab_sub *sub)
{
	return ctx->api->unsubscribe(ctx, sub);
}

/* ---- Ethereum networks ---------------------------------------------------
 * The networks configured under ethereum.networks, valid until destroy.
 */
static inline size_t lab_network_count(lab_ctx *ctx) { return ctx->api->network_count(ctx); }
static inline const lab_network *lab_network_at(lab_ctx *ctx, size_t i)
{
	return ctx->api->network_at(ctx, i);
}
static inline const lab_network *lab_network_find(lab_ctx *ctx, const char *name)
{
	return ctx->api->network_find(ctx, name);
}
static inline const char *lab_network_name(lab_ctx *ctx, const lab_network *n)
{
	return ctx->api->network_name(n);
}
static inline int64_t lab_network_genesis(lab_ctx *ctx, const lab_network *n)
{
	return ctx->api->network_genesis_time(n);
}
static inline uint32_t lab_network_seconds_per_slot(lab_ctx *ctx, const lab_network *n)
{
	return ctx->api->network_seconds_per_slot(n);
}
static inline uint32_t lab_network_slots_per_epoch(lab_ctx *ctx, const lab_network *n)
{
	return ctx->api->network_slots_per_epoch(n);
}
/* Epoch at which `fork` ("deneb", "electra", lower case) activates; LAB_ENOENT if unknown. */
static inline int lab_network_fork_epoch(lab_ctx *ctx, const lab_network *n, const char *fork,
					 uint64_t *epoch)
{
	return ctx->api->network_fork_epoch(n, fork, epoch);
}
/* Entity of a validator from the configured validator_set; NULL if none. */
static inline const char *lab_network_entity(lab_ctx *ctx, const lab_network *n, uint64_t index)
{
	return ctx->api->network_entity(n, index);
}
/* Slot containing Unix time t (0 before genesis). */
static inline uint64_t lab_network_slot_at(lab_ctx *ctx, const lab_network *n, int64_t t)
{
	int64_t g = lab_network_genesis(ctx, n);
	uint32_t sps = lab_network_seconds_per_slot(ctx, n);
	return (t <= g || sps == 0) ? 0 : (uint64_t)(t - g) / sps;
}
/* Unix start time of a slot. */
static inline int64_t lab_network_slot_time(lab_ctx *ctx, const lab_network *n, uint64_t slot)
{
	return lab_network_genesis(ctx, n) +
	       (int64_t)(slot * lab_network_seconds_per_slot(ctx, n));
}
static inline uint64_t lab_network_epoch_of(lab_ctx *ctx, const lab_network *n, uint64_t slot)
{
	uint32_t spe = lab_network_slots_per_epoch(ctx, n);
	return spe ? slot / spe : 0;
}

/* ---- work ----------------------------------------------------------------
 * Run fn(ud) on a worker thread; done(ctx, status, ud) follows on the loop.
 * fn may only call the thread-safe functions (§4).  A work item that has
 * started cannot be interrupted: the host waits for it before unloading the
 * plugin; if the drain timeout passed, `done` is not called.
 * Bounded per plugin: at most `work.max_per_plugin` (host setting, default
 * 2) of a plugin's items run at once, so no plugin fills the shared worker
 * pool.  Items past the bound are accepted (0) and wait in the plugin's own
 * FIFO; they start in submission order as earlier ones finish.
 */
static inline int lab_work_submit(lab_ctx *ctx, lab_work_fn fn, lab_work_done_cb done, void *ud)
{
	return ctx->api->work_submit(ctx, fn, done, ud);
}
/*
 * (1.3) lab_work_submit with a `cancel` callback: exactly one of `done` and
 * `cancel` is called for an accepted item (0 returned).  `done` as above;
 * `cancel(ud)` instead when the host will not call `done`: the drain
 * timeout passed while the item waited (fn never ran) or ran (it is called
 * after fn returned).  cancel runs on the loop thread, before the plugin's
 * destroy, and may only free the item's memory and call the thread-safe
 * functions (§4): the instance is being torn down.  cancel may be NULL
 * (then this is lab_work_submit).  LAB_ENOTSUP on an older host.
 */
static inline int lab_work_submit_cancel(lab_ctx *ctx, lab_work_fn fn, lab_work_done_cb done,
					 lab_work_cancel_fn cancel, void *ud)
{
	if (!LAB_HAS(ctx, work_submit_cancel))
		return LAB_ENOTSUP;
	return ctx->api->work_submit_cancel(ctx, fn, done, cancel, ud);
}

/* ---- JSON writer (1.3) ---------------------------------------------------
 * The host's document writer (the one labd writes its own documents and
 * events with), for documents, events and state values:
 *
 *     lab_json *j = lab_json_new(ctx);
 *     lab_json_open(ctx, j, '{');
 *     lab_json_key(ctx, j, "slot");    lab_json_u64(ctx, j, slot);
 *     lab_json_key(ctx, j, "name");    lab_json_str(ctx, j, name, len);
 *     lab_json_close(ctx, j);
 *     const char *doc; size_t n;
 *     if (lab_json_finish(ctx, j, &doc, &n) == 0)
 *             lab_storage_put(ctx, key, doc, n, NULL, NULL, NULL, NULL);
 *     lab_json_free(ctx, j);
 *
 * The writer puts the commas and the colons itself: inside an object call
 * key then one value (a scalar, raw, or an open/close pair); inside an array
 * only values.  Strings are untrusted-safe: control bytes escaped, invalid
 * UTF-8 bytes become U+FFFD, NUL bytes kept as \u0000 (len (size_t)-1 =
 * strlen).  Non-finite doubles are written as null; doubles get up to 6
 * decimals.  raw inserts one JSON value the plugin already has (a state
 * value, a cached fragment): it is checked, and a text that is not one
 * JSON value is refused.
 * Errors latch: the first misuse (a value where a key is due, close
 * without open, nesting deeper than 64, raw that is not JSON, running out
 * of memory) makes every later call a no-op and lab_json_finish return it
 * (LAB_EINVAL, LAB_EPARSE, LAB_ENOMEM).  lab_json_finish also fails with
 * LAB_ESTATE while an object/array is open; on success it hands out the
 * text, NUL-terminated (not counted in len), valid until lab_json_free.
 * A writer may be used on any thread (e.g. in a lab_work function), by one
 * thread at a time.  lab_json_new returns NULL on out of memory or on an
 * older host; the other wrappers accept that NULL (no-ops, and finish
 * returns LAB_ENOMEM or LAB_ENOTSUP), so one check at the end is enough.
 */
static inline lab_json *lab_json_new(lab_ctx *ctx)
{
	return LAB_HAS(ctx, json_new) ? ctx->api->json_new(ctx) : NULL;
}
/* kind '{' (object) or '[' (array). */
static inline void lab_json_open(lab_ctx *ctx, lab_json *j, char kind)
{
	if (j)
		ctx->api->json_open(j, kind);
}
static inline void lab_json_close(lab_ctx *ctx, lab_json *j)
{
	if (j)
		ctx->api->json_close(j);
}
static inline void lab_json_key(lab_ctx *ctx, lab_json *j, const char *key)
{
	if (j)
		ctx->api->json_key(j, key, (size_t)-1);
}
static inline void lab_json_str(lab_ctx *ctx, lab_json *j, const char *s, size_t len)
{
	if (j)
		ctx->api->json_str(j, s, len);
}
static inline void lab_json_i64(lab_ctx *ctx, lab_json *j, int64_t v)
{
	if (j)
		ctx->api->json_i64(j, v);
}
static inline void lab_json_u64(lab_ctx *ctx, lab_json *j, uint64_t v)
{
	if (j)
		ctx->api->json_u64(j, v);
}
static inline void lab_json_f64(lab_ctx *ctx, lab_json *j, double v)
{
	if (j)
		ctx->api->json_f64(j, v);
}
static inline void lab_json_bool(lab_ctx *ctx, lab_json *j, int v)
{
	if (j)
		ctx->api->json_bool(j, v);
}
static inline void lab_json_null(lab_ctx *ctx, lab_json *j)
{
	if (j)
		ctx->api->json_null(j);
}
static inline void lab_json_raw(lab_ctx *ctx, lab_json *j, const char *json, size_t len)
{
	if (j)
		ctx->api->json_raw(j, json, len);
}
static inline int lab_json_finish(lab_ctx *ctx, lab_json *j, const char **data, size_t *len)
{
	if (!j) /* lab_json_new failed: out of memory, or a host before 1.3 */
		return LAB_HAS(ctx, json_new) ? LAB_ENOMEM : LAB_ENOTSUP;
	return ctx->api->json_finish(j, data, len);
}
static inline void lab_json_free(lab_ctx *ctx, lab_json *j)
{
	if (j)
		ctx->api->json_free(j);
}

/* ---- --once ----------------------------------------------------------------
 * Report that the one-shot pass started by `once` finished (status 0 =
 * success).  Call exactly once per once(); later calls are ignored.
 */
static inline void lab_done(lab_ctx *ctx, int status) { ctx->api->done(ctx, status); }

/* ---- metrics (1.2) --------------------------------------------------------
 * A plugin's own Prometheus metrics, on /metrics next to the host's.
 *
 *   lab_metric *slots;
 *   lab_metric_counter(ctx, "slots_stored_total", "Slot documents written.",
 *                      LAB_LABELS("network"), &slots);          // in init
 *   lab_metric_add(ctx, slots, 1, LAB_LABELS("mainnet"));      // later
 *
 * Names.  `name` is [a-zA-Z_][a-zA-Z0-9_]* of at most 100 bytes; the family
 * is exposed as lab_PLUGIN_NAME (PLUGIN = lab_plugin_name()), e.g.
 * lab_beacon_slots_stored_total.  Counters should end in _total.  A name
 * whose exposed form clashes with another family (the host's, another
 * plugin's, or a histogram's _bucket/_sum/_count) is refused: LAB_EEXIST.
 * `help` is one line of UTF-8 (no control characters, at most 200 bytes).
 * Label names (`labels`, NULL-terminated, NULL = none, at most
 * LAB_METRIC_MAX_LABELS) are [a-zA-Z_][a-zA-Z0-9_]* (at most 64 bytes),
 * distinct, not starting with "__", not "le" nor "plugin".
 * Anything else: LAB_EINVAL; nothing is registered.
 *
 * Registering is idempotent: the same name with the same type and label
 * names returns the same family (and its current values), so a plugin may
 * register in init without remembering whether it did before; the same name
 * with another type or labels is LAB_EEXIST.  At most
 * LAB_METRIC_MAX_FAMILIES families per plugin (LAB_EBUSY beyond).
 *
 * Ownership.  The family and its handle belong to the host and to the
 * plugin (not to one instance): they stay valid until destroy returns and
 * are never freed by the plugin.  When the plugin is unloaded (disabled,
 * removed or restarted by SIGHUP, failed, daemon exit) its families
 * disappear from /metrics.  Across a hot reload (POST /plugins/NAME/reload,
 * a new file) they are kept: the new instance registers the same names again, gets the
 * old values and continues counting; a family the new instance has not
 * registered again by the time its start returns is dropped.
 *
 * Updates.  `values` are the label values, NULL-terminated, exactly one per
 * label name (NULL = none); each is cut at 255 bytes, invalid UTF-8 is shown
 * as U+FFFD, so untrusted text (network names from configuration) is safe.
 * A value set seen for the first time creates a series; at most
 * LAB_METRIC_MAX_SERIES series per plugin over all its families: past the
 * bound the update is dropped, LAB_EBUSY, and the host logs one warning.
 * lab_metric_add on a counter takes v >= 0 (LAB_ERANGE otherwise);
 * lab_metric_set is for gauges only; lab_metric_observe for histograms only
 * (buckets 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 +Inf, the
 * host's; observe seconds).  NaN or an infinity: LAB_ERANGE.  A wrong type
 * or label count, or a handle that is not this plugin's: LAB_EINVAL.
 *
 * Threads: loop thread only, from init until destroy returns (not from a
 * lab_work function: count its result in the done callback).  Cheap: no
 * I/O, no allocation after a series exists.  LAB_ENOTSUP on an older host
 * (the wrappers test LAB_HAS), so a plugin declaring minor 0 or 1 may call
 * them and run without metrics there.
 */
static inline int lab_metric_register(lab_ctx *ctx, int type, const char *name, const char *help,
				      const char *const *labels, lab_metric **out)
{
	if (!LAB_HAS(ctx, metric_register))
		return LAB_ENOTSUP;
	return ctx->api->metric_register(ctx, type, name, help, labels, out);
}
static inline int lab_metric_counter(lab_ctx *ctx, const char *name, const char *help,
				     const char *const *labels, lab_metric **out)
{
	return lab_metric_register(ctx, LAB_METRIC_COUNTER, name, help, labels, out);
}
static inline int lab_metric_gauge(lab_ctx *ctx, const char *name, const char *help,
				   const char *const *labels, lab_metric **out)
{
	return lab_metric_register(ctx, LAB_METRIC_GAUGE, name, help, labels, out);
}
static inline int lab_metric_histogram(lab_ctx *ctx, const char *name, const char *help,
				       const char *const *labels, lab_metric **out)
{
	return lab_metric_register(ctx, LAB_METRIC_HISTOGRAM, name, help, labels, out);
}
/* Counters and gauges: add v to the series.  `metric` NULL (registration
 * failed or unsupported) is accepted and ignored (LAB_ENOTSUP), so a plugin
 * need not test every handle. */
static inline int lab_metric_add(lab_ctx *ctx, lab_metric *metric, double v,
				 const char *const *values)
{
	if (!metric || !LAB_HAS(ctx, metric_update))
		return LAB_ENOTSUP;
	return ctx->api->metric_update(ctx, metric, LAB_METRIC_ADD, v, values);
}
/* Gauges: set the series to v. */
static inline int lab_metric_set(lab_ctx *ctx, lab_metric *metric, double v,
				 const char *const *values)
{
	if (!metric || !LAB_HAS(ctx, metric_update))
		return LAB_ENOTSUP;
	return ctx->api->metric_update(ctx, metric, LAB_METRIC_SET, v, values);
}
/* Histograms: one observation of v. */
static inline int lab_metric_observe(lab_ctx *ctx, lab_metric *metric, double v,
				     const char *const *values)
{
	if (!metric || !LAB_HAS(ctx, metric_update))
		return LAB_ENOTSUP;
	return ctx->api->metric_update(ctx, metric, LAB_METRIC_OBSERVE, v, values);
}

/* ---- progress (1.2) ---------------------------------------------------------
 * Report how far a long job is, for operators: GET /plugins shows each
 * entry under the plugin's "progress", `labctl status` draws it.  `what`
 * names the job ("mainnet backfill": printable UTF-8, 1..64 bytes, no
 * control characters); `done` of `total` units are finished (total > 0,
 * 0 <= done, done is shown capped at total); `per_second` is the current
 * rate (>= 0; 0 = unknown), from which the host shows an ETA.  Calling it
 * again with the same `what` replaces the entry; total == 0 removes it.
 * At most LAB_PROGRESS_MAX entries per plugin (LAB_EBUSY beyond);
 * LAB_EINVAL or LAB_ERANGE for bad arguments.  The host keeps the entries
 * of a plugin across a hot reload (a new instance updates them) and drops
 * them when the plugin is disabled or unloaded.  Report at most every few
 * seconds: it is a status, not a metric (export metrics for graphs).  Loop
 * thread, init until destroy; LAB_ENOTSUP on an older host.
 */
static inline int lab_progress(lab_ctx *ctx, const char *what, double done, double total,
			       double per_second)
{
	if (!LAB_HAS(ctx, progress))
		return LAB_ENOTSUP;
	return ctx->api->progress(ctx, what, done, total, per_second);
}

/* ---- HTTP (1.4) ------------------------------------------------------------
 * Plugins answer HTTP requests on the host's public listener (host setting
 * `http.listen`, off by default; docs/http.md).  The host owns the
 * connection: it parses the request, refuses bad paths before any plugin
 * sees them (not origin-form, longer than 1024 bytes, NUL, "\\", "//",
 * %2F/%5C, invalid escapes, a "." or ".." segment: 400 JSON), answers
 * unknown routes (404 JSON) and methods (405 JSON with Allow), serves HEAD
 * from the GET route with the body dropped, enforces the limits (timeouts,
 * connections, header size, streams per IP), sends heartbeats on streams,
 * and answers conditional requests (If-None-Match, If-Modified-Since ->
 * 304).  Request bodies are not passed to plugins in 1.4.
 * JSON errors have one shape: {"error":{"code":404,"message":"..."}}.
 *
 * Everything here runs on and must be called from the loop thread, from
 * init until destroy returns; all callbacks run on the loop thread.  On an
 * older host (or when this host has no listener configured for routes, see
 * lab_http_route) the wrappers return LAB_ENOTSUP / NULL.  Plugins that
 * never register a route cost nothing.
 */

/*
 * Register `cb` for `method` ("GET" — which also serves HEAD —, "POST",
 * "PUT", "DELETE", ...: upper-case token) on `pattern`: an exact path
 * ("/api/v1/networks") or a prefix: a path ending in "/" followed by "*"
 * (spelt apart here only because a C comment cannot hold the pair), e.g.
 * "/beacon/" "*", which matches "/beacon/x" and "/beacon/x/y", not
 * "/beacon".  The longest matching
 * pattern wins, an exact pattern before a prefix of the same length; over
 * all plugins a (method, pattern) pair has one owner (LAB_EEXIST for the
 * second).  Patterns obey the path rules above (LAB_EINVAL otherwise).
 * Routes live until the plugin stops (stop, reload, unload): the host then
 * removes them, answers the plugin's unanswered requests with 503 and
 * closes its streams (on_close with LAB_ECANCELED).  `out` may be NULL; the
 * handle is the plugin's name for the route (today only for its own
 * bookkeeping).  LAB_ENOTSUP on a host without HTTP services; a route
 * registered while http.listen is empty is accepted and never called.
 */
static inline int lab_http_route(lab_ctx *ctx, const char *method, const char *pattern,
				 lab_http_cb cb, void *ud, lab_route **out)
{
	if (!LAB_HAS(ctx, http_route))
		return LAB_ENOTSUP;
	return ctx->api->http_route(ctx, method, pattern, cb, ud, out);
}

/*
 * The request handed to a route callback.  The plugin answers it exactly
 * once — in the callback or later (after a storage read) — with
 * lab_http_respond() or lab_stream_open().  `req` stays valid until then,
 * even when the client has gone meanwhile (the answer is then discarded).
 * If the plugin has not answered within http.request_timeout the host sends
 * 504 to the client; the handle still waits for the plugin's answer.  A
 * request still unanswered when the plugin stops is answered 503 by the
 * host and freed: the plugin must not use it after its stop returned.
 *
 * Accessors (loop thread, strings valid until the request is answered,
 * never NULL unless said):
 *  - lab_http_method: "GET", "HEAD", "POST", ... (HEAD reaches GET routes).
 *  - lab_http_path: percent-decoded and checked (no "..", no "//", no NUL),
 *    without the query string.
 *  - lab_http_query: the first value of query parameter `name`,
 *    percent-decoded ('+' is a space); "" for "?name" or "?name=";
 *    NULL when absent.
 *  - lab_http_header: the value of request header `name` (case-insensitive);
 *    NULL when absent.
 */
static inline const char *lab_http_method(const lab_http_req *req)
{
	return LAB_HAS(req, http_method) ? req->api->http_method(req) : NULL;
}
static inline const char *lab_http_path(const lab_http_req *req)
{
	return LAB_HAS(req, http_path) ? req->api->http_path(req) : NULL;
}
static inline const char *lab_http_query(const lab_http_req *req, const char *name)
{
	return LAB_HAS(req, http_query) ? req->api->http_query(req, name) : NULL;
}
static inline const char *lab_http_header(const lab_http_req *req, const char *name)
{
	return LAB_HAS(req, http_header) ? req->api->http_header(req, name) : NULL;
}

/*
 * Answer `req` with `resp` (see lab_http_response); `req` is invalid after
 * the call, whatever it returns.  The host copies the body and strings.
 *  - HEAD: the headers of the GET answer, no body.
 *  - etag set and the request's If-None-Match matches it (or is "*"), or no
 *    If-None-Match and last_modified set and If-Modified-Since >= it: 304
 *    with ETag/Last-Modified/Cache-Control/Vary and no body (2xx only).
 *  - LAB_HTTP_GZIP: the body is sent as stored with Content-Encoding: gzip
 *    when Accept-Encoding allows gzip; otherwise the host gunzips it (a body
 *    that does not gunzip: 502 JSON and LAB_EPARSE).
 *  - headers: "Name: value" lines; a line without ": ", with CR/LF, or
 *    naming a header the host sets (Content-Length, Content-Encoding,
 *    Transfer-Encoding, Connection) is LAB_EINVAL and the client gets 500.
 * Returns 0 (also when the client had gone: the answer is dropped),
 * LAB_EINVAL (bad response: status out of 100..599, bad header), LAB_ENOMEM.
 */
static inline int lab_http_respond(lab_ctx *ctx, lab_http_req *req, const lab_http_response *resp)
{
	if (!LAB_HAS(ctx, http_respond))
		return LAB_ENOTSUP;
	return ctx->api->http_respond(ctx, req, resp);
}

/*
 * Answer `req` by turning it into a long-lived stream; `req` is invalid
 * after the call, whatever it returns.
 *  - LAB_STREAM_SSE: 200 text/event-stream, no-cache; the host sends a
 *    comment line (": hb") every http.heartbeat.
 *  - LAB_STREAM_WEBSOCKET: 101 Switching Protocols (RFC 6455, version 13,
 *    no extensions, no subprotocol).  A request that is not a valid upgrade
 *    gets 400 and LAB_EINVAL.  The host answers pings, sends a ping every
 *    http.heartbeat, closes with 1009 a message larger than
 *    http.max_ws_message and with 1002 a malformed frame (on_close then gets
 *    LAB_EPARSE).
 *  - headers: extra response headers (CORS), rules as in lab_http_response.
 *  - LAB_EBUSY (the client gets 429) when http.max_streams_per_ip streams
 *    are open from the client's address.
 * on_msg (WebSocket only; may be NULL: messages dropped) and on_close (may
 * be NULL) run on the loop thread, never from inside a lab_stream_* call;
 * on_close is the last callback.  `*out` (may be NULL) is the handle,
 * valid until on_close returns; a plugin that keeps handles passes on_close
 * to learn when they go.  lab_stream_send may be called at once (what is
 * queued before the handshake went out follows it).  The stream belongs to
 * the plugin: when it stops, every open stream is closed (WebSocket 1001)
 * and on_close runs with LAB_ECANCELED right after the plugin's stop
 * returned, before its destroy.  The host sends frames and heartbeats
 * itself; nothing is needed to keep a stream open.
 * Returns 0; LAB_EINVAL, LAB_EBUSY as above; LAB_ECANCELED when the client
 * had gone or the host had already answered 504 (no stream, no on_close);
 * LAB_ENOMEM.
 */
static inline int lab_stream_open(lab_ctx *ctx, lab_http_req *req, int kind,
				  const char *const *headers, lab_stream_msg_cb on_msg,
				  lab_stream_close_cb on_close, void *ud, lab_stream **out)
{
	if (!LAB_HAS(ctx, stream_open))
		return LAB_ENOTSUP;
	return ctx->api->stream_open(ctx, req, kind, headers, on_msg, on_close, ud, out);
}

/*
 * Queue one message on `s`; the bytes are copied.
 *  - SSE: "id: ID\nevent: EVENT\ndata: DATA\n\n" (id and event NULL = left
 *    out); DATA, EVENT and ID must not contain CR or LF (LAB_EINVAL).
 *  - WebSocket: one text frame of DATA (event and id ignored).
 * When the stream's queued bytes would exceed http.stream_buffer the host
 * drops the client (SSE: ends the response; WebSocket: close 1013 "try
 * again later"), counts lab_http_slow_client_drops_total, returns LAB_EBUSY
 * and calls on_close(LAB_EBUSY) on a later loop turn.  LAB_ESTATE when the
 * stream is already closing (its on_close is pending).
 */
static inline int lab_stream_send(lab_ctx *ctx, lab_stream *s, const char *event, const char *id,
				  const void *data, size_t len)
{
	if (!LAB_HAS(ctx, stream_send))
		return LAB_ENOTSUP;
	return ctx->api->stream_send(ctx, s, event, id, data, len);
}

/*
 * Close `s` from the plugin's side: WebSocket with close `code` (1000,
 * 1003, 1008, 1011, 3000..4999; another value is sent as 1000), after the
 * frames already queued; SSE ends the response (code ignored).  on_close
 * follows on a later loop turn with reason 0.  LAB_ESTATE when already
 * closing.
 */
static inline int lab_stream_close(lab_ctx *ctx, lab_stream *s, int code)
{
	if (!LAB_HAS(ctx, stream_close))
		return LAB_ENOTSUP;
	return ctx->api->stream_close(ctx, s, code);
}

/* ---- cluster (1.5) --------------------------------------------------------
 * Several daemons may share the work of one deployment (docs/cluster.md).
 * The host setting `cluster.backend` decides how:
 *   "none" (default): one daemon.  Every lease is ACQUIRED and every claim
 *          granted on the next loop turn (never from inside the call;
 *          LAB_EBUSY only for a unit this daemon holds already; no done
 *          markers are kept, so never LAB_EEXIST); leases are never LOST; shared state is the plugin's own local
 *          state (lab_state_*, same keys), the revision counts the writes
 *          since the daemon started (a value loaded from disk has revision 1).
 *   "nats": JetStream key/value buckets on the broker's NATS connection;
 *          leases and claims expire when their holder stops renewing them
 *          (cluster.lease_ttl), the host renews them every
 *          cluster.renew_interval.
 *
 * Names.  Lease, claim and shared-state names are relative keys: segments
 * of [A-Za-z0-9_-] and '.' (a dot not first or last in a segment, never two
 * in a row) separated by single '/', 1..LAB_CLUSTER_NAME_MAX bytes:
 * "timings/mainnet/last_30_days", "beacon/mainnet/slots/1000-1031".  The
 * host puts them under the plugin's name, so two plugins never collide
 * and a name means the same on every daemon.  Anything else: LAB_EINVAL.
 *
 * Threads and callbacks.  Loop thread only, from init until destroy.  The
 * calls never block and never call their callback from inside the call;
 * callbacks run on the loop thread, only while the plugin runs (from start
 * until its drain finished).  When the plugin stops, the host releases its
 * leases and claims after the drain; the answer of a lab_claim_acquire,
 * lab_shared_get or lab_shared_cas still pending then is dropped (no
 * callback: the plugin is being destroyed).  Handles (lab_lease, lab_claim) belong to the host; they stay
 * valid until lab_lease_release / lab_claim_finish returns or the plugin
 * stops.  Strings passed in are copied; the `json` a lab_shared_cb receives
 * is valid during the callback only.
 *
 * Older hosts: every wrapper returns LAB_ENOTSUP (lab_lease_valid and
 * lab_claim_valid 0, lab_cluster_backend "none", lab_cluster_node NULL),
 * so a plugin that must also run on a 1.4 host can fall back to working
 * alone.
 */

/*
 * Leases: one holder in the cluster at a time ("beacon/mainnet/head").
 *
 * lab_lease_hold starts holding the named lease and returns at once (0 and
 * the handle in *out; LAB_EEXIST when this plugin already holds that name,
 * LAB_EINVAL for a bad name, LAB_ESTATE outside init..stop).  The host
 * tries to acquire it (atomically: create-if-absent) and, while it is held,
 * renews it (compare-and-set on the revision it wrote).  cb(ctx, l, event,
 * ud), loop thread:
 *   LAB_LEASE_ACQUIRED: this daemon holds the lease from now until LOST or
 *       release; start the leased work.
 *   LAB_LEASE_LOST: stop the leased work at once.  The host reports a loss
 *       as soon as it cannot prove the lease: a renewal not confirmed within
 *       (lease_ttl - renew_interval) after it was sent, a renewal refused
 *       (someone else holds it), or the KV unreachable — always before the
 *       server could expire the key and let another daemon acquire it.  The
 *       callback follows the deadline within 100 ms; lab_lease_valid()
 *       turns 0 exactly at it, so check it right before a store.
 * After a loss the host keeps trying to acquire the lease again and calls
 * ACQUIRED when it has it.  A lease nobody holds is tried every
 * renew_interval.
 */
static inline int lab_lease_hold(lab_ctx *ctx, const char *name, lab_lease_cb cb, void *ud,
				 lab_lease **out)
{
	if (!LAB_HAS(ctx, lease_hold))
		return LAB_ENOTSUP;
	return ctx->api->lease_hold(ctx, name, cb, ud, out);
}
/*
 * 1 while this daemon holds the lease and its last renewal is recent enough
 * (the loss deadline has not passed), else 0 (also for NULL).  Cheap, no
 * I/O: call it right before storing a result computed under the lease, so
 * a result that outlived its lease is dropped instead of overwriting a
 * newer one.
 */
static inline int lab_lease_valid(lab_ctx *ctx, const lab_lease *l)
{
	if (!l || !LAB_HAS(ctx, lease_valid))
		return 0;
	return ctx->api->lease_valid(ctx, l);
}
/*
 * Stop holding the lease: if held, the key is deleted so another daemon can
 * acquire it at once.  The handle is invalid after return and its callback
 * is never called again.  0, or LAB_EINVAL for NULL / a handle that is not
 * this plugin's.
 */
static inline int lab_lease_release(lab_ctx *ctx, lab_lease *l)
{
	if (!LAB_HAS(ctx, lease_release))
		return LAB_ENOTSUP;
	return ctx->api->lease_release(ctx, l);
}

/*
 * Claims: one unit of work ("beacon/mainnet/slots/1000-1031") that no two
 * daemons process at once; a claim expires when its holder dies (lease_ttl).
 *
 * (The design called this lab_claim(); C cannot have a function and the
 * lab_claim type of the same name.)
 * lab_claim_acquire returns 0 when the request was accepted (cb follows, exactly
 * once, on a later loop turn) or LAB_EINVAL / LAB_ESTATE without calling cb.
 * cb(ctx, status, claim, ud):
 *   0           granted: `claim` is held; the host renews it with the leases
 *               until lab_claim_finish.
 *   LAB_EBUSY   another daemon holds it now (try another unit, or later).
 *   LAB_EEXIST  already completed: a done marker exists (it lives for
 *               cluster.claim_done_ttl).
 *   LAB_EUNAVAIL the KV is unreachable: do not do the work without a claim.
 *   other < 0   error.
 * `claim` is non-NULL only for status 0.  This plugin claiming a name it
 * already holds gets LAB_EBUSY.
 */
static inline int lab_claim_acquire(lab_ctx *ctx, const char *name, lab_claim_cb cb, void *ud)
{
	if (!LAB_HAS(ctx, claim_acquire))
		return LAB_ENOTSUP;
	return ctx->api->claim_acquire(ctx, name, cb, ud);
}
/* 1 while the claim is held and renewed in time (see lab_lease_valid), else
 * 0.  A claim that is no longer valid is lost for good (claims are not
 * re-acquired): finish it with completed = 0 and drop the result. */
static inline int lab_claim_valid(lab_ctx *ctx, const lab_claim *c)
{
	if (!c || !LAB_HAS(ctx, claim_valid))
		return 0;
	return ctx->api->claim_valid(ctx, c);
}
/*
 * Finish a claim.  completed = 1: write the done marker (a later lab_claim_acquire
 * of the same name on any daemon gets LAB_EEXIST) and delete the claim;
 * completed = 0: delete the claim so another daemon can take the unit.
 * Fire and forget: the KV writes happen in the background.  The handle is
 * invalid after return.  0, or LAB_EINVAL for NULL / a foreign handle.
 */
static inline int lab_claim_finish(lab_ctx *ctx, lab_claim *c, int completed)
{
	if (!LAB_HAS(ctx, claim_finish))
		return LAB_ENOTSUP;
	return ctx->api->claim_finish(ctx, c, completed);
}

/*
 * Shared state: JSON values every daemon can read, written with
 * compare-and-set (cursors, `last_processed`), so a daemon taking over a
 * lease continues where the last holder stopped.  Values are one JSON text
 * of at most 1 MiB (LAB_EPARSE / LAB_ERANGE otherwise, returned by the call).
 * Both return 0 when accepted, then cb follows exactly once on a later loop
 * turn; the `json` it receives is valid during the callback only.
 *
 * lab_shared_get: cb status 0 with the value and its revision (>= 1), or
 * LAB_ENOENT (json NULL, revision 0), LAB_EUNAVAIL.
 * lab_shared_cas: store `json` if the stored revision is `revision`
 * (0 = "must not exist yet").  cb status 0 with the new revision; LAB_EEXIST
 * on a conflict (counted in lab_cluster_cas_conflicts_total) with the
 * current value and revision (NULL and 0 if the key is gone) so the caller
 * can merge and retry; LAB_EUNAVAIL.
 */
static inline int lab_shared_get(lab_ctx *ctx, const char *key, lab_shared_cb cb, void *ud)
{
	if (!LAB_HAS(ctx, shared_get))
		return LAB_ENOTSUP;
	return ctx->api->shared_get(ctx, key, cb, ud);
}
static inline int lab_shared_cas(lab_ctx *ctx, const char *key, const char *json, size_t len,
				 uint64_t revision, lab_shared_cb cb, void *ud)
{
	if (!LAB_HAS(ctx, shared_cas))
		return LAB_ENOTSUP;
	return ctx->api->shared_cas(ctx, key, json, len, revision, cb, ud);
}
/* The cluster backend, "none" or "nats" ("none" on an older host); a static
 * string.  Any thread. */
static inline const char *lab_cluster_backend(lab_ctx *ctx)
{
	return LAB_HAS(ctx, cluster_backend) ? ctx->api->cluster_backend(ctx) : "none";
}
/* This daemon's node id (cluster.node; default HOSTNAME:PID), valid until
 * destroy; NULL on an older host.  Any thread. */
static inline const char *lab_cluster_node(lab_ctx *ctx)
{
	return LAB_HAS(ctx, cluster_node) ? ctx->api->cluster_node(ctx) : NULL;
}

/* The name this instance is configured under. */
static inline const char *lab_plugin_name(lab_ctx *ctx) { return ctx->api->plugin_name(ctx); }

#ifdef __cplusplus
}
#endif
#endif /* LAB_PLUGIN_H */
