/* `sluice router ...`: the learned router's tools as commands of the project. The one
 * idea: the same feature and scoring code as the request path (policy/route_*), with the
 * file I/O, JSON, and the trainer (Debian's liblinear) kept here, out of policy/.
 *   sluice router train DATA -o FILE [--seed N] [--hash-bits B] [--c C] [--folds K]
 *   sluice router calibrate FILE --prompts SAMPLE --strong-share F
 *   sluice router eval FILE DATA [--source PREFIX] [--svg OUT.svg]
 *   sluice router convert routellm DIR -o OUT.jsonl [--split ...] [--seed N] [--test OUT]
 *   sluice router convert pairwise FILE [-o OUT.jsonl]
 * FILE may be "builtin" for the embedded default model. To add a command: one entry in
 * the table at the end of routerctl.c. */
#ifndef SL_CORE_ROUTERCTL_H
#define SL_CORE_ROUTERCTL_H

/* argv[0] is "router". Returns the exit code (0 ok, 1 failure, 2 usage). */
int sl_routerctl_cli(int argc, char **argv);

#endif
