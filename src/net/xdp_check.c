/*
 * xdp_check.c -- what 'gtmd check' says about the "xdp" section: whether
 * this build has AF_XDP, whether the interface exists, its driver and MTU,
 * and what the process will need at start (capabilities, locked memory).
 * Said as warnings: the server still starts (on sockets) without them.
 */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/xdp_params.h"

/* The driver's name and the MTU of ifname (0 / "" when unknown). */
static void xdp_check_if(const char *ifname, char *driver, size_t dlen, unsigned *mtu)
{
    struct ifreq ifr;
    struct ethtool_drvinfo di;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    driver[0] = '\0';
    *mtu = 0;
    if (fd < 0)
        return;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
    if (ioctl(fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu > 0)
        *mtu = (unsigned)ifr.ifr_mtu;
    memset(&di, 0, sizeof(di));
    di.cmd = ETHTOOL_GDRVINFO;
    ifr.ifr_data = (void *)&di;
    if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
        snprintf(driver, dlen, "%s", di.driver);
    close(fd);
}

void xdp_check(const char *file, const struct xdp_params *p, struct errlist *warns)
{
    if (!p->enabled || !p->interface)
        return;
    const char *at = xdp_schema.path;
    char ifpath[64];
    cfgschema_key_path(ifpath, sizeof(ifpath), &xdp_schema, XDP_K_INTERFACE, NULL);
    if (!xdp_supported()) {
        errlist_add(warns,
                    "%s: %s: this gtmd was built without AF_XDP support (configure found no "
                    "libxdp-dev, libbpf-dev or clang): UDP will be answered on sockets",
                    file, at);
        return;
    }
    if (if_nametoindex(p->interface) == 0) {
        errlist_add(warns,
                    "%s: %s: no interface %s here: gtmd will answer UDP on sockets "
                    "(an interface in another network namespace is not visible from this one)",
                    file, ifpath, p->interface);
        return;
    }
    char driver[64];
    unsigned mtu;
    xdp_check_if(p->interface, driver, sizeof(driver), &mtu);
    unsigned long long lock = (unsigned long long)p->frames * 4096 * p->n_queues;
    struct rlimit rl;
    bool short_lock = getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                      rl.rlim_cur < lock && geteuid() != 0;
    errlist_add(warns,
                "%s: %s: %s (driver %s, MTU %u), %s mode, %zu queue(s): at start gtmd needs "
                "CAP_NET_ADMIN, CAP_BPF and CAP_NET_RAW (root has them; systemd: "
                "AmbientCapabilities=), %llu KiB of locked memory (LimitMEMLOCK= or "
                "CAP_IPC_LOCK)%s; %s. Replies are truncated (TC) to the MTU. Without these "
                "UDP is answered on sockets (doc/xdp.md)",
                file, at, p->interface, driver[0] ? driver : "unknown", mtu,
                p->generic ? "generic (SKB)" : "native (driver)", p->n_queues, lock / 1024,
                short_lock ? ": RLIMIT_MEMLOCK here is lower" : "",
                p->generic ? "generic mode works on any driver, at a cost"
                           : "native mode needs the driver's XDP support (veth, mlx5, i40e, ice, "
                             "ixgbe, virtio_net and others)");
}
