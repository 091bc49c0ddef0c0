/*
 * drill_params.c -- the "drills" section of the configuration.
 */
#include "drill/drill_params.h"

void drill_params_parse(const struct jsoncfg *j, json_t *v, struct drill_params *out)
{
    static const char *const keys[] = {"max_duration", NULL};
    out->max_duration = DRILL_DEFAULT_MAX_DURATION;
    if (!v)
        return;
    if (!json_is_object(v)) {
        jsoncfg_err(j, "$.drills", "must be an object such as {\"max_duration\": 3600}");
        return;
    }
    jsoncfg_check_keys(j, v, "$.drills", keys);
    unsigned ms = jsoncfg_ms(j, v, "max_duration", "$.drills.max_duration", 1,
                             DRILL_MAX_MAX_DURATION, DRILL_DEFAULT_MAX_DURATION);
    out->max_duration = ms / 1000.0;
}
