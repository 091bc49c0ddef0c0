/*
 * server_modules.h -- the modules the daemon runs, as one table walked
 * in dependency order: each is started in order once the configuration
 * is loaded, its first set built, its sockets bound and privileges
 * dropped; told of every reload; and halted and stopped in the reverse
 * order. Adding a module is one entry in server_modules.c, not an edit
 * of start, reload and stop.
 *
 * A reload asks, for each module, whether the new configuration keeps
 * what only a restart changes: the part of its top-level keys the
 * schema flags restart-only (config_keys.c, cfgschema.h) is the same;
 * no module decides it by hand. When it does not, the module keeps
 * what runs (keep: the running values move into the new configuration,
 * so later reloads compare with what really runs), the reload says so
 * ("restart_needed_for_NAME" in its result, a note in the log), and the
 * module applies the rest (apply).
 *
 * Threads: start, ready, halt and stop on the main thread (ready under
 * reload_lock: the admin thread may reload by then); reload phases on the
 * thread that reloads, under reload_lock.
 */
#ifndef GTM_DAEMON_SERVER_MODULES_H
#define GTM_DAEMON_SERVER_MODULES_H

#include <jansson.h>
#include <stdbool.h>

struct config;
struct serve_set;
struct server;

#define SERVER_MODULE_KEYS 5

struct server_module {
    const char *name;
    /* The reload result's "restart_needed_for_NAME" (NULL: none) and the
     * note logged when a restart is needed. */
    const char *restart_key;
    const char *restart_note;
    /* Its start runs under reload_lock: a reload can come from the thread
     * it starts (the admin thread's POST /v1/reload) at once. */
    bool start_locked;
    /* Starts it; set is the first served set (owned by the serve core
     * once the "net" module published it). -1 stops the start, logged. */
    int (*start)(struct server *srv, struct serve_set *set);
    /* The main loop exists (its event base is srv->base). */
    void (*ready)(struct server *srv);
    /* Its top-level keys: their restart-only part decides whether a
     * reload keeps what runs (keep) and says so. */
    const char *keys[SERVER_MODULE_KEYS];
    /* Moves the running values of what only a restart changes into next
     * (and next's into running, freed with it). Called when a key's
     * restart-only part changed. */
    void (*keep)(struct config *next, struct config *running);
    /* The new configuration's parameters, once set is published; same:
     * whether the restart-only part is unchanged. Runs before keep. */
    void (*apply)(struct server *srv, const struct config *next, const struct serve_set *set,
                  bool same);
    /* The main loop has ended: stop what fires events into it. */
    void (*halt)(struct server *srv);
    /* Stops its threads and frees what it started; safe when start did
     * not run or failed. */
    void (*stop)(struct server *srv);
};

/* Starts every module in order; on a failure, -1 (the modules started
 * are stopped by server_modules_stop, which the caller runs). Frees set
 * when a module before "net" fails (nothing owns it yet). */
int server_modules_start(struct server *srv, struct serve_set *set);
void server_modules_ready(struct server *srv);
/* A reload: the restart-only check, apply and keep of every module, after set was
 * published for next (which then replaces srv->cfg). Adds
 * "restart_needed_for_KEY" to result for every module with a key. */
void server_modules_reload(struct server *srv, struct config *next, const struct serve_set *set,
                           json_t *result);
void server_modules_halt(struct server *srv);
/* Stops every module in the reverse order. */
void server_modules_stop(struct server *srv);

#endif
