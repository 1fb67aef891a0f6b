/*
 * probe.c — the ABI probe of the labd plugin SDK.
 *
 * This file is never shipped and never linked into labd.  tests/abi/abi-check.sh
 * compiles it with fixed flags into a shared object with debug info, dumps that
 * with libabigail's `abidw` and compares the dump with the baseline
 * sdk/abi/lab-plugin.abi using `abidiff`.
 *
 * abidw only records types reachable from exported functions, so every public
 * type of <lab/plugin.h> must be reachable from a function below: structs
 * through pointers (that records their full layout), enums by value, callback
 * typedefs through the structs that hold them.  When you add a public type to
 * the header, reference it here too, then update the baseline deliberately
 * (sdk/abi/README.md).
 */
#include <lab/plugin.h>

/*
 * Preprocessor constants are not in the debug info; mirror the ones that are
 * part of the binary contract as enumerators, so that changing their value is
 * reported like any other ABI change.  LAB_ABI_MINOR is deliberately absent:
 * it grows with every compatible addition (see sdk/abi/README.md).
 */
enum lab_abi_probe_constants {
	LAB_ABI_PROBE_MAGIC = LAB_PLUGIN_MAGIC,
	LAB_ABI_PROBE_MAJOR = LAB_ABI_MAJOR,
	LAB_ABI_PROBE_PLUGIN_SIZE_V1_0 = (int)LAB_PLUGIN_SIZE_V1_0,
	LAB_ABI_PROBE_OPTION_SIZE_V1_1 = (int)LAB_OPTION_SIZE_V1_1,
	LAB_ABI_PROBE_KEY_SEGMENT_MAX = LAB_KEY_SEGMENT_MAX
};

/* The structs whose layout is the contract (host table, descriptor, and the
 * structs plugins build and pass by pointer), plus the opaque handles. */
LAB_EXPORT int lab_abi_probe_structs(lab_ctx *ctx, const lab_host_api *api,
				     const lab_plugin *plugin, const lab_field *field,
				     const lab_setting *setting, const lab_param *param);
LAB_EXPORT int lab_abi_probe_structs(lab_ctx *ctx, const lab_host_api *api,
				     const lab_plugin *plugin, const lab_field *field,
				     const lab_setting *setting, const lab_param *param)
{
	return ctx != NULL && api != NULL && plugin != NULL && field != NULL && setting != NULL &&
	       param != NULL;
}

LAB_EXPORT int lab_abi_probe_handles(lab_timer *timer, lab_sub *sub, lab_op *op,
				     const lab_rows *rows, const lab_cfg *cfg,
				     const lab_network *network);
LAB_EXPORT int lab_abi_probe_handles(lab_timer *timer, lab_sub *sub, lab_op *op,
				     const lab_rows *rows, const lab_cfg *cfg,
				     const lab_network *network)
{
	return timer != NULL || sub != NULL || op != NULL || rows != NULL || cfg != NULL ||
	       network != NULL;
}

/* Every public enum, by value: their enumerators' values are ABI. */
LAB_EXPORT int lab_abi_probe_enums(enum lab_error err, enum lab_log_level level,
				   enum lab_field_type field_type,
				   enum lab_setting_type setting_type,
				   enum lab_setting_flags setting_flags,
				   enum lab_param_type param_type, enum lab_query_flags query_flags,
				   enum lab_put_flags put_flags,
				   enum lab_abi_probe_constants constants);
LAB_EXPORT int lab_abi_probe_enums(enum lab_error err, enum lab_log_level level,
				   enum lab_field_type field_type,
				   enum lab_setting_type setting_type,
				   enum lab_setting_flags setting_flags,
				   enum lab_param_type param_type, enum lab_query_flags query_flags,
				   enum lab_put_flags put_flags,
				   enum lab_abi_probe_constants constants)
{
	return (int)err + (int)level + (int)field_type + (int)setting_type + (int)setting_flags +
	       (int)param_type + (int)query_flags + (int)put_flags + (int)constants;
}

/* The callback types (also reachable through lab_host_api; listed so that a
 * typedef that stops being used by the table is still checked). */
LAB_EXPORT int lab_abi_probe_callbacks(lab_query_cb query, lab_rows_cb rows,
				       lab_storage_cb storage, lab_timer_cb timer, lab_msg_cb msg,
				       lab_work_fn work, lab_work_done_cb work_done,
				       lab_done_cb done);
LAB_EXPORT int lab_abi_probe_callbacks(lab_query_cb query, lab_rows_cb rows,
				       lab_storage_cb storage, lab_timer_cb timer, lab_msg_cb msg,
				       lab_work_fn work, lab_work_done_cb work_done,
				       lab_done_cb done)
{
	return query != NULL && rows != NULL && storage != NULL && timer != NULL && msg != NULL &&
	       work != NULL && work_done != NULL && done != NULL;
}

/* ABI 1.1: the option table plugins build (an array: its stride is read
 * from the descriptor's option_size) and the key-segment flags. */
LAB_EXPORT int lab_abi_probe_v1_1(const lab_option *option, enum lab_key_segment_flags flags);
LAB_EXPORT int lab_abi_probe_v1_1(const lab_option *option, enum lab_key_segment_flags flags)
{
	return option != NULL && (int)flags != 0;
}

/* ABI 1.2: the metric handle, the metric enums and the bounds plugins rely on. */
enum lab_abi_probe_constants_v1_2 {
	LAB_ABI_PROBE_METRIC_MAX_LABELS = LAB_METRIC_MAX_LABELS,
	LAB_ABI_PROBE_METRIC_MAX_FAMILIES = LAB_METRIC_MAX_FAMILIES,
	LAB_ABI_PROBE_METRIC_MAX_SERIES = LAB_METRIC_MAX_SERIES,
	LAB_ABI_PROBE_PROGRESS_MAX = LAB_PROGRESS_MAX
};
LAB_EXPORT int lab_abi_probe_v1_2(lab_metric *metric, enum lab_metric_type type,
				  enum lab_metric_op op, enum lab_abi_probe_constants_v1_2 c);
LAB_EXPORT int lab_abi_probe_v1_2(lab_metric *metric, enum lab_metric_type type,
				  enum lab_metric_op op, enum lab_abi_probe_constants_v1_2 c)
{
	return metric != NULL && (int)type + (int)op + (int)c != 0;
}

/* ABI 1.3 (issue 21): the work-cancel callback type; lab_json is opaque. */
LAB_EXPORT int lab_abi_probe_v1_3(lab_work_cancel_fn cancel, const lab_json *json);
LAB_EXPORT int lab_abi_probe_v1_3(lab_work_cancel_fn cancel, const lab_json *json)
{
	return cancel != NULL && json != NULL;
}

/* ABI 1.4: HTTP services.  lab_http_response is built by plugins and passed
 * by pointer (frozen, like lab_param); lab_http_req's public part is its
 * first member; the stream and route handles are opaque. */
LAB_EXPORT int lab_abi_probe_v1_4(const lab_http_req *req, const lab_http_response *resp,
				  lab_stream *stream, lab_route *route, enum lab_http_flags flags,
				  enum lab_stream_kind kind, lab_http_cb cb, lab_stream_msg_cb msg,
				  lab_stream_close_cb close);
LAB_EXPORT int lab_abi_probe_v1_4(const lab_http_req *req, const lab_http_response *resp,
				  lab_stream *stream, lab_route *route, enum lab_http_flags flags,
				  enum lab_stream_kind kind, lab_http_cb cb, lab_stream_msg_cb msg,
				  lab_stream_close_cb close)
{
	return req != NULL && resp != NULL && stream != NULL && route != NULL &&
	       (int)flags + (int)kind != 0 && cb != NULL && msg != NULL && close != NULL;
}

/* The entry point's type, exactly as plugins export it. */
LAB_EXPORT const lab_plugin *lab_plugin_entry(void);
LAB_EXPORT const lab_plugin *lab_plugin_entry(void) { return NULL; }
