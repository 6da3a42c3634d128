/* `sluice router export|import|rollback|history`: online routers' learned state from the
 * command line (core/learnctl.c). */
#ifndef SL_CORE_LEARNCTL_H
#define SL_CORE_LEARNCTL_H

/* argv[0] is the command; returns the exit code, or -1 when it is not one of these. */
int sl_learnctl_cli(int argc, char **argv);

#endif
