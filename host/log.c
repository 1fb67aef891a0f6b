#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

/* Atomic: SIGHUP changes them on the loop while other threads log. */
static _Atomic int g_level = LAB_LOG_INFO;
static _Atomic int g_format = LOG_FORMAT_LOGFMT;
static int g_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_setup(int level, int format, int fd)
{
	if (level >= LAB_LOG_DEBUG && level <= LAB_LOG_ERROR)
		g_level = level;
	g_format = format == LOG_FORMAT_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_LOGFMT;
	if (fd >= 0)
		g_fd = fd;
}

int log_level(void) { return g_level; }

int log_enabled(int level) { return level >= g_level; }

const char *log_level_name(int level)
{
	return level >= LAB_LOG_DEBUG && level <= LAB_LOG_ERROR ? level_names[level] : "?";
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "warning") == 0)
		return LAB_LOG_WARN;
	return -1;
}

int log_format_parse(const char *s)
{
	if (strcmp(s, "logfmt") == 0)
		return LOG_FORMAT_LOGFMT;
	if (strcmp(s, "json") == 0)
		return LOG_FORMAT_JSON;
	return -1;
}

/* logfmt values are quoted when they contain anything but plain characters. */
static void logfmt_value(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	int plain = n > 0;
	for (size_t i = 0; i < n && plain; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
			plain = 0;
	}
	if (plain)
		buf_append(b, s, n);
	else
		buf_json_str(b, s, n);
}

/* Keys come from code, but stay defensive: only [A-Za-z0-9_.-]. */
static void put_key(struct buf *b, const char *k)
{
	for (; *k; k++) {
		char c = *k;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '_' || c == '.' || c == '-';
		buf_putc(b, ok ? c : '_');
	}
}

static void put_field(struct buf *b, const char *key, const lab_field *f, const char *sval)
{
	if (g_format == LOG_FORMAT_JSON) {
		buf_puts(b, ",\"");
		put_key(b, key);
		buf_puts(b, "\":");
		if (sval)
			buf_json_str(b, sval, strlen(sval));
		else if (f->type == LAB_FIELD_INT)
			buf_printf(b, "%lld", (long long)f->i);
		else if (f->type == LAB_FIELD_DOUBLE)
			buf_printf(b, "%.17g", f->d);
		else
			buf_json_str(b, f->s ? f->s : "", f->s ? strlen(f->s) : 0);
		return;
	}
	buf_putc(b, ' ');
	put_key(b, key);
	buf_putc(b, '=');
	if (sval)
		logfmt_value(b, sval);
	else if (f->type == LAB_FIELD_INT)
		buf_printf(b, "%lld", (long long)f->i);
	else if (f->type == LAB_FIELD_DOUBLE)
		buf_printf(b, "%.17g", f->d);
	else
		logfmt_value(b, f->s ? f->s : "");
}

void log_fields(int level, const char *plugin, const char *msg, const lab_field *f, size_t n)
{
	log_fields_at(g_level, level, plugin, msg, f, n);
}

void log_fields_at(int min_level, int level, const char *plugin, const char *msg,
		   const lab_field *f, size_t n)
{
	if (level < min_level)
		return;
	if (level > LAB_LOG_ERROR)
		level = LAB_LOG_ERROR;
	if (level < LAB_LOG_DEBUG)
		level = LAB_LOG_DEBUG;

	struct timespec ts;
	struct tm tm;
	char tbuf[96];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(tbuf, sizeof tbuf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (long)(ts.tv_nsec / 1000000) % 1000);

	struct buf heap = BUF_INIT;
	struct buf *out = &heap;

	if (g_format == LOG_FORMAT_JSON) {
		buf_puts(out, "{\"ts\":\"");
		buf_puts(out, tbuf);
		buf_puts(out, "\",\"level\":\"");
		buf_puts(out, level_names[level]);
		buf_putc(out, '"');
		if (plugin)
			put_field(out, "plugin", NULL, plugin);
		put_field(out, "msg", NULL, msg ? msg : "");
	} else {
		buf_puts(out, "ts=");
		buf_puts(out, tbuf);
		buf_puts(out, " level=");
		buf_puts(out, level_names[level]);
		if (plugin)
			put_field(out, "plugin", NULL, plugin);
		put_field(out, "msg", NULL, msg ? msg : "");
	}
	for (size_t i = 0; i < n; i++) {
		if (!f[i].key)
			continue;
		put_field(out, f[i].key, &f[i], NULL);
	}
	if (g_format == LOG_FORMAT_JSON)
		buf_putc(out, '}');
	buf_putc(out, '\n');
	if (!out->oom) {
		size_t off = 0;
		while (off < out->len) {
			ssize_t w = write(g_fd, out->data + off, out->len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	buf_free(&heap);
}

void log_msg(int level, const char *plugin, const char *fmt, ...)
{
	if (level < g_level)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_fields(level, plugin, msg, NULL, 0);
}
