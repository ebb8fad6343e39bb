/* elisa/manager/server.h - the manager's event loop: one thread, one
 * poll() over
 *   - the TCP listener and up to --max-conns TCP peers (guests and
 *     elisactl), each with its own streaming decoder (elisa/proto), a
 *     512-byte input buffer and an output buffer of two maximal messages;
 *   - the host link listener (a unix SOCK_SEQPACKET socket, 0600) and up to
 *     MGR_LINK_MAX hosts (link_msg.h);
 *   - a signalfd for SIGTERM/SIGINT (clean stop: DETACH to every host,
 *     sockets removed).
 *
 * Defences, each bounded in memory and time:
 *   - a peer's bytes are decoded as they come; a decoding error gets an
 *     ERROR reply and the connection is closed (proto/README.md);
 *   - HELLO must complete within --msg-timeout-ms of the accept, and every
 *     later message within that time of its first byte (a slowloris peer
 *     is dropped, whatever its pace);
 *   - a peer that sends requests but does not read replies is not read
 *     from once its output buffer cannot take another maximal reply, and
 *     is dropped if that buffer makes no progress within the timeout;
 *   - beyond --max-conns, a new peer gets ERROR(BUSY) and is closed;
 *   - link peers must have the manager's uid (SO_PEERCRED), on top of the
 *     socket's 0600 mode.
 */
#ifndef ELISA_MANAGER_SERVER_H
#define ELISA_MANAGER_SERVER_H

#include <stdint.h>
#include <stdio.h>

#include "options.h"

#define MGR_LINK_MAX 64u

struct mgr_server;

/* Load the apps, set up the state, bind both sockets.  Nothing runs yet
 * (so a daemon can fork after this and report errors first).  Returns a
 * server, or NULL with one line in err. */
struct mgr_server *mgr_server_open(const struct mgr_options *o, char *err, size_t errlen);

/* The TCP port actually bound (--listen ...:0 picks one). */
uint16_t mgr_server_port(const struct mgr_server *s);

/* Where log lines go (default stderr). */
void mgr_server_set_log(struct mgr_server *s, FILE *log);

/* --host vmfunc: start the manager VM (hv_open with --elisa-id, unless
 * --no-manager-vm), give it each app's region (hv_add_region) and map the
 * app images for the installs.  Call it in the process that will serve
 * (after the daemon's fork: a KVM VM does not survive it), before
 * mgr_server_run.  No-op for --host exit.  0, or -1 with one line in err. */
int mgr_server_start_vmfunc(struct mgr_server *s, char *err, size_t errlen);

/* Serve until SIGTERM or SIGINT.  Returns 0, or -1 with err. */
int mgr_server_run(struct mgr_server *s, char *err, size_t errlen);

/* Close everything, remove the link socket (if it is still ours). */
void mgr_server_close(struct mgr_server *s);

#endif
