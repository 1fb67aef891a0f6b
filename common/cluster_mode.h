/*
 * cluster_mode — whether a plugin runs its cluster code (docs/cluster.md):
 * only on a host with the SDK 1.5 cluster services whose backend is not
 * "none".  With backend "none" (the default) or an older host, the plugins
 * of this tree do not call the cluster services at all: one daemon behaves
 * byte for byte as before them.  Loop thread.
 */
#ifndef LAB_COMMON_CLUSTER_MODE_H
#define LAB_COMMON_CLUSTER_MODE_H

#include <string.h>

#include <lab/plugin.h>

static inline int cluster_mode(lab_ctx *ctx)
{
	if (!LAB_HAS(ctx, cluster_backend)) /* an older host, or the entry unset */
		return 0;
	const char *b = lab_cluster_backend(ctx);
	return b && strcmp(b, "none") != 0;
}

#endif
