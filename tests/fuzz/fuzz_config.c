/* libFuzzer target: the configuration loader (host/config*.c): libconfig
 * parsing, ${NAME} / ${NAME:-default} expansion, -D overrides, validation
 * against the host schema, and (when no network names a file or URL) the
 * networks built from it (validator ranges).
 *
 * Input: the config file text, optionally followed by a line "%%" and one
 * -D override per line (at most 8).  The text is written to a file in a
 * private temp directory because config_load() reads a path.  Inputs with
 * "@include" are skipped: libconfig would read whatever file they name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "lab/plugin.h"
#include "log.h"
#include "networks.h"

#define MAX_OVERRIDES 8

static char path[4096];

static void cleanup(void)
{
	char dir[sizeof path];
	unlink(path);
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		rmdir(dir);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LAB_LOG_ERROR, 0, 2);
	const char *tmp = getenv("TMPDIR");
	char dir[4000];
	snprintf(dir, sizeof dir, "%s/labd-fuzz-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/labd.conf", dir);
	atexit(cleanup);
	/* Variables the seeds refer to. */
	setenv("LABD_FUZZ_TOKEN", "tok-${NOT_EXPANDED_TWICE}", 1);
	setenv("LABD_FUZZ_EMPTY", "", 1);
	setenv("LABD_FUZZ_NUM", "42", 1);
	setenv("LABD_FUZZ_DUR", "15s", 1);
	unsetenv("LABD_FUZZ_UNSET");
	return 0;
}

static const lab_setting plugin_keys[] = {
	{ "interval", LAB_SET_DURATION, "30s", "fuzz", NULL, 0 },
	{ "count", LAB_SET_INT, "1", "fuzz", NULL, 0 },
	{ "name", LAB_SET_STRING, NULL, "fuzz", NULL, 0 },
	{ "ratio", LAB_SET_DOUBLE, "0.5", "fuzz", NULL, 0 },
	{ "on", LAB_SET_BOOL, "true", "fuzz", NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536 || memmem(data, size, "@include", 8))
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	const char *ov[MAX_OVERRIDES];
	size_t nov = 0;
	char *sep = strstr(text, "\n%%\n");
	size_t flen = sep ? (size_t)(sep - text) + 1 : size;
	if (sep) {
		char *line = sep + 4;
		while (*line && nov < MAX_OVERRIDES) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			ov[nov++] = line;
			if (!nl)
				break;
			line = nl + 1;
		}
	}
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	if (flen && fwrite(text, 1, flen, f) != flen)
		abort();
	if (fclose(f) != 0)
		abort();

	struct config *c = NULL;
	char err[512];
	int rc = config_load(path, ov, nov, &c, err, sizeof err);
	if (rc != 0) {
		if (rc > 0 || c || !err[0])
			abort();
	} else {
		const struct host_conf *h = &c->host;
		if (!c || !h->admin_listen || !h->admin_token || !h->plugin_dir ||
		    !h->storage_backend || !h->ch_url || !h->broker_backend)
			abort();
		for (size_t i = 0; i < h->n_plugins; i++) {
			char perr[512];
			if (config_plugin(c, h->plugins[i].name) == NULL)
				abort();
			config_validate_plugin(c, &h->plugins[i], plugin_keys, perr, sizeof perr);
		}
		int files = 0;
		for (size_t i = 0; i < h->n_networks; i++)
			files |= h->networks[i].config_file || h->networks[i].config_url;
		if (!files) {
			struct networks *n = NULL;
			char nerr[512];
			if (networks_load(h, &n, nerr, sizeof nerr) == 0) {
				size_t cnt = networks_count(n);
				for (size_t i = 0; i < cnt; i++) {
					const lab_network *net = networks_at(n, i);
					if (!net || networks_find(n, network_name(net)) == NULL)
						abort();
					network_entity(net, 0);
					network_entity(net, UINT64_MAX);
					network_entity(net, 1234567);
				}
				networks_free(n);
			}
		}
		config_free(c);
	}
	free(text);
	return 0;
}
