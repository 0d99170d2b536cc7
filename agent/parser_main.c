/* smolder-parser: the parser worker (symbolizer/worker.c) as an executable
 * of its own, which links only what parsing needs: 11 libraries, not the
 * agent's 45 (libcurl's TLS, Kerberos and LDAP among them), each loaded
 * and relocated at every start of the worker. The agent runs it when it
 * lies beside the agent's own executable (agent/parser_exe.c), else runs
 * itself as the worker. */
#include <stdio.h>
#include <string.h>

#include "sym.h"

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], SYM_WORKER_ARGV1)) {
		fprintf(stderr, "smolder-parser: run by the smolder agent, not by hand\n");
		return 2;
	}
	return sym_worker_main(argc, argv);
}
