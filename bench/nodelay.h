/* bench/nodelay.h: the one copy of the TCP_NODELAY trick shared by cm-echo and cm-load.
 *
 * paho.mqtt.c 1.3.12 never sets TCP_NODELAY on its broker socket and offers no hook to do it, so a
 * QoS 1 round trip (PUBLISH + PUBACK written as separate small segments) stalls on Nagle's algorithm
 * meeting the peer's delayed ACK (~40 ms per side on Linux). After the client has connected, we find
 * its socket among the process's file descriptors by the broker's port and switch Nagle off. */
#ifndef CM_BENCH_NODELAY_H
#define CM_BENCH_NODELAY_H

/* The TCP port named by a paho server URI: "tcp://host:1883", "mqtt://[::1]:1884", "host:1883",
 * "ws://host:8080/mqtt". Without an explicit port: 1883 (tcp, mqtt), 8883 (ssl, mqtts), 80 (ws),
 * 443 (wss). Returns 0 for a non-TCP scheme (unix://), -1 for a malformed URI. */
int cm_broker_port(const char *uri);

/* Sets TCP_NODELAY on every connected SOCK_STREAM AF_INET/AF_INET6 socket of this process whose
 * peer port is `port`. Walks /proc/self/fd, or every descriptor below getdtablesize() when /proc is
 * not mounted. Returns how many sockets now have TCP_NODELAY set (0: none found), -1 on a bad port. */
int cm_nodelay_apply(int port);

#endif
