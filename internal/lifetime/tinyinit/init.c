/*
 * ccci's tiny init: PID 1 of a run's PID namespace (MODE "ns"), for
 * linux/amd64. It mirrors InitMain's ns mode in init_linux.go, so that a
 * run pays for one small static exec instead of a second start of the
 * whole ccci binary. Freestanding: no libc, raw syscalls, one page or two.
 *
 * argv: ccci __ccci_init PROG MODE GRACE COMMAND [ARG...]
 * fds:  0-2 stdio, 3 the race pipe's read end, 4 this program's memfd.
 *
 * Built by gen.sh into ../tinyinit_amd64.go; TestTinyInitGenerated proves
 * the committed bytes come from this file.
 */

typedef unsigned long u64;
typedef long i64;

enum {
	SYS_read = 0, SYS_write = 1, SYS_close = 3, SYS_poll = 7,
	SYS_rt_sigprocmask = 14, SYS_getpid = 39, SYS_fork = 57,
	SYS_execve = 59, SYS_wait4 = 61, SYS_kill = 62, SYS_setpgid = 109,
	SYS_clock_gettime = 228, SYS_exit_group = 231, SYS_newfstatat = 262,
	SYS_ppoll = 271, SYS_signalfd4 = 289, SYS_faccessat2 = 439,
};

enum {
	EPERM = 1, ENOENT = 2, EIO = 5, E2BIG = 7, ENOEXEC = 8, ECHILD = 10,
	EAGAIN = 11, ENOMEM = 12, EACCES = 13, ETXTBSY = 26, ENOTDIR = 20,
	EISDIR = 21, ENAMETOOLONG = 36, ENOSYS = 38, ELOOP = 40,
};

enum { SIGHUP = 1, SIGINT = 2, SIGKILL = 9, SIGPIPE = 13, SIGTERM = 15,
       SIGCHLD = 17, SIGCONT = 18 };

#define RACE_FD 3
#define SELF_FD 4
#define STATUS_SIGNAL 128
#define STATUS_CANNOT_RUN 126
#define DEFAULT_GRACE_NS 10000000000UL /* lifetime.DefaultGrace */

static i64 sys6(i64 n, i64 a, i64 b, i64 c, i64 d, i64 e, i64 f)
{
	register i64 r10 __asm__("r10") = d;
	register i64 r8 __asm__("r8") = e;
	register i64 r9 __asm__("r9") = f;
	i64 ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#define sys(n, a, b, c) sys6(n, (i64)(a), (i64)(b), (i64)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, (i64)(a), (i64)(b), (i64)(c), (i64)(d), 0, 0)

__attribute__((noreturn)) static void exit_group(int st)
{
	for (;;)
		sys(SYS_exit_group, st, 0, 0);
}

/* gcc may emit calls to these even freestanding. */
void *memset(void *d, int c, u64 n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, u64 n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

static u64 slen(const char *s)
{
	u64 n = 0;
	while (s[n])
		n++;
	return n;
}

static int hasprefix(const char *s, const char *p)
{
	while (*p)
		if (*s++ != *p++)
			return 0;
	return 1;
}

static int streq(const char *a, const char *b)
{
	return hasprefix(a, b) && a[slen(b)] == 0;
}

/* One message line, built then written in one write(2). */
static char msg[4096];
static u64 mlen;

static void put(const char *s)
{
	while (*s && mlen < sizeof msg - 1)
		msg[mlen++] = *s++;
}

static void putnum(u64 v)
{
	char b[24];
	int i = sizeof b - 1;
	b[i] = 0;
	do
		b[--i] = '0' + v % 10;
	while (v /= 10);
	put(b + i);
}

static void flush(void)
{
	msg[mlen++] = '\n';
	sys(SYS_write, 2, msg, mlen);
	mlen = 0;
}

/* Go's syscall.Errno strings, for the errors a start can meet. */
static void puterr(i64 e)
{
	static const struct { short n; const char *s; } t[] = {
		{EPERM, "operation not permitted"}, {ENOENT, "no such file or directory"},
		{EIO, "input/output error"}, {E2BIG, "argument list too long"},
		{ENOEXEC, "exec format error"}, {EAGAIN, "resource temporarily unavailable"},
		{ENOMEM, "cannot allocate memory"}, {EACCES, "permission denied"},
		{ETXTBSY, "text file busy"}, {ENOTDIR, "not a directory"},
		{EISDIR, "is a directory"}, {ENAMETOOLONG, "file name too long"},
		{ELOOP, "too many levels of symbolic links"},
	};
	for (u64 i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].n == e) {
			put(t[i].s);
			return;
		}
	put("errno ");
	putnum(e);
}

/*
 * parsegrace reads the subset of Go's time.ParseDuration that
 * Duration.String produces ("10s", "1.5s", "250ms", "1m0s", "1h2m3.5s",
 * "1.5µs", "100ns"); anything else is DefaultGrace, as InitMain does.
 */
static u64 parsegrace(const char *s)
{
	static const struct { const char *u; u64 ns; } units[] = {
		{"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"ms", 1000000},
		{"s", 1000000000}, {"m", 60000000000UL}, {"h", 3600000000000UL},
	};
	u64 total = 0;
	if (streq(s, "0"))
		return 0;
	if (!*s)
		return DEFAULT_GRACE_NS;
	while (*s) {
		u64 whole = 0, frac = 0, scale = 1;
		int digits = 0;
		for (; *s >= '0' && *s <= '9'; s++, digits++)
			whole = whole * 10 + (*s - '0');
		if (*s == '.') {
			for (s++; *s >= '0' && *s <= '9'; s++, digits++)
				if (scale < 1000000000000000000UL) {
					frac = frac * 10 + (*s - '0');
					scale *= 10;
				}
		}
		if (!digits)
			return DEFAULT_GRACE_NS;
		u64 i, n = sizeof units / sizeof units[0], best = n, blen = 0;
		for (i = 0; i < n; i++) {
			u64 l = slen(units[i].u);
			if (l > blen && hasprefix(s, units[i].u))
				best = i, blen = l;
		}
		if (best == n)
			return DEFAULT_GRACE_NS;
		s += blen;
		total += whole * units[best].ns + frac * units[best].ns / scale;
	}
	return total;
}

struct timespec { i64 sec, nsec; };

static u64 now(void)
{
	struct timespec t;
	sys(SYS_clock_gettime, 1 /* CLOCK_MONOTONIC */, &t, 0);
	return (u64)t.sec * 1000000000UL + (u64)t.nsec;
}

struct pollfd { int fd; short events, revents; };

/* The parent held the race pipe's only write end: POLLHUP means it died
 * before our Pdeathsig was armed (InitMain's parentGone). */
static int parentgone(void)
{
	struct pollfd p = {RACE_FD, 0, 0};
	return sys(SYS_poll, &p, 1, 0) > 0 && (p.revents & (0x10 | 0x08));
}

/* Go's exec.LookPath: a name with a slash as is, else each entry of PATH
 * from the environment ("" is "."). findexec returns 0 or a negative errno;
 * statfailed says the errno came from stat, whose message Go prefixes. */
static char pathbuf[4096];
static int statfailed;

static i64 findexec(const char *file)
{
	struct { u64 dev, ino, nlink; unsigned mode; char rest[116]; } st;
	i64 e = sys4(SYS_newfstatat, -100 /* AT_FDCWD */, file, &st, 0);
	statfailed = e < 0;
	if (e < 0)
		return e;
	if ((st.mode & 0170000) == 0040000)
		return -EISDIR;
	e = sys4(SYS_faccessat2, -100, file, 1 /* X_OK */, 0x200 /* AT_EACCESS */);
	if (e == 0 || (e != -ENOSYS && e != -EPERM))
		return e;
	return (st.mode & 0111) ? 0 : -EACCES;
}

/* lookpath sets *err to a negative errno for a name with a slash, or 1 for
 * "executable file not found in $PATH". */
static const char *lookpath(const char *file, char **envp, i64 *err)
{
	const char *path = 0;
	*err = 1;
	if (streq(file, "") || streq(file, ".") || streq(file, ".."))
		return 0;
	for (const char *s = file; *s; s++)
		if (*s == '/') {
			*err = findexec(file);
			return *err ? 0 : file;
		}
	for (char **e = envp; *e; e++)
		if (hasprefix(*e, "PATH="))
			path = *e + 5; /* the last one wins, as os.Getenv */
	if (!path || !*path)
		return 0; /* filepath.SplitList("") is empty */
	u64 fl = slen(file);
	for (const char *d = path;;) {
		const char *end = d;
		while (*end && *end != ':')
			end++;
		u64 n = (u64)(end - d);
		const char *dir = n ? d : ".";
		n = n ? n : 1;
		if (n + fl + 2 <= sizeof pathbuf) {
			memcpy(pathbuf, dir, n);
			pathbuf[n] = '/';
			memcpy(pathbuf + n + 1, file, fl + 1);
			if (findexec(pathbuf) == 0)
				return pathbuf;
		}
		if (!*end)
			return 0;
		d = end + 1;
	}
}

/* signalAll: SIGTERM is followed by SIGCONT so that a stopped process can
 * act on it. As PID 1, kill(-1) reaches everyone in the namespace but us. */
static void signalall(int sig)
{
	sys(SYS_kill, -1, sig, 0);
	if (sig == SIGTERM)
		sys(SYS_kill, -1, SIGCONT, 0);
}

static int waitstatus(int ws)
{
	if ((ws & 0x7f) == 0)
		return (ws >> 8) & 0xff;
	if (((ws & 0x7f) + 1) >> 1 > 0) /* killed by a signal */
		return STATUS_SIGNAL + (ws & 0x7f);
	return STATUS_CANNOT_RUN;
}

__attribute__((used)) void cmain(i64 *sp)
{
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1), **envp = argv + argc + 1;

	sys(SYS_close, SELF_FD, 0, 0); /* our own memfd: never the command's */
	if (argc == 3 && streq(argv[1], "__ccci_grace")) {
		/* For TestTinyInitGrace only: print the parsed grace. */
		putnum(parsegrace(argv[2]));
		flush();
		exit_group(0);
	}
	if (argc < 6) {
		put("ccci: __ccci_init is for ccci's own use");
		flush();
		exit_group(2);
	}
	const char *prog = argv[2];
	if (!streq(argv[3], "ns") || sys(SYS_getpid, 0, 0, 0) != 1) {
		/* kill(-1) outside a namespace would signal every process we
		 * may signal: refuse (TestTinyInit/not_pid_1). MODE "pg" is
		 * the Go init's alone. */
		put("ccci: __ccci_init: not PID 1 of a new PID namespace; refusing");
		flush();
		exit_group(2);
	}
	u64 grace = parsegrace(argv[4]);
	char **cmd = argv + 5;
	if (parentgone())
		exit_group(STATUS_SIGNAL + SIGKILL); /* nothing was started */

	u64 mask = 1UL << (SIGTERM - 1) | 1UL << (SIGINT - 1) |
		   1UL << (SIGHUP - 1) | 1UL << (SIGCHLD - 1), old = 0;
	/* SIGPIPE blocked too: a vanished stderr reader gives EPIPE. */
	u64 block = mask | 1UL << (SIGPIPE - 1);
	sys4(SYS_rt_sigprocmask, 0 /* SIG_BLOCK */, &block, &old, 8);
	int sfd = (int)sys4(SYS_signalfd4, -1, &mask, 8, 02000000 /* SFD_CLOEXEC */);
	if (sfd < 0) {
		put(prog);
		put(": signalfd: ");
		puterr(-sfd);
		flush();
		exit_group(STATUS_CANNOT_RUN);
	}
	/* Closing the race pipe tells Run we take SIGTERM now (awaitInit):
	 * the kernel drops a signal PID 1 neither catches nor blocks. */
	sys(SYS_close, RACE_FD, 0, 0);

	i64 err;
	const char *path = lookpath(cmd[0], envp, &err);
	if (!path) {
		put(prog);
		put(": exec ");
		put(cmd[0]);
		put(": ");
		if (err == 1) {
			put("executable file not found in $PATH");
			err = -ENOENT;
		} else {
			if (statfailed) { /* os.Stat's *PathError */
				put("stat ");
				put(cmd[0]);
				put(": ");
			}
			puterr(-err);
		}
		flush();
		exit_group(err == -ENOENT ? 127 : STATUS_CANNOT_RUN);
	}

	i64 pid = sys(SYS_fork, 0, 0, 0);
	if (pid == 0) {
		sys(SYS_setpgid, 0, 0, 0);
		sys4(SYS_rt_sigprocmask, 2 /* SIG_SETMASK */, &old, 0, 8);
		i64 e = sys(SYS_execve, path, cmd, envp);
		put(prog);
		put(": exec ");
		for (char **a = cmd; *a; a++) {
			if (a != cmd)
				put(" ");
			put(*a);
		}
		put(": ");
		puterr(-e);
		flush();
		exit_group(e == -ENOENT ? 127 : STATUS_CANNOT_RUN);
	}
	if (pid < 0) {
		put(prog);
		put(": exec ");
		put(cmd[0]);
		put(": ");
		puterr(-pid);
		flush();
		exit_group(STATUS_CANNOT_RUN);
	}
	/* Closes the race where we forward a signal before the child's own
	 * setpgid. */
	sys(SYS_setpgid, pid, pid, 0);

	int status = -1, killed = 0;
	u64 killat = 0; /* 0: no SIGKILL pending */
	for (;;) {
		int ws;
		i64 r;
		while ((r = sys4(SYS_wait4, -1, &ws, 1 /* WNOHANG */, 0)) > 0) {
			if (r == pid) {
				status = waitstatus(ws);
				/* End what the command left running, as
				 * systemd does with a unit's cgroup. */
				if (!killat && !killed) {
					signalall(SIGTERM);
					killat = now() + grace;
				}
			} else if (killed) {
				signalall(SIGKILL); /* orphans of the killed */
			}
		}
		if (r == -ECHILD)
			exit_group(status < 0 ? STATUS_CANNOT_RUN : status);

		struct timespec ts, *tp = 0;
		if (killat) {
			u64 t = now();
			if (t >= killat) {
				killat = 0, killed = 1;
				signalall(SIGKILL);
				continue;
			}
			ts.sec = (i64)((killat - t) / 1000000000UL);
			ts.nsec = (i64)((killat - t) % 1000000000UL);
			tp = &ts;
		}
		struct pollfd p = {sfd, 1 /* POLLIN */, 0};
		if (sys4(SYS_ppoll, &p, 1, tp, 0) <= 0)
			continue;
		struct { unsigned signo; char rest[124]; } si;
		if (sys(SYS_read, sfd, &si, sizeof si) != sizeof si)
			continue;
		if (si.signo == SIGINT || si.signo == SIGHUP) {
			sys(SYS_kill, -pid, si.signo, 0);
		} else if (si.signo == SIGTERM && !killat && !killed) {
			signalall(SIGTERM);
			killat = now() + grace;
		}
		/* SIGCHLD: the wait4 loop above reaps. */
	}
}

__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call cmain\n"
	"	hlt\n");
