/*
 * admin_ui_assets.h -- the console's files, compiled into the binary.
 *
 * The table is generated at build time (src/admin/ui/gen_assets.sh) from
 * the files in src/admin/ui; it ends with an entry whose name is NULL.
 * Everything is static and read-only: nothing to free.
 */
#ifndef GTM_ADMIN_ADMIN_UI_ASSETS_H
#define GTM_ADMIN_ADMIN_UI_ASSETS_H

#include <stddef.h>

struct admin_ui_asset {
    const char *name; /* "index.html", "app.js": the path under /ui/ */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};

extern const struct admin_ui_asset admin_ui_assets[];

#endif
