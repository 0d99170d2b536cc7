/* Start-up checks: before loading anything, make sure the kernel and our
 * privileges offer what the sampler needs, so a missing piece is reported
 * in one clear line rather than as a verifier log.
 */
#ifndef SMOLDER_PROBE_H
#define SMOLDER_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#define PROBE_MIN_KERNEL "Linux 5.11"

/* Returns 0 when all is there; otherwise a negative errno and, in what, the
 * one thing that is missing, or (*refused) the sentence saying what
 * refused a call the capabilities allow. */
int probe_requirements(char *what, size_t len, bool *refused);

#endif
