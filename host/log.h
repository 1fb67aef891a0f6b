/* Structured logging: logfmt (default) or one JSON object per line, to
 * stderr.  Thread-safe: each record is formatted into a private buffer and
 * written with one write(2).  Never pass secrets as fields. */
#ifndef LAB_HOST_LOG_H
#define LAB_HOST_LOG_H

#include <stddef.h>

#include "lab/plugin.h"

enum log_format { LOG_FORMAT_LOGFMT = 0, LOG_FORMAT_JSON = 1 };

/* Defaults: level info, logfmt, fd 2. */
void log_setup(int level, int format, int fd);
int log_level(void);
int log_enabled(int level);
/* "debug" | "info" | "warn" | "error" -> level, -1 if unknown. */
int log_level_parse(const char *s);
int log_format_parse(const char *s);
/* "debug" ... "error"; "?" outside the range. */
const char *log_level_name(int level);

/* plugin may be NULL (host record). */
void log_fields(int level, const char *plugin, const char *msg, const lab_field *f, size_t n);
/* The same with the threshold given: a plugin's own log_level (ABI 1.2
 * plugins.NAME.log_level) instead of the host's. */
void log_fields_at(int min_level, int level, const char *plugin, const char *msg,
		   const lab_field *f, size_t n);
void log_msg(int level, const char *plugin, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_kv(level, plugin, msg, ...)                                            \
	log_fields((level), (plugin), (msg), (const lab_field[]){ __VA_ARGS__ },   \
		   sizeof((const lab_field[]){ __VA_ARGS__ }) / sizeof(lab_field))

#define LOGD(...) log_msg(LAB_LOG_DEBUG, NULL, __VA_ARGS__)
#define LOGI(...) log_msg(LAB_LOG_INFO, NULL, __VA_ARGS__)
#define LOGW(...) log_msg(LAB_LOG_WARN, NULL, __VA_ARGS__)
#define LOGE(...) log_msg(LAB_LOG_ERROR, NULL, __VA_ARGS__)

#endif
