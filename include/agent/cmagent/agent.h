/* agent.h: the running agent: opens the store, bootstraps the system administrator, connects the
 * transport, runs the writer thread, and stops cleanly on SIGTERM/SIGINT. */
#ifndef CMAGENT_AGENT_H
#define CMAGENT_AGENT_H

#include "cmagent/config.h"

/* Runs until SIGTERM or SIGINT. Returns the process exit code (0 after a clean stop). */
int agent_run(const struct config *cfg);

#endif
