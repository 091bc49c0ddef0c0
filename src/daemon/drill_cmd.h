/*
 * drill_cmd.h -- `gtmd drill`: the offline what-if (gtmd(8), doc/drills.md).
 *
 *   gtmd drill -c FILE --region R [--region R2 ...] [--az A ...]
 *              [--client IP | --ecs NET]... [--state FILE] [--json]
 *
 * Loads the configuration and its zones without serving, and prints, for
 * every policy record (and every client given), the answer now and with
 * those regions and azs lost, and the share of the record's weight each
 * region carries before and after (drill_whatif.h). Health comes from the
 * state file of a running server (--state: endpoint states whatever the
 * file's age, overrides and live drills), else every endpoint is up.
 *
 * Exit status: 0 when every record still has an up answer with the loss,
 * 3 when some record would fall to its when_all_down, 1 on errors
 * (usage, configuration, an unknown region or az, an unreadable --state).
 */
#ifndef GTM_DAEMON_DRILL_CMD_H
#define GTM_DAEMON_DRILL_CMD_H

#define DRILL_CMD_OK 0
#define DRILL_CMD_ERROR 1
#define DRILL_CMD_UNSERVED 3

/* argv[0] is "drill"; the options follow. Writes to stdout and stderr. */
int drill_cmd_main(int argc, char **argv);

#endif
