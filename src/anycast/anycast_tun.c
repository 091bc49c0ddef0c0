/*
 * anycast_tun.c -- the TUN device (anycast_tun.h).
 */
#include "anycast/anycast_tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>

int anycast_tun_open(const char *name, char *err, size_t errlen)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "anycast.interface %s: cannot open /dev/net/tun: %s", name,
                 strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        snprintf(err, errlen,
                 "anycast.interface %s: cannot create the TUN device: %s (it needs "
                 "CAP_NET_ADMIN at start, and no other device of that name)",
                 name, strerror(errno));
        close(fd);
        return -1;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    int rc = s < 0 ? -1 : ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    if (rc != 0) {
        snprintf(err, errlen, "anycast.interface %s: cannot bring the device up: %s", name,
                 strerror(errno));
        if (s >= 0)
            close(s);
        close(fd); /* not persistent: the device goes with it */
        return -1;
    }
    close(s);
    return fd;
}

bool anycast_tun_drop_admin(void)
{
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_NET_ADMIN, 0, 0);
    (void)prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0); /* needs CAP_SETPCAP: may fail */
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0)
        return false;
    unsigned bit = CAP_NET_ADMIN; /* 12: in the first word */
    d[0].effective &= ~(1u << bit);
    d[0].permitted &= ~(1u << bit);
    d[0].inheritable &= ~(1u << bit);
    if (syscall(SYS_capset, &h, d) != 0)
        return false;
    return syscall(SYS_capget, &h, d) == 0 && !(d[0].permitted & (1u << bit));
}
