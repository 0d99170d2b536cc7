/* The run loop: starts the sampler, then every second refreshes the process
 * table and every interval closes one profile, until --duration runs out or
 * SIGINT/SIGTERM arrives; the partial interval is closed before returning.
 */
#ifndef SMOLDER_RUN_H
#define SMOLDER_RUN_H

#include "config.h"
#include "disc.h"

/* Returns the process exit status. */
int agent_run(const struct config *cfg, const struct disc_targets *targets);

#endif
