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

static const struct cfgschema_key xdp_keys[XDP_K_N] = {
    [XDP_K_INTERFACE] = {"interface", CFGSCHEMA_STRING, .flags = CFGSCHEMA_REQUIRED,
                         .what = "the network interface DNS queries arrive on"},
    [XDP_K_QUEUES] = {"queues", CFGSCHEMA_ARRAY, .what = "its receive queues, [0] by default"},
    [XDP_K_MODE] = {"mode", CFGSCHEMA_STRING,
                    .what = "\"native\" (the driver's XDP, the default) or \"generic\""},
    [XDP_K_FRAMES] = {"frames", CFGSCHEMA_INT, 64, 65536, XDP_DEFAULT_FRAMES, 0, NULL,
                      "UMEM frames per queue, a power of two"},
};
const struct cfgschema xdp_schema = CFGSCHEMA("$.xdp", xdp_keys);

static void xdp_params_queues(const struct jsoncfg *j, json_t *v, struct xdp_params *out)
{
    const struct cfgschema *s = &xdp_schema;
    if (!v) {
        out->queues = calloc(1, sizeof(*out->queues)); /* queue 0 */
        if (!out->queues)
            abort();
        out->n_queues = 1;
        return;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > XDP_MAX_QUEUES) {
        cfgschema_err(j, s, XDP_K_QUEUES, NULL,
                      "must be a non-empty array of at most %d queue numbers", XDP_MAX_QUEUES);
        return;
    }
    out->queues = calloc(json_array_size(v), sizeof(*out->queues));
    if (!out->queues)
        abort();
    char at[48];
    cfgschema_key_path(at, sizeof(at), s, XDP_K_QUEUES, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        char path[64];
        snprintf(path, sizeof(path), "%s[%zu]", at, i);
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
    const struct cfgschema *s = &xdp_schema;
    memset(out, 0, sizeof(*out));
    if (!v || !cfgschema_object(j, s, v, NULL))
        return;
    out->enabled = true;
    const char *ifname = cfgschema_str(j, s, XDP_K_INTERFACE, v, NULL);
    if (ifname && (!ifname[0] || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/')))
        cfgschema_err(j, s, XDP_K_INTERFACE, NULL,
                      "must name a network interface (at most %d characters)", IF_NAMESIZE - 1);
    else if (ifname)
        out->interface = jsoncfg_strdup(ifname);
    xdp_params_queues(j, cfgschema_value(s, XDP_K_QUEUES, v), out);
    const char *mode = cfgschema_str(j, s, XDP_K_MODE, v, NULL);
    if (mode && strcmp(mode, "generic") == 0)
        out->generic = true;
    else if (mode && strcmp(mode, "native") != 0)
        cfgschema_err(j, s, XDP_K_MODE, NULL,
                      "must be \"native\" (the driver's XDP) or \"generic\"");
    long f = cfgschema_int(j, s, XDP_K_FRAMES, v, NULL);
    if (f & (f - 1))
        cfgschema_err(j, s, XDP_K_FRAMES, NULL, "must be a power of two (64 .. 65536)");
    out->frames = (unsigned)f;
}

void xdp_params_free(struct xdp_params *p)
{
    free(p->interface);
    free(p->queues);
    p->interface = NULL;
    p->queues = NULL;
}
