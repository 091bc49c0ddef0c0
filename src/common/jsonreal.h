/*
 * jsonreal.h -- JSON text with every real number in its shortest form:
 * the fewest significant digits that read back as the same double
 * ("0.95", not jansson's 17-digit "0.94999999999999996"), for what the
 * admin API and the event stream print. jansson 2.14 (Debian 12) writes
 * reals with "%.17g" (JSON_REAL_PRECISION can only fix one precision for
 * every number, which either loses some doubles or keeps the noise), so
 * its text is rewritten number by number. gtmctl keeps a copy of its own
 * (src/ctl/ctl_fmt.c): it links nothing of libgtm.a.
 *
 * Ownership: jsonreal_dumps returns a string the caller frees; nothing
 * else is allocated.
 */
#ifndef GTM_COMMON_JSONREAL_H
#define GTM_COMMON_JSONREAL_H

#include <jansson.h>
#include <stddef.h>

/* v in the fewest significant digits (1 to 17, "%.*g") that strtod()
 * reads back as v, into buf; always with a '.' or an exponent when
 * finite, so that JSON reads it as a real ("5.0", "1e+300"). Returns buf. */
const char *jsonreal_format(double v, char *buf, size_t len);

/* json_dumps(j, flags | JSON_ENCODE_ANY) with every real number in that
 * form; integers, strings and the layout as jansson wrote them. NULL
 * where json_dumps fails (j NULL, invalid UTF-8...). */
char *jsonreal_dumps(const json_t *j, size_t flags);

#endif
