/* elisa/manager/daemon.c - pid file, daemon, stop (daemon.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "host_vmfunc.h"
#include "server.h"

/* One line with two paths in it. */
#define READY_MAX (2 * MGR_PATH_MAX + 512)
#define READY_WAIT_MS 10000

static void pidfile_path(const char *link, char *buf, size_t n)
{
    snprintf(buf, n, "%s.pid", link);
}

/* Who holds the write lock on FD's file: its pid, or 0. */
static pid_t lock_holder(int fd)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_GETLK, &fl) != 0)
        return -1;
    return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

pid_t mgr_running_pid(const char *link, char *err, size_t errlen)
{
    char path[PATH_MAX + 8];
    int fd;
    pid_t pid;

    pidfile_path(link, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    pid = lock_holder(fd);
    if (pid < 0)
        snprintf(err, errlen, "%s: cannot query its lock: %s", path, strerror(errno));
    close(fd);
    return pid;
}

/* Take LINK.pid's lock and write our pid.  The fd stays open for the
 * life of the process: closing any fd of the file would drop the lock. */
static int pidfile_take(const char *link, char *err, size_t errlen)
{
    char path[PATH_MAX + 8], line[32];
    struct flock fl;
    int fd;

    pidfile_path(link, path, sizeof(path));
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        pid_t pid = lock_holder(fd);
        snprintf(err, errlen, "a manager is already running on %s (pid %d); stop it with "
                 "'elisactl stop --link %s'", link, (int)pid, link);
        close(fd);
        return -1;
    }
    int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* mkdir -p for the link's directory: each missing component 0700 (the
 * socket's directory is part of what keeps the link private).  An existing
 * directory owned by another user (not root) is refused: in /tmp, anyone
 * could have made it first. */
static int make_dirs(const char *link, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    struct stat st;
    char *slash;

    snprintf(dir, sizeof(dir), "%s", link);
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create %s for the host link: %s", dir, strerror(errno));
                return -1;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a directory; choose another --link", dir);
        return -1;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        snprintf(err, errlen, "%s belongs to uid %u, not to us; choose another --link", dir,
                 (unsigned)st.st_uid);
        return -1;
    }
    return 0;
}

/* Relative paths become absolute: the daemon leaves the current directory. */
static int absolute(char *path, size_t n, char *err, size_t errlen)
{
    char cwd[PATH_MAX], tmp[PATH_MAX * 2];

    if (path[0] == '/')
        return 0;
    if (!getcwd(cwd, sizeof(cwd))) {
        snprintf(err, errlen, "getcwd: %s", strerror(errno));
        return -1;
    }
    snprintf(tmp, sizeof(tmp), "%s/%s", cwd, path);
    if (strlen(tmp) >= n) {
        snprintf(err, errlen, "%s: the absolute path is too long (a unix socket takes %zu bytes)",
                 path, n - 1);
        return -1;
    }
    memcpy(path, tmp, strlen(tmp) + 1);
    return 0;
}

static void ready_line(char *buf, size_t n, const struct mgr_options *o, uint16_t port, pid_t pid)
{
    snprintf(buf, n, "elisactl: manager %s (pid %d) on %s:%u, host link %s, log %s", o->name,
             (int)pid, o->listen_host, port, o->link_path, o->foreground ? "stderr" : o->log_path);
}

static int serve(struct mgr_server *srv, int pid_fd, const struct mgr_options *o, char *err,
                 size_t errlen)
{
    char pidpath[PATH_MAX + 8];
    int rc = mgr_server_run(srv, err, errlen);

    mgr_server_close(srv);
    /* Remove the pid file while still holding its lock, so that no second
     * manager can have taken it in between. */
    pidfile_path(o->link_path, pidpath, sizeof(pidpath));
    unlink(pidpath);
    close(pid_fd);
    return rc;
}

/* The daemon child: never returns. */
static void child(struct mgr_server *srv, struct mgr_options *o, int ready_fd)
{
    static char err[READY_MAX], line[READY_MAX + 1];
    int pid_fd, log_fd, null_fd;
    FILE *log;

    setsid();
    pid_fd = pidfile_take(o->link_path, err, sizeof(err));
    log_fd = pid_fd < 0 ? -1 : open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (pid_fd >= 0 && log_fd < 0)
        snprintf(err, sizeof(err), "log %s: %s", o->log_path, strerror(errno));
    if (pid_fd < 0 || log_fd < 0) {
        snprintf(line, sizeof(line), "E%s", err);
        if (write(ready_fd, line, strlen(line)) < 0)
            _exit(1);
        mgr_server_close(srv);
        _exit(1);
    }
    null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    if (null_fd > 2)
        close(null_fd);
    close(log_fd);
    log = stderr;
    setvbuf(log, NULL, _IOLBF, 0);
    mgr_server_set_log(srv, log);
    if (chdir("/") != 0)
        fprintf(log, "chdir /: %s\n", strerror(errno));
    /* The manager VM is made here, in the process that serves. */
    if (mgr_server_start_vmfunc(srv, err, sizeof(err)) != 0) {
        snprintf(line, sizeof(line), "E%s", err);
        if (write(ready_fd, line, strlen(line)) < 0)
            fprintf(log, "%s\n", err);
        mgr_server_close(srv);
        pidfile_path(o->link_path, line, sizeof(line));
        unlink(line);
        close(pid_fd);
        _exit(1);
    }
    line[0] = 'R';
    ready_line(line + 1, sizeof(line) - 1, o, mgr_server_port(srv), getpid());
    if (write(ready_fd, line, strlen(line)) < 0)
        fprintf(log, "could not tell elisactl that we run: %s\n", strerror(errno));
    close(ready_fd);
    int rc = serve(srv, pid_fd, o, err, sizeof(err));
    if (rc != 0)
        fprintf(log, "%s\n", err);
    _exit(rc ? 1 : 0);
}

int mgr_start(struct mgr_options *o, char *err, size_t errlen)
{
    static char line[READY_MAX + 1];
    struct mgr_server *srv;
    pid_t pid;
    int pipefd[2];

    /* --host vmfunc: is this KVM the elisa-kvm one (host_vmfunc.h)?  Asked
     * here, in the foreground, so the operator sees the one line. */
    if (o->host == MGR_HOST_VMFUNC && !o->no_manager_vm && hv_probe(err, errlen) != 0)
        return -1;
    if (absolute(o->link_path, sizeof(o->link_path), err, errlen) != 0 ||
        absolute(o->log_path, sizeof(o->log_path), err, errlen) != 0 ||
        make_dirs(o->link_path, err, errlen) != 0)
        return -1;
    pid = mgr_running_pid(o->link_path, err, errlen);
    if (pid < 0)
        return -1;
    if (pid > 0) {
        snprintf(err, errlen, "a manager is already running on %s (pid %d); stop it with "
                 "'elisactl stop --link %s'", o->link_path, (int)pid, o->link_path);
        return -1;
    }
    srv = mgr_server_open(o, err, errlen);
    if (!srv)
        return -1;

    if (o->foreground) {
        int pid_fd = pidfile_take(o->link_path, err, errlen);
        if (pid_fd < 0) {
            mgr_server_close(srv);
            return -1;
        }
        if (mgr_server_start_vmfunc(srv, err, errlen) != 0) {
            mgr_server_close(srv);
            pidfile_path(o->link_path, line, sizeof(line));
            unlink(line);
            close(pid_fd);
            return -1;
        }
        ready_line(line, sizeof(line), o, mgr_server_port(srv), getpid());
        printf("%s\n", line);
        fflush(stdout);
        return serve(srv, pid_fd, o, err, errlen);
    }

    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        mgr_server_close(srv);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        mgr_server_close(srv);
        return -1;
    }
    if (pid == 0) {
        close(pipefd[0]);
        child(srv, o, pipefd[1]);
    }
    close(pipefd[1]);
    /* The parent's copies of the sockets and memfds: the child has its own.
     * (Not mgr_server_close: that would remove the child's socket file.) */
    srv = NULL;
    struct pollfd p = { pipefd[0], POLLIN, 0 };
    ssize_t n = 0;
    if (poll(&p, 1, READY_WAIT_MS) == 1)
        n = read(pipefd[0], line, sizeof(line) - 1);
    close(pipefd[0]);
    if (n <= 0) {
        snprintf(err, errlen, "the manager (pid %d) did not report ready within %d ms; see %s",
                 (int)pid, READY_WAIT_MS, o->log_path);
        return -1;
    }
    line[n] = '\0';
    if (line[0] != 'R') {
        snprintf(err, errlen, "%s", line + 1);
        return -1;
    }
    printf("%s\n", line + 1);
    return 0;
}

/* The process has exited: no such pid, or a zombie its new parent has
 * not reaped yet (the daemon's parent, elisactl start, is long gone). */
static bool process_gone(pid_t pid)
{
    char path[64], buf[256];
    FILE *f;

    if (kill(pid, 0) != 0 && errno == ESRCH)
        return true;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');   /* the name may hold spaces */
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}

int mgr_stop(const char *link, unsigned wait_ms, char *msg, size_t msglen)
{
    char path[PATH_MAX + 8];
    int fd;
    pid_t pid;

    pidfile_path(link, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, msglen, "no manager running on %s (no %s)", link, path);
        return -1;
    }
    pid = lock_holder(fd);
    if (pid <= 0) {
        close(fd);
        if (pid == 0) {
            unlink(path);
            snprintf(msg, msglen, "no manager running on %s (removed the stale %s)", link, path);
        } else {
            snprintf(msg, msglen, "%s: cannot query its lock: %s", path, strerror(errno));
        }
        return -1;
    }
    if (kill(pid, SIGTERM) != 0) {
        snprintf(msg, msglen, "cannot signal the manager (pid %d): %s", (int)pid, strerror(errno));
        close(fd);
        return -1;
    }
    /* Done when it has let go of the lock and has exited. */
    for (unsigned waited = 0; waited <= wait_ms; waited += 20) {
        if (lock_holder(fd) == 0 && process_gone(pid)) {
            close(fd);
            snprintf(msg, msglen, "manager (pid %d) on %s stopped", (int)pid, link);
            return 0;
        }
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    close(fd);
    snprintf(msg, msglen, "the manager (pid %d) did not stop within %u ms; see %s.log", (int)pid,
             wait_ms, link);
    return -1;
}
