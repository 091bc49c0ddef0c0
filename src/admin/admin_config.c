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

static char *admin_params_token(const struct jsoncfg *j, json_t *a, const char *key, char **file)
{
    char path[64];
    snprintf(path, sizeof(path), "$.admin.%s", key);
    return admin_params_read_token(j, a, key, path, file);
}

char *admin_params_read_token(const struct jsoncfg *j, json_t *a, const char *key, const char *path,
                              char **file)
{
    char buf[512], why[PATH_MAX * 2 + 160];
    const char *f = jsoncfg_str(j, a, key, path);
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
    json_t *arr = json_is_string(l) ? json_pack("[O]", l) : json_incref(l);
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        jsoncfg_err(j, "$.admin.listen", "must be \"IP:PORT\", \"unix:/path\" or an array of them");
        json_decref(arr);
        return;
    }
    a->listen = calloc(json_array_size(arr), sizeof(*a->listen));
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        char path[64];
        struct sockaddr_storage ss;
        socklen_t len;
        snprintf(path, sizeof(path), "$.admin.listen[%zu]", i);
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
    unsigned max = a->max_connections ? a->max_connections : 1;
    long def_reserve = max / 8 > 8 ? 8 : max / 8;
    a->operate_reserve = (unsigned)jsoncfg_int(j, v, "operate_reserve", "$.admin.operate_reserve",
                                               0, 10000, def_reserve);
    if (a->operate_reserve >= max) {
        jsoncfg_err(j, "$.admin.operate_reserve",
                    "must be below max_connections (%u): read clients need a place too", max);
        a->operate_reserve = 0;
    }
    long share = (long)(max - a->operate_reserve);
    long def_streams = share / 2 > 0 ? share / 2 : 1;
    a->max_streams =
        (unsigned)jsoncfg_int(j, v, "max_streams", "$.admin.max_streams", 1, 10000, def_streams);
}

void admin_params_parse(const struct jsoncfg *j, json_t *v, struct admin_params *a)
{
    static const char *const keys[] = {
        "listen",  "read_token_file", "operate_token_file", "audit_log",    "max_connections",
        "timeout", "operate_reserve", "max_streams",        "alertmanager", NULL};
    memset(a, 0, sizeof(*a));
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, "$.admin", "must be an object");
        return;
    }
    jsoncfg_check_keys(j, v, "$.admin", keys);
    a->enabled = true;
    a->read_token = admin_params_token(j, v, "read_token_file", &a->read_token_file);
    a->operate_token = admin_params_token(j, v, "operate_token_file", &a->operate_token_file);
    admin_am_params_parse(j, json_object_get(v, "alertmanager"), &a->alertmanager);
    json_t *l = json_object_get(v, "listen");
    json_t *def = json_string("127.0.0.1:8053");
    admin_params_listen(j, l ? l : def, a->read_token && a->operate_token, a);
    json_decref(def);
    const char *audit = jsoncfg_str(j, v, "audit_log", "$.admin.audit_log");
    a->audit_log = audit ? jsoncfg_path(j, audit) : NULL;
    a->max_connections =
        (unsigned)jsoncfg_int(j, v, "max_connections", "$.admin.max_connections", 1, 10000, 64);
    a->timeout_ms = jsoncfg_ms(j, v, "timeout", "$.admin.timeout", 0.1, 600, 5);
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

bool admin_params_same_listeners(const struct admin_params *a, const struct admin_params *b)
{
    if (a->enabled != b->enabled || a->n_listen != b->n_listen ||
        a->max_connections != b->max_connections || a->timeout_ms != b->timeout_ms ||
        a->operate_reserve != b->operate_reserve || a->max_streams != b->max_streams)
        return false;
    for (size_t i = 0; i < a->n_listen; i++)
        if (strcmp(a->listen[i], b->listen[i]) != 0)
            return false;
    return true;
}
