/* labd — command line.  Everything else lives in daemon.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_config.h"
#include "clock.h"
#include "config.h"
#include "connect_check.h"
#include "crash.h"
#include "daemon.h"
#include "heap.h"
#include "lab/plugin.h"
#include "plugin_loader.h"

#ifndef LAB_SYSCONFDIR
#define LAB_SYSCONFDIR "/etc"
#endif

#define DEFAULT_CONFIG LAB_SYSCONFDIR "/lab/labd.conf"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage:\n"
		"  labd [-c FILE] [-D key.path=value]... [--debug]\n"
		"        run as a service in the foreground (logs to stderr)\n"
		"  labd -t [--connect] [-c FILE] [-D key.path=value]...\n"
		"        check the configuration and every enabled plugin (load, ABI check, init),\n"
		"        then exit 0 (ok) or 1 (errors, printed as FILE:LINE: ...); an unset ${NAME}\n"
		"        is only a warning here (the service's environment may be missing); with\n"
		"        --connect also reach ClickHouse (SELECT 1), storage (put/get/delete of a\n"
		"        probe object under .labd-check/) and NATS, each within %d s, one line each;\n"
		"        plugins are never started, so `plugin ok` says nothing about their callbacks\n"
		"  labd --once [--plugin NAME]... [--now RFC3339] [-c FILE] [-D ...]\n"
		"        run each enabled (or each named) plugin's work one time and exit:\n"
		"        0 when every plugin reported success, 1 otherwise (also when one has not\n"
		"        called lab_done after once.timeout, default 6h: it is named in the log)\n"
		"  labd --describe NAME [-c FILE] | --describe PATH.so\n"
		"        print the settings plugin NAME declares (Markdown table); a PATH (with\n"
		"        a '/' or ending in .so, e.g. ./hello.so) is loaded as it is, no config\n"
		"  labd --version | --help\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE     configuration file (default %s)\n"
		"  -D key.path=value     override a setting, e.g. -D plugins.beacon.enabled=false\n"
		"                        (repeatable; applied after the file, before validation);\n"
		"                        a value {...}, (...) or [...] replaces a whole group or list\n"
		"  -t, --test            check configuration and plugins, then exit\n"
		"      --connect         with -t: also check that the services answer (see above)\n"
		"      --once            one-shot run (see above)\n"
		"      --plugin NAME     with --once: run only NAME (repeatable); a named plugin\n"
		"                        runs even when its section says enabled = false\n"
		"      --now RFC3339     fix the host clock at this instant for the whole run\n"
		"                        (e.g. 2025-01-02T03:04:05Z); it does not advance\n"
		"      --describe NAME   print plugin NAME's settings (NAME may be a PATH.so)\n"
		"      --debug           log at debug level (overrides log.level)\n"
		"  -V, --version         print labd's version (the one pkg-config --modversion\n"
		"                        lab-plugin reports) and the plugin SDK ABI MAJOR.MINOR\n"
		"                        (LAB_ABI_MAJOR/MINOR of <lab/plugin.h>; plugins built\n"
		"                        for ABI 1.x with x <= MINOR load), then exit\n"
		"  -h, --help            print this help, then exit\n"
		"\n"
		"Signals: SIGINT/SIGTERM stop gracefully (drain, flush state); a second one exits at once.\n"
		"         SIGHUP reloads the configuration: plugin sections, log, admin token and\n"
		"         intervals; other changed settings are logged as needing a restart (docs/reload.md).\n"
		"Plugin files are hot-reloaded when they change on disk. labctl(1) (labctl -h) drives\n"
		"the admin API: labctl status | list | reload NAME | enable NAME | disable NAME | run NAME\n"
		"| reprocess beacon NETWORK FROM TO | publish SUBJECT JSON.\n"
		"Exit status: 0 success, 1 failure, 2 usage error.  A crash (SIGSEGV, SIGBUS,\n"
		"SIGABRT, SIGFPE) prints one line naming the signal and the plugin whose code ran,\n"
		"then labd dies of that signal (128+N; a core file if enabled).\n",
		CONNECT_CHECK_TIMEOUT_MS / 1000, DEFAULT_CONFIG);
}

/* NAME is a plugin name (found as in the configuration: its `path`, else
 * plugin_dir/NAME.so), or a path to a .so file when it has a '/' or ends in
 * ".so" (./hello.so): that file is opened as it is, without a configuration,
 * and the plugin's name is its file name without ".so". */
static int describe(const char *config_path, const char *const *ov, size_t nov, const char *name)
{
	struct config *cfg = NULL;
	char err[1024];
	char path[4096];
	char base[128];
	const char *file;
	size_t len = strlen(name);
	int is_path = strchr(name, '/') || (len > 3 && strcmp(name + len - 3, ".so") == 0);
	int rc;
	if (is_path) {
		const char *b = strrchr(name, '/');
		b = b ? b + 1 : name;
		size_t bl = strlen(b);
		if (bl > 3 && strcmp(b + bl - 3, ".so") == 0)
			bl -= 3;
		snprintf(base, sizeof base, "%.*s", (int)(bl < sizeof base ? bl : sizeof base - 1), b);
		file = name;
		name = base;
	} else {
		rc = config_load(config_path, ov, nov, &cfg, err, sizeof err);
		if (rc) {
			fprintf(stderr, "labd: %s\n", err);
			return 1;
		}
		const struct plugin_conf *pc = config_plugin(cfg, name);
		if (pc) {
			file = pc->path;
		} else {
			snprintf(path, sizeof path, "%s/%s.so", cfg->host.plugin_dir, name);
			file = path;
		}
	}
	struct plugin_image *img = NULL;
	rc = plugin_image_open(name, file, NULL, &img, err, sizeof err);
	if (rc) {
		fprintf(stderr, "labd: %s\n", err);
		config_free(cfg);
		return 1;
	}
	printf("# Plugin `%s` %s\n\n%s\n\n", img->desc->name, img->desc->version,
	       img->desc->description ? img->desc->description : "");
	config_describe_decls(name, &img->decls, stdout);
	plugin_image_close(img);
	config_free(cfg);
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_ONCE = 256, OPT_PLUGIN, OPT_NOW, OPT_DEBUG, OPT_DESCRIBE, OPT_CONNECT };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "connect", no_argument, NULL, OPT_CONNECT },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "plugin", required_argument, NULL, OPT_PLUGIN },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "describe", required_argument, NULL, OPT_DESCRIBE },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon_opts o = { .mode = MODE_SERVE, .config_path = DEFAULT_CONFIG };
	heap_tune();
	crash_install(); /* before any plugin code can run (--describe loads one too) */
	const char **overrides = calloc((size_t)argc, sizeof *overrides);
	const char **only = calloc((size_t)argc, sizeof *only);
	const char *describe_name = NULL;
	size_t nov = 0, nonly = 0;
	int once = 0, test = 0, c, rc;
	if (!overrides || !only) {
		fprintf(stderr, "labd: out of memory\n");
		return 1;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:D:tVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config_path = optarg;
			break;
		case 'D':
			if (!strchr(optarg, '=')) {
				fprintf(stderr, "labd: -D takes key.path=value, got '%s'\n", optarg);
				rc = 2;
				goto out;
			}
			overrides[nov++] = optarg;
			break;
		case 't':
			test = 1;
			break;
		case OPT_ONCE:
			once = 1;
			break;
		case OPT_CONNECT:
			o.connect = 1;
			break;
		case OPT_PLUGIN:
			only[nonly++] = optarg;
			break;
		case OPT_NOW: {
			int64_t ms;
			if (clock_parse_rfc3339(optarg, &ms) != 0) {
				fprintf(stderr, "labd: --now takes an RFC 3339 time such as 2025-01-02T03:04:05Z, got '%s'\n",
					optarg);
				rc = 2;
				goto out;
			}
			clock_fix(ms);
			break;
		}
		case OPT_DEBUG:
			o.debug = 1;
			break;
		case OPT_DESCRIBE:
			describe_name = optarg;
			break;
		case 'V':
			printf("labd %s (plugin SDK ABI %d.%d)\n", PACKAGE_VERSION, LAB_ABI_MAJOR,
			       LAB_ABI_MINOR);
			rc = 0;
			goto out;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		case ':':
			fprintf(stderr, "labd: option '%s' needs a value (see labd --help)\n",
				argv[optind - 1]);
			rc = 2;
			goto out;
		default:
			fprintf(stderr, "labd: unknown option '%s' (see labd --help)\n",
				argv[optind - 1]);
			rc = 2;
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "labd: unexpected argument '%s' (see labd --help)\n", argv[optind]);
		rc = 2;
		goto out;
	}
	if (test + once + (describe_name != NULL) > 1) {
		fprintf(stderr, "labd: -t, --once and --describe exclude each other\n");
		rc = 2;
		goto out;
	}
	if (o.connect && !test) {
		fprintf(stderr, "labd: --connect goes with -t\n");
		rc = 2;
		goto out;
	}
	if (nonly && !once) {
		fprintf(stderr, "labd: --plugin goes with --once\n");
		rc = 2;
		goto out;
	}
	if (describe_name) {
		rc = describe(o.config_path, overrides, nov, describe_name);
		goto out;
	}
	o.mode = test ? MODE_TEST : once ? MODE_ONCE : MODE_SERVE;
	o.overrides = overrides;
	o.n_overrides = nov;
	o.only = only;
	o.n_only = nonly;
	rc = daemon_main(&o);
out:
	free(overrides);
	free(only);
	return rc;
}
