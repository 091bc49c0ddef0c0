/*
 * admin_config.c -- the "admin" section of the configuration.
 */
#include "admin/admin_config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/addr.h"

/* Opens a token file and checks it like ssh checks a private key: a
 * regular file that neither group nor others may read or write (a token
 * anyone on the host can read gives them the role). NULL with a message
 * saying why. */
static FILE *admin_params_token_open(const char *full, char *why, size_t len)
{
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(why, len, "cannot read token file %s: %s", full, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode))
        snprintf(why, len, "token file %s is not a regular file", full);
    else if (st.st_mode & (S_IRWXG | S_IRWXO))
        snprintf(why, len,
                 "token file %s has mode %04o: group and others must have no access "
                 "(chmod 600 %s), as for an ssh key",
                 full, (unsigned)(st.st_mode & 07777), full);
    else {
        FILE *fp = fdopen(fd, "r");
        if (fp)
            return fp;
        snprintf(why, len, "cannot read token file %s: %s", full, strerror(errno));
    }
    close(fd);
    return NULL;
}

#define RESTART CFGSCHEMA_RESTART
static const struct cfgschema_key admin_keys[ADMIN_K_N] = {
    [ADMIN_K_LISTEN] = {"listen", CFGSCHEMA_ANY, .flags = RESTART,
                        .what = "\"IP:PORT\" or \"unix:/path\", or an array of them"},
    [ADMIN_K_READ_TOKEN_FILE] = {"read_token_file", CFGSCHEMA_PATH,
                                 .what = "a file whose first line is the read token"},
    [ADMIN_K_OPERATE_TOKEN_FILE] = {"operate_token_file", CFGSCHEMA_PATH,
                                    .what = "a file whose first line is the operate token"},
    [ADMIN_K_AUDIT_LOG] = {"audit_log", CFGSCHEMA_PATH,
                           .what = "the file every change request is appended to"},
    [ADMIN_K_MAX_CONNECTIONS] = {"max_connections", CFGSCHEMA_INT, 1, 10000, 64, RESTART, NULL,
                                 "connections at once"},
    [ADMIN_K_TIMEOUT] = {"timeout", CFGSCHEMA_SECONDS, 0.1, 600, 5, RESTART, NULL,
                         "how long a request's header and body may take"},
    [ADMIN_K_OPERATE_RESERVE] = {"operate_reserve", CFGSCHEMA_INT, 0, 10000, 0,
                                 RESTART | CFGSCHEMA_DEFAULT_VARIES, NULL,
                                 "places only operate requests may take (max_connections / 8)"},
    [ADMIN_K_MAX_STREAMS] = {"max_streams", CFGSCHEMA_INT, 1, 10000, 0,
                             RESTART | CFGSCHEMA_DEFAULT_VARIES, NULL,
                             "event streams per role (half the places read clients share)"},
    [ADMIN_K_MAX_BODY] = {"max_body", CFGSCHEMA_INT, ADMIN_MAX_BODY_MIN, ADMIN_MAX_BODY_MAX,
                          ADMIN_MAX_BODY_DEFAULT, RESTART, NULL,
                          "bytes a request body may have (413 above)"},
    [ADMIN_K_ALERTMANAGER] = {"alertmanager", CFGSCHEMA_OBJECT, .sub = &admin_am_schema,
                              .what = "Alertmanager's webhook as a source of verdicts"},
};
const struct cfgschema admin_schema = CFGSCHEMA("$.admin", admin_keys);

char *admin_params_read_token(const struct jsoncfg *j, const struct cfgschema *s, size_t k,
                              json_t *a, char **file)
{
    char path[96];
    cfgschema_key_path(path, sizeof(path), s, k, NULL);
    char buf[512], why[PATH_MAX * 2 + 160];
    const char *f = cfgschema_str(j, s, k, a, NULL);
    if (!f)
        return NULL;
    char *full = jsoncfg_path(j, f);
    *file = jsoncfg_strdup(full);
    FILE *fp = admin_params_token_open(full, why, sizeof(why));
    if (!fp) {
        jsoncfg_err(j, path, "%s", why);
        free(full);
        return NULL;
    }
    buf[0] = '\0';
    if (!fgets(buf, sizeof(buf), fp))
        buf[0] = '\0';
    fclose(fp);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (n < 16)
        jsoncfg_err(j, path, "the token in %s %s; at least 16 characters are needed", full,
                    n == 0 ? "is empty (the first line is the token)" : "is too short");
    free(full);
    return n < 16 ? NULL : jsoncfg_strdup(buf);
}

static void admin_params_listen(const struct jsoncfg *j, json_t *l, bool have_tokens,
                                struct admin_params *a)
{
    char at[64];
    cfgschema_key_path(at, sizeof(at), &admin_schema, ADMIN_K_LISTEN, NULL);
    json_t *arr = json_is_string(l) ? json_pack("[O]", l) : json_incref(l);
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        jsoncfg_err(j, at, "must be \"IP:PORT\", \"unix:/path\" or an array of them");
        json_decref(arr);
        return;
    }
    a->listen = calloc(json_array_size(arr), sizeof(*a->listen));
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char path[96];
        struct sockaddr_storage ss;
        socklen_t len;
        snprintf(path, sizeof(path), "%s[%zu]", at, i);
        const char *v = json_string_value(e);
        if (!v ||
            (strncmp(v, "unix:/", 6) != 0 && addr_parse(v, ADDR_PORT_REQUIRED, &ss, &len) != 0)) {
            jsoncfg_err(j, path, "must be \"IP:PORT\" or \"unix:/absolute/path\"");
            continue;
        }
        /* On TCP, loopback included, anyone who can connect (every local
         * user) would get the operate role: both tokens are required. A
         * unix socket is created with mode 0600, which authenticates. */
        if (strncmp(v, "unix:", 5) != 0 && !have_tokens)
            jsoncfg_err(j, path,
                        "a TCP listener needs read_token_file and operate_token_file (without "
                        "them anyone who can connect, on loopback every local user, could "
                        "operate gtmd); only a unix: listener may go without tokens");
        a->listen[a->n_listen++] = jsoncfg_strdup(v);
    }
    json_decref(arr);
}

/* operate_reserve and max_streams, bounded by max_connections (parsed
 * first). Defaults: a reserve of max_connections / 8 (at least 1 from 8
 * places up, at most 8), streams on half the places read clients share. */
static void admin_params_limits(const struct jsoncfg *j, json_t *v, struct admin_params *a)
{
    const struct cfgschema *s = &admin_schema;
    unsigned max = a->max_connections ? a->max_connections : 1;
    a->operate_reserve = max / 8 > 8 ? 8 : max / 8;
    if (cfgschema_value(s, ADMIN_K_OPERATE_RESERVE, v))
        a->operate_reserve = (unsigned)cfgschema_int(j, s, ADMIN_K_OPERATE_RESERVE, v, NULL);
    if (a->operate_reserve >= max) {
        char at[64];
        cfgschema_key_path(at, sizeof(at), s, ADMIN_K_OPERATE_RESERVE, NULL);
        jsoncfg_err(j, at, "must be below max_connections (%u): read clients need a place too",
                    max);
        a->operate_reserve = 0;
    }
    unsigned share = max - a->operate_reserve;
    a->max_streams = share / 2 > 0 ? share / 2 : 1;
    if (cfgschema_value(s, ADMIN_K_MAX_STREAMS, v))
        a->max_streams = (unsigned)cfgschema_int(j, s, ADMIN_K_MAX_STREAMS, v, NULL);
}

void admin_params_parse(const struct jsoncfg *j, json_t *v, struct admin_params *a)
{
    const struct cfgschema *s = &admin_schema;
    memset(a, 0, sizeof(*a));
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    a->enabled = true;
    a->read_token = admin_params_read_token(j, s, ADMIN_K_READ_TOKEN_FILE, v, &a->read_token_file);
    a->operate_token =
        admin_params_read_token(j, s, ADMIN_K_OPERATE_TOKEN_FILE, v, &a->operate_token_file);
    admin_am_params_parse(j, cfgschema_value(s, ADMIN_K_ALERTMANAGER, v), &a->alertmanager);
    json_t *l = cfgschema_value(s, ADMIN_K_LISTEN, v);
    json_t *def = json_string("127.0.0.1:8053");
    admin_params_listen(j, l ? l : def, a->read_token && a->operate_token, a);
    json_decref(def);
    a->audit_log = cfgschema_path(j, s, ADMIN_K_AUDIT_LOG, v, NULL);
    a->max_connections = (unsigned)cfgschema_int(j, s, ADMIN_K_MAX_CONNECTIONS, v, NULL);
    a->timeout_ms = cfgschema_ms(j, s, ADMIN_K_TIMEOUT, v, NULL);
    a->max_body = (size_t)cfgschema_int(j, s, ADMIN_K_MAX_BODY, v, NULL);
    admin_params_limits(j, v, a);
}

void admin_params_free(struct admin_params *p)
{
    for (size_t i = 0; i < p->n_listen; i++)
        free(p->listen[i]);
    free(p->listen);
    free(p->read_token);
    free(p->operate_token);
    free(p->audit_log);
    free(p->read_token_file);
    free(p->operate_token_file);
    admin_am_params_free(&p->alertmanager);
    memset(p, 0, sizeof(*p));
}
