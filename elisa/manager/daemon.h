/* elisa/manager/daemon.h - starting and stopping the manager process.
 *
 * The pid file is LINK.pid, next to the host link socket LINK.  The
 * running manager holds a POSIX write lock on it (fcntl F_SETLK) for its
 * whole life, so
 *   - "is a manager running on LINK?" is answered by the kernel
 *     (F_GETLK), not by a pid that may have been reused;
 *   - the pid to stop is the lock holder's pid as the kernel reports it,
 *     the manager's own pid, not whatever the file says;
 *   - a manager that died leaves a file nobody holds: a stale file is
 *     recognised as such and replaced.
 * Daemon mode: `elisactl start` sets everything up in the foreground
 * (apps, sockets: every error is printed where the operator sees it),
 * then forks; the child calls setsid(), takes the lock, writes its pid,
 * sends its parent one "ready" line through a pipe, and serves; the parent
 * prints that line and exits 0.  Log lines go to --log (default LINK.log).
 */
#ifndef ELISA_MANAGER_DAEMON_H
#define ELISA_MANAGER_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

#include "options.h"

/* The pid of the manager holding LINK.pid's lock, 0 if none, -1 with err
 * if that cannot be told. */
pid_t mgr_running_pid(const char *link, char *err, size_t errlen);

/* Start a manager with options O (elisactl start).  Daemon mode returns in
 * the parent once the manager serves; foreground mode returns when it
 * stops.  Prints the "ready" line on stdout.  Returns 0 or -1 with err. */
int mgr_start(struct mgr_options *o, char *err, size_t errlen);

/* Stop the manager on LINK: SIGTERM to the lock holder, then wait up to
 * WAIT_MS for it to let go of the lock.  Returns 0 with a line in msg, or
 * -1 with err ("no manager running on ...", "did not stop within ..."). */
int mgr_stop(const char *link, unsigned wait_ms, char *msg, size_t msglen);

#endif
