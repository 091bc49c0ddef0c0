/*
 * probe_exec.c -- the exec probe: runs the check's "command" (no shell)
 * and judges its exit: 0 up, 1 down, anything else an error (a failure,
 * counted towards fall like a down, its reason starting "error:").
 *
 * Each program runs in a session and process group of its own (setsid),
 * with stdin on /dev/null, stdout and stderr on pipes read on the prober's
 * loop (at most PROBE_EXEC_OUT_MAX and PROBE_EXEC_ERR_MAX octets kept, the
 * rest read and dropped so the program never blocks on a full pipe), as
 * the check's "user" (else as gtmd runs: never root unless "user" says
 * "root"), with ambient capabilities cleared, signals at their defaults,
 * every other descriptor closed and a fixed environment (PATH and the
 * GTMD_* variables). Its end is seen through a pidfd on the loop (no
 * SIGCHLD handler: gtmd installs none, and none is needed); when it ends,
 * or at the probe's deadline, its whole group gets SIGKILL (before the
 * leader is reaped, so the group's id cannot have been reused), which
 * takes the children it left behind too, unless one made a session of
 * its own.
 *
 * fork(), not posix_spawn: the child must change user and groups; between
 * fork and execve it calls only async-signal-safe functions (the prober is
 * one thread of many). Everything it needs (argv, envp, ids) is built
 * before the fork.
 *
 * At most prober->exec_max programs run at once; later probes wait in a
 * FIFO. The program's timeout starts when it starts; a probe that waited
 * its whole timeout for a slot ends as a local failure (probe_result.local:
 * not a verdict on the endpoint). So a probe lasts at most twice its
 * timeout.
 *
 * Ownership: the prober owns the pool (p->exec) and every child in it
 * until the child is reaped, also after its probe ended (a timed-out
 * program is killed and then reaped from the loop). A probe owns its
 * struct probe_exec (pr->impl).
 */
#include "health/probe_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROBE_EXEC_OUT_MAX 4096
#define PROBE_EXEC_ERR_MAX 512
#define PROBE_EXEC_POLL_MS 20 /* without pidfds (Linux < 5.3): how often to look */
#define PROBE_EXEC_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct probe_exec;

struct probe_exec_child {
    struct probe_exec_pool *pool;
    struct probe_exec *owner; /* NULL once its probe has ended */
    pid_t pid;                /* also its process group's id */
    int pidfd, out_fd, err_fd, status_fd;
    struct event *ev_exit, *ev_out, *ev_err;
    char out[PROBE_EXEC_OUT_MAX + 1], err[PROBE_EXEC_ERR_MAX + 1];
    size_t out_len, err_len;
    struct probe_exec_child *prev, *next;
};

struct probe_exec_pool {
    struct prober *p;
    unsigned running;                         /* children not yet reaped */
    struct probe_exec_child *children;        /* all of them */
    struct probe_exec *wait_head, *wait_tail; /* probes waiting for a slot */
};

struct probe_exec {
    struct probe *pr;
    struct probe_exec_child *child; /* NULL while waiting */
    bool waiting;
    struct probe_exec *wnext, *wprev;
};

/* What the child reports on its status pipe when it cannot exec. */
enum { PROBE_EXEC_STAGE_USER = 1, PROBE_EXEC_STAGE_EXEC };

void prober_set_exec_max(struct prober *p, unsigned n)
{
    p->exec_max = n;
}

static unsigned probe_exec_max(const struct prober *p)
{
    return p->exec_max ? p->exec_max : PROBE_EXEC_MAX_DEFAULT;
}

static struct probe_exec_pool *probe_exec_pool(struct prober *p)
{
    if (!p->exec) {
        p->exec = calloc(1, sizeof(*p->exec));
        if (!p->exec)
            abort();
        p->exec->p = p;
    }
    return p->exec;
}

/* ---- the child, between fork and execve: async-signal-safe only ------ */

static void probe_exec_report(int fd, int stage, int err)
{
    int msg[2] = {stage, err};
    ssize_t n = write(fd, msg, sizeof(msg));
    (void)n;
    _exit(127);
}

struct probe_exec_plan {
    char **argv, **envp;
    bool switch_user;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t n_groups;
};

static void probe_exec_child_main(const struct probe_exec_plan *pl, int out_w, int err_w, int st_w)
{
    sigset_t none;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL); /* SIGKILL, SIGSTOP and glibc's own refuse: fine */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    /* Above 3 first, so that no dup2 below lands on one of them. */
    out_w = fcntl(out_w, F_DUPFD, 10);
    err_w = fcntl(err_w, F_DUPFD, 10);
    st_w = fcntl(st_w, F_DUPFD, 10);
    int nul = open("/dev/null", O_RDWR);
    if (out_w < 0 || err_w < 0 || st_w < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(out_w, 1) < 0 ||
        dup2(err_w, 2) < 0 || dup2(st_w, 3) < 0)
        _exit(127);
    close_range(4, ~0U, 0);
    fcntl(3, F_SETFD, FD_CLOEXEC);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (pl->switch_user &&
        (setgroups(pl->n_groups, pl->groups) != 0 || setresgid(pl->gid, pl->gid, pl->gid) != 0 ||
         setresuid(pl->uid, pl->uid, pl->uid) != 0))
        probe_exec_report(3, PROBE_EXEC_STAGE_USER, errno);
    if (chdir("/") != 0)
        probe_exec_report(3, PROBE_EXEC_STAGE_EXEC, errno);
    execve(pl->argv[0], pl->argv, pl->envp);
    probe_exec_report(3, PROBE_EXEC_STAGE_EXEC, errno);
}

/* ---- building the command line --------------------------------------- */

/* s with every "{address}", "{port}" and "{name}" replaced (malloc'd). */
static char *probe_exec_subst(const char *s, const char *const vals[3])
{
    static const char *const keys[3] = {"{address}", "{port}", "{name}"};
    size_t cap = strlen(s) + 1, n = 0;
    for (const char *c = s; *c; c++)
        if (*c == '{')
            for (int k = 0; k < 3; k++)
                if (strncmp(c, keys[k], strlen(keys[k])) == 0)
                    cap += strlen(vals[k]);
    char *out = malloc(cap);
    if (!out)
        abort();
    while (*s) {
        int hit = -1;
        for (int k = 0; *s == '{' && k < 3 && hit < 0; k++)
            if (strncmp(s, keys[k], strlen(keys[k])) == 0)
                hit = k;
        if (hit < 0) {
            out[n++] = *s++;
            continue;
        }
        memcpy(out + n, vals[hit], strlen(vals[hit]));
        n += strlen(vals[hit]);
        s += strlen(keys[hit]);
    }
    out[n] = 0;
    return out;
}

static char *probe_exec_env(const char *name, const char *val)
{
    size_t n = strlen(name) + strlen(val) + 2;
    char *e = malloc(n);
    if (!e)
        abort();
    snprintf(e, n, "%s=%s", name, val);
    return e;
}

/* argv and envp for pr (both malloc'd, NULL-ended; probe_exec_strv_free). */
static void probe_exec_build(const struct probe *pr, char ***argv, char ***envp)
{
    char addr[INET6_ADDRSTRLEN] = "", port[8];
    uint16_t po;
    if (pr->addr.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&pr->addr;
        inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
        po = ntohs(a->sin_port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&pr->addr;
        inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
        po = ntohs(a->sin6_port);
    }
    snprintf(port, sizeof(port), "%u", (unsigned)po);
    const char *vals[3] = {addr, port, pr->name[0] ? pr->name : addr};
    size_t n = 0;
    while (pr->spec->exec_argv[n])
        n++;
    *argv = calloc(n + 1, sizeof(char *));
    *envp = calloc(6, sizeof(char *));
    if (!*argv || !*envp)
        abort();
    for (size_t i = 0; i < n; i++)
        (*argv)[i] = probe_exec_subst(pr->spec->exec_argv[i], vals);
    (*envp)[0] = probe_exec_env("PATH", PROBE_EXEC_PATH);
    (*envp)[1] = probe_exec_env("HOME", "/");
    (*envp)[2] = probe_exec_env("GTMD_ADDRESS", addr);
    (*envp)[3] = probe_exec_env("GTMD_PORT", port);
    (*envp)[4] = probe_exec_env("GTMD_NAME", vals[2]);
}

static void probe_exec_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* ---- the parent's side ------------------------------------------------ */

static void probe_exec_unlink_wait(struct probe_exec_pool *pool, struct probe_exec *pe)
{
    if (!pe->waiting)
        return;
    if (pe->wprev)
        pe->wprev->wnext = pe->wnext;
    else
        pool->wait_head = pe->wnext;
    if (pe->wnext)
        pe->wnext->wprev = pe->wprev;
    else
        pool->wait_tail = pe->wprev;
    pe->wnext = pe->wprev = NULL;
    pe->waiting = false;
}

/* Reads what fd has (up to cap kept in buf, the rest dropped); false at
 * EOF or error. */
static bool probe_exec_drain(int fd, char *buf, size_t *len, size_t cap)
{
    char tmp[4096];
    for (int i = 0; i < 64; i++) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return false;
        if (n < 0)
            return errno == EAGAIN;
        size_t keep = *len < cap ? cap - *len : 0;
        keep = keep < (size_t)n ? keep : (size_t)n;
        memcpy(buf + *len, tmp, keep);
        *len += keep;
        buf[*len] = 0;
    }
    return true;
}

static void probe_exec_on_out(evutil_socket_t fd, short what, void *arg)
{
    struct probe_exec_child *c = arg;
    (void)what;
    bool out = fd == c->out_fd;
    if (!probe_exec_drain(fd, out ? c->out : c->err, out ? &c->out_len : &c->err_len,
                          out ? PROBE_EXEC_OUT_MAX : PROBE_EXEC_ERR_MAX))
        event_del(out ? c->ev_out : c->ev_err); /* EOF: the fd is closed at the reap */
}

/* The first line of text that is not a load= line, for a reason. */
static void probe_exec_line(const char *text, char *buf, size_t len)
{
    buf[0] = 0;
    for (const char *l = text; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        while (n && (l[n - 1] == '\r' || l[n - 1] == ' '))
            n--;
        if (n && strncmp(l, "load=", 5) != 0) {
            snprintf(buf, len, ": %.*s", (int)(n < len ? n : len - 1), l);
            for (char *c = buf; *c; c++)
                if ((unsigned char)*c < ' ' || *c == 0x7f)
                    *c = ' ';
            return;
        }
        l = e ? e + 1 : NULL;
    }
}

/* The value of a "load=X" line of stdout, or NAN. */
static double probe_exec_load(const char *out)
{
    for (const char *l = out; l && *l;) {
        if (strncmp(l, "load=", 5) == 0) {
            char *end;
            double v = strtod(l + 5, &end);
            if (end != l + 5 && (*end == 0 || *end == '\n' || *end == '\r' || *end == ' ') &&
                isfinite(v) && v >= 0)
                return v;
        }
        const char *e = strchr(l, '\n');
        l = e ? e + 1 : NULL;
    }
    return NAN;
}

/* The verdict from the program's end (status as from waitpid). */
static void probe_exec_judge(struct probe *pr, struct probe_exec_child *c, int status)
{
    int msg[2] = {0, 0};
    char line[96];
    probe_exec_line(c->err_len ? c->err : c->out, line, sizeof(line));
    if (read(c->status_fd, msg, sizeof(msg)) == (ssize_t)sizeof(msg) && msg[0]) {
        char why[80];
        probe_errno_reason(msg[1], why, sizeof(why));
        if (msg[0] == PROBE_EXEC_STAGE_USER)
            probe_fail(pr, HEALTH_FAIL_OTHER, "error: cannot run as user %s: %s",
                       pr->spec->exec_user ? pr->spec->exec_user : "?", why);
        else
            probe_fail(pr, HEALTH_FAIL_OTHER, "error: cannot execute %s: %s",
                       pr->spec->exec_argv[0], why);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        pr->res.load = probe_exec_load(c->out);
        probe_pass(pr);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
        probe_fail(pr, HEALTH_FAIL_STATUS, "exit 1%s", line);
    } else if (WIFEXITED(status)) {
        probe_fail(pr, HEALTH_FAIL_OTHER, "error: exit %d%s", WEXITSTATUS(status), line);
    } else {
        probe_fail(pr, HEALTH_FAIL_OTHER, "error: killed by signal %d%s",
                   WIFSIGNALED(status) ? WTERMSIG(status) : 0, line);
    }
}

static void probe_exec_child_free(struct probe_exec_child *c)
{
    struct probe_exec_pool *pool = c->pool;
    if (c->prev)
        c->prev->next = c->next;
    else
        pool->children = c->next;
    if (c->next)
        c->next->prev = c->prev;
    event_free(c->ev_exit);
    event_free(c->ev_out);
    event_free(c->ev_err);
    close(c->out_fd);
    close(c->err_fd);
    close(c->status_fd);
    if (c->pidfd >= 0)
        close(c->pidfd);
    pool->running--;
    free(c);
}

/* Kills what is left of c's group, then reaps c (it has exited, or is
 * about to after the SIGKILL); returns its wait status. */
static int probe_exec_reap(struct probe_exec_child *c, bool block)
{
    int status = 0;
    kill(-c->pid, SIGKILL);
    pid_t r;
    do
        r = waitpid(c->pid, &status, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    return r == c->pid ? status : -1;
}

static void probe_exec_pump(struct probe_exec_pool *pool);

static void probe_exec_on_exit(evutil_socket_t fd, short what, void *arg)
{
    struct probe_exec_child *c = arg;
    siginfo_t si;
    (void)fd;
    (void)what;
    /* Exited? Look without reaping: the group is killed while the leader's
     * id is still taken. */
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0)
        return;
    int status = probe_exec_reap(c, true);
    probe_exec_drain(c->out_fd, c->out, &c->out_len, PROBE_EXEC_OUT_MAX);
    probe_exec_drain(c->err_fd, c->err, &c->err_len, PROBE_EXEC_ERR_MAX);
    struct probe_exec *pe = c->owner;
    struct probe_exec_pool *pool = c->pool;
    if (pe) {
        pe->child = NULL;
        c->owner = NULL;
        probe_exec_judge(pe->pr, c, status);
    }
    probe_exec_child_free(c);
    probe_exec_pump(pool);
}

static int probe_exec_pipes(int out[2], int err[2], int st[2])
{
    out[0] = out[1] = err[0] = err[1] = st[0] = st[1] = -1;
    if (pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0 && pipe2(st, O_CLOEXEC) == 0 &&
        fcntl(out[0], F_SETFL, O_NONBLOCK) == 0 && fcntl(err[0], F_SETFL, O_NONBLOCK) == 0 &&
        fcntl(st[0], F_SETFL, O_NONBLOCK) == 0)
        return 0;
    int e = errno;
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
        if (st[i] >= 0)
            close(st[i]);
    }
    errno = e;
    return -1;
}

/* The user the program runs as; false (probe ended) when it would be root
 * without the check asking for it. */
static bool probe_exec_user(struct probe *pr, struct probe_exec_plan *pl)
{
    const struct probe_spec *s = pr->spec;
    pl->uid = s->exec_user ? (uid_t)s->exec_uid : geteuid();
    pl->gid = s->exec_user ? (gid_t)s->exec_gid : getegid();
    pl->groups = (const gid_t *)s->exec_groups;
    pl->n_groups = s->n_exec_groups;
    pl->switch_user = s->exec_user && (pl->uid != geteuid() || pl->gid != getegid());
    if (pl->uid == 0 && !s->exec_user) {
        probe_fail(pr, HEALTH_FAIL_OTHER,
                   "error: gtmd runs as root and the check has no \"user\": refusing to run "
                   "the program as root (\"user\": \"root\" to mean it)");
        return false;
    }
    return true;
}

static struct probe_exec_child *probe_exec_child_new(struct probe_exec *pe, pid_t pid, int out,
                                                     int err, int st)
{
    struct probe_exec_pool *pool = pe->pr->p->exec;
    struct event_base *base = pe->pr->p->base;
    struct probe_exec_child *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->pool = pool;
    c->owner = pe;
    c->pid = pid;
    c->out_fd = out;
    c->err_fd = err;
    c->status_fd = st;
    c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    c->ev_out = event_new(base, out, EV_READ | EV_PERSIST, probe_exec_on_out, c);
    c->ev_err = event_new(base, err, EV_READ | EV_PERSIST, probe_exec_on_out, c);
    c->ev_exit = event_new(base, c->pidfd, EV_READ | EV_PERSIST, probe_exec_on_exit, c);
    if (!c->ev_out || !c->ev_err || !c->ev_exit)
        abort();
    struct timeval poll = {0, PROBE_EXEC_POLL_MS * 1000};
    event_add(c->ev_out, NULL);
    event_add(c->ev_err, NULL);
    event_add(c->ev_exit, c->pidfd >= 0 ? NULL : &poll);
    c->next = pool->children;
    if (pool->children)
        pool->children->prev = c;
    pool->children = c;
    pool->running++;
    return c;
}

/* Starts pe's program now; on failure the probe has ended. */
static void probe_exec_spawn(struct probe_exec *pe)
{
    struct probe *pr = pe->pr;
    struct probe_exec_plan pl;
    int out[2], err[2], st[2];
    if (!probe_exec_user(pr, &pl))
        return;
    if (probe_exec_pipes(out, err, st) != 0) {
        char why[80];
        probe_errno_reason(errno, why, sizeof(why));
        probe_fail_local(pr, "cannot start probe: pipe: %s", why);
        return;
    }
    probe_exec_build(pr, &pl.argv, &pl.envp);
    pid_t pid = fork();
    if (pid == 0)
        probe_exec_child_main(&pl, out[1], err[1], st[1]);
    int e = errno;
    probe_exec_strv_free(pl.argv);
    probe_exec_strv_free(pl.envp);
    close(out[1]);
    close(err[1]);
    close(st[1]);
    if (pid < 0) {
        close(out[0]);
        close(err[0]);
        close(st[0]);
        char why[80];
        probe_errno_reason(e, why, sizeof(why));
        probe_fail_local(pr, "cannot start probe: fork: %s", why);
        return;
    }
    pe->child = probe_exec_child_new(pe, pid, out[0], err[0], st[0]);
    /* The program's timeout runs from its start, not from the wait. */
    uint32_t ms = pr->spec->timeout_ms ? pr->spec->timeout_ms : 1;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(pr->deadline, &tv);
}

/* Starts waiting probes while slots are free. */
static void probe_exec_pump(struct probe_exec_pool *pool)
{
    while (pool->wait_head && pool->running < probe_exec_max(pool->p)) {
        struct probe_exec *pe = pool->wait_head;
        probe_exec_unlink_wait(pool, pe);
        probe_exec_spawn(pe);
    }
}

static void probe_exec_stop(struct probe *pr)
{
    struct probe_exec *pe = pr->impl;
    if (!pe)
        return;
    probe_exec_unlink_wait(pr->p->exec, pe);
    if (pe->child) {
        /* Still running (a timeout, or the prober going away): killed now,
         * reaped from the loop when it is gone. */
        kill(-pe->child->pid, SIGKILL);
        pe->child->owner = NULL;
    }
    free(pe);
    pr->impl = NULL;
}

static const char *probe_exec_phase(const struct probe *pr)
{
    const struct probe_exec *pe = pr->impl;
    return pe && pe->waiting ? "waiting for a free exec slot" : "running the program";
}

static void probe_exec_deadline(struct probe *pr)
{
    struct probe_exec *pe = pr->impl;
    if (pe && pe->waiting) {
        probe_fail_local(pr,
                         "cannot start probe: waited %u ms for one of the %u exec_max_running "
                         "slots",
                         pr->spec->timeout_ms, probe_exec_max(pr->p));
        return;
    }
    pid_t pid = pe && pe->child ? pe->child->pid : 0;
    probe_fail(pr, HEALTH_FAIL_TIMEOUT, "timeout: program killed after %u ms (process group %d)",
               pr->spec->timeout_ms, (int)pid);
}

static const struct probe_ops probe_exec_ops = {probe_exec_stop, probe_exec_phase};

int probe_exec_start(struct probe *pr)
{
    struct probe_exec_pool *pool = probe_exec_pool(pr->p);
    struct probe_exec *pe = calloc(1, sizeof(*pe));
    if (!pe)
        abort();
    pe->pr = pr;
    pr->impl = pe;
    pr->ops = &probe_exec_ops;
    pr->on_deadline = probe_exec_deadline;
    if (pool->running < probe_exec_max(pr->p) && !pool->wait_head) {
        probe_exec_spawn(pe);
        return 0;
    }
    pe->waiting = true;
    pe->wprev = pool->wait_tail;
    if (pool->wait_tail)
        pool->wait_tail->wnext = pe;
    else
        pool->wait_head = pe;
    pool->wait_tail = pe;
    return 0;
}

/* At the prober's end: every program still running is killed and reaped
 * (they were sent SIGKILL, so the wait is short). */
void probe_exec_prober_free(struct prober *p)
{
    if (!p->exec)
        return;
    while (p->exec->children) {
        struct probe_exec_child *c = p->exec->children;
        probe_exec_reap(c, true);
        probe_exec_child_free(c);
    }
    free(p->exec);
    p->exec = NULL;
}
