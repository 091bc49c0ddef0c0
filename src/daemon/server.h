/*
 * server.h -- the running daemon: config, serving threads, signals, reload.
 */
#ifndef GTM_DAEMON_SERVER_H
#define GTM_DAEMON_SERVER_H

/* Runs gtmd on the config at path until SIGTERM/SIGINT; node (--node, may
 * be NULL) names this node in a fleet. Returns the exit status (0 after a
 * clean stop, 1 when start-up failed). */
int server_run(const char *config_path, const char *node);

/* Loads and validates config_path and its zones; prints every error to
 * stderr. Returns 0 when everything is valid, 1 otherwise. */
int server_check(const char *config_path);

#endif
