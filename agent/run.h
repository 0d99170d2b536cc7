/* The run loop: starts the sampler, hands process events to discovery as they
 * come, walks /proc every 10 s to reconcile, and every interval closes one
 * profile per label set, until --duration runs out or SIGINT/SIGTERM
 * arrives; the partial interval is closed before returning.
 */
#ifndef SMOLDER_RUN_H
#define SMOLDER_RUN_H

#include "config.h"
#include "disc.h"
#include "kernel_features.h"

/* Returns the process exit status. */
int agent_run(const struct config *cfg, const struct disc_targets *targets,
	      const struct kernel_features *kf);

#endif
