/* libFuzzer target: the Ethereum network config.yaml loader
 * (host/networks.c networks_parse_yaml).  Oracle: on success the slot timing
 * is non-zero, fork epochs are sorted, fork names are unique and phase0 is
 * present; on failure nothing is returned and the error names the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lab/plugin.h"
#include "log.h"
#include "networks.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LAB_LOG_ERROR, 0, 2);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t sps = 0, spe = 0;
	char **names = NULL;
	uint64_t *epochs = NULL;
	size_t n = 0;
	char err[256];
	int rc = networks_parse_yaml((const char *)data, size, "fuzz.yaml", &sps, &spe, &names,
				     &epochs, &n, err, sizeof err);
	if (rc != 0) {
		if (rc > 0 || names || epochs || n || strncmp(err, "fuzz.yaml:", 10) != 0)
			abort();
		return 0;
	}
	if (sps == 0 || spe == 0 || n == 0 || !names || !epochs)
		abort();
	int phase0 = 0;
	for (size_t i = 0; i < n; i++) {
		if (!names[i] || !names[i][0])
			abort();
		phase0 |= strcmp(names[i], "phase0") == 0;
		if (i && epochs[i - 1] > epochs[i])
			abort();
		for (size_t k = 0; k < i; k++)
			if (strcmp(names[k], names[i]) == 0)
				abort();
	}
	if (!phase0)
		abort();
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(epochs);
	return 0;
}
