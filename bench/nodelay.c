/* bench/nodelay.c: finds this process's TCP sockets to the broker and sets TCP_NODELAY on them
 * (paho.mqtt.c 1.3.12 never does); also parses the broker port out of a paho server URI. */
#include "nodelay.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_port(const char *s, size_t len)
{
    int port = 0;

    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        port = port * 10 + (s[i] - '0');
    }
    return (port >= 1 && port <= 65535) ? port : -1;
}

int cm_broker_port(const char *uri)
{
    int fallback = 1883;
    const char *host = uri;
    const char *sep;
    size_t hostlen;

    if (uri == NULL || *uri == '\0')
        return -1;
    sep = strstr(uri, "://");
    if (sep != NULL) {
        size_t slen = (size_t)(sep - uri);

        if (slen == 3 && strncasecmp(uri, "tcp", 3) == 0)
            fallback = 1883;
        else if (slen == 4 && strncasecmp(uri, "mqtt", 4) == 0)
            fallback = 1883;
        else if ((slen == 3 && strncasecmp(uri, "ssl", 3) == 0) ||
                 (slen == 5 && strncasecmp(uri, "mqtts", 5) == 0))
            fallback = 8883;
        else if (slen == 2 && strncasecmp(uri, "ws", 2) == 0)
            fallback = 80;
        else if (slen == 3 && strncasecmp(uri, "wss", 3) == 0)
            fallback = 443;
        else if (slen == 4 && strncasecmp(uri, "unix", 4) == 0)
            return 0;
        else
            return -1;
        host = sep + 3;
    }
    hostlen = strcspn(host, "/");
    if (hostlen == 0)
        return -1;
    if (host[0] == '[') {
        const char *close = memchr(host, ']', hostlen);

        if (close == NULL)
            return -1;
        if ((size_t)(close - host) + 1 == hostlen)
            return fallback;
        if (close[1] != ':')
            return -1;
        return parse_port(close + 2, hostlen - (size_t)(close - host) - 2);
    }
    {
        const char *colon = NULL;

        for (size_t i = 0; i < hostlen; i++)
            if (host[i] == ':')
                colon = host + i;
        if (colon == NULL)
            return fallback;
        return parse_port(colon + 1, hostlen - (size_t)(colon - host) - 1);
    }
}

/* 1 when fd is a connected TCP socket whose peer port is `port` and TCP_NODELAY is now set on it. */
static int try_fd(int fd, int port)
{
    struct stat st;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    int type = 0;
    socklen_t tlen = sizeof type;
    int peer_port;
    int one = 1;

    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 0;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM)
        return 0;
    memset(&peer, 0, sizeof peer);
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) != 0)
        return 0;
    if (peer.ss_family == AF_INET)
        peer_port = ntohs(((const struct sockaddr_in *)&peer)->sin_port);
    else if (peer.ss_family == AF_INET6)
        peer_port = ntohs(((const struct sockaddr_in6 *)&peer)->sin6_port);
    else
        return 0;
    if (peer_port != port)
        return 0;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
}

int cm_nodelay_apply(int port)
{
    DIR *dir;
    int count = 0;

    if (port < 1 || port > 65535)
        return -1;
    dir = opendir("/proc/self/fd");
    if (dir != NULL) {
        int self = dirfd(dir);
        struct dirent *de;

        while ((de = readdir(dir)) != NULL) {
            char *end;
            long fd;

            if (de->d_name[0] < '0' || de->d_name[0] > '9')
                continue;
            errno = 0;
            fd = strtol(de->d_name, &end, 10);
            if (errno != 0 || *end != '\0' || fd < 0 || fd == self || fd > 0x7fffffffL)
                continue;
            count += try_fd((int)fd, port);
        }
        closedir(dir);
        return count;
    }
    for (int fd = 0, max = getdtablesize(); fd < max; fd++)
        count += try_fd(fd, port);
    return count;
}
