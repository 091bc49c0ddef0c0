/*
 * anycast_tun.c -- the TUN device (anycast_tun.h).
 */
#include "anycast/anycast_tun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
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
