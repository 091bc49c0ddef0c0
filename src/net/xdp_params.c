/*
 * xdp_params.c -- the "xdp" section of the configuration.
 */
#include "net/xdp_params.h"

#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool xdp_supported(void)
{
#ifdef HAVE_XDP
    return true;
#else
    return false;
#endif
}

static void xdp_params_queues(const struct jsoncfg *j, json_t *v, struct xdp_params *out)
{
    if (!v) {
        out->queues = calloc(1, sizeof(*out->queues)); /* queue 0 */
        if (!out->queues)
            abort();
        out->n_queues = 1;
        return;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > XDP_MAX_QUEUES) {
        jsoncfg_err(j, "$.xdp.queues", "must be a non-empty array of at most %d queue numbers",
                    XDP_MAX_QUEUES);
        return;
    }
    out->queues = calloc(json_array_size(v), sizeof(*out->queues));
    if (!out->queues)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[48];
        snprintf(path, sizeof(path), "$.xdp.queues[%zu]", i);
        json_int_t q = json_is_integer(e) ? json_integer_value(e) : -1;
        if (q < 0 || q >= XDP_MAX_QUEUES) {
            jsoncfg_err(j, path, "must be a queue number from 0 to %d", XDP_MAX_QUEUES - 1);
            continue;
        }
        for (size_t k = 0; k < out->n_queues; k++)
            if (out->queues[k] == (unsigned)q) {
                jsoncfg_err(j, path, "queue %d is listed twice", (int)q);
                q = -1;
                break;
            }
        if (q >= 0)
            out->queues[out->n_queues++] = (unsigned)q;
    }
}

void xdp_params_parse(const struct jsoncfg *j, json_t *v, struct xdp_params *out)
{
    static const char *const keys[] = {"interface", "queues", "mode", "frames", NULL};
    memset(out, 0, sizeof(*out));
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, "$.xdp", "must be an object such as {\"interface\": \"eth0\"}");
        return;
    }
    jsoncfg_check_keys(j, v, "$.xdp", keys);
    out->enabled = true;
    const char *ifname = jsoncfg_str(j, v, "interface", "$.xdp.interface");
    if (!ifname || !ifname[0] || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/'))
        jsoncfg_err(j, "$.xdp.interface", "must name a network interface (at most %d characters)",
                    IF_NAMESIZE - 1);
    else
        out->interface = jsoncfg_strdup(ifname);
    xdp_params_queues(j, json_object_get(v, "queues"), out);
    const char *mode = jsoncfg_str(j, v, "mode", "$.xdp.mode");
    if (mode && strcmp(mode, "generic") == 0)
        out->generic = true;
    else if (mode && strcmp(mode, "native") != 0)
        jsoncfg_err(j, "$.xdp.mode", "must be \"native\" (the driver's XDP) or \"generic\"");
    long f = jsoncfg_int(j, v, "frames", "$.xdp.frames", 64, 65536, XDP_DEFAULT_FRAMES);
    if (f & (f - 1))
        jsoncfg_err(j, "$.xdp.frames", "must be a power of two (64 .. 65536)");
    out->frames = (unsigned)f;
}

void xdp_params_free(struct xdp_params *p)
{
    free(p->interface);
    free(p->queues);
    p->interface = NULL;
    p->queues = NULL;
}
