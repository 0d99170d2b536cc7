/* Workload for test_churn.py: the steady process that must keep its samples
 * in every interval while a storm of short processes runs beside it.
 *
 *   smolder_it_churn_burn
 *
 * Prints {"event":"ready","pids":[P]} and burns CPU in churn_hot until its
 * stdin closes (or a line arrives), then prints
 * {"event":"done","process_cpu_ns":N} and exits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "workload.h"

volatile uint64_t sink;

NOINLINE uint64_t churn_hot(uint64_t n)
{
	KEEP_FRAME();
	return store_sink(&sink, lcg_rounds(sink | 1, n));
}

int main(void)
{
	printf("{\"event\":\"ready\",\"pids\":[%d]}\n", (int)getpid());
	fflush(stdout);
	while (stdin_poll() == 0)
		churn_hot(100000);
	printf("{\"event\":\"done\",\"process_cpu_ns\":%" PRIu64 "}\n", process_cpu_ns());
	return fflush(stdout) == 0 ? 0 : 1;
}
