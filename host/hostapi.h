/* The function table handed to plugins (lab_host_api): adapters from a
 * plugin's lab_ctx to its instance (instance.h) and the host services. */
#ifndef LAB_HOST_HOSTAPI_H
#define LAB_HOST_HOSTAPI_H

#include "lab/plugin.h"

extern const lab_host_api hostapi_table;

#endif
