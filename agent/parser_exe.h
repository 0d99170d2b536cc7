/* Which executable the agent starts as its parser worker. */
#ifndef SMOLDER_PARSER_EXE_H
#define SMOLDER_PARSER_EXE_H

/* The path of smolder-parser beside the agent's executable, if it is a
 * regular file that only its owner, root or the agent's own user, can
 * write; NULL otherwise (the agent runs itself as the worker). Free it. */
char *parser_exe_find(void);

#endif
