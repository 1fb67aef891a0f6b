/* See crash.h. */
#include "crash.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Thread-local with the initial-exec model (labd is the executable), so
 * reading it from a signal handler never allocates. */
static _Thread_local struct crash_frame current;

static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE };
static struct sigaction previous[sizeof crash_signals / sizeof crash_signals[0]];

struct crash_frame crash_enter(const char *name, const char *what)
{
	struct crash_frame prev = current;
	current.plugin = name;
	current.what = what;
	/* A compiler barrier: the frame is written before the plugin's code runs. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return prev;
}

void crash_leave(struct crash_frame prev)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	current = prev;
}

/* ---- the handler: async-signal-safe only ---- */

struct line {
	char b[256];
	size_t n;
};

static void put(struct line *l, const char *s)
{
	/* Names come from the config ([a-z0-9_]+), but stay bounded anyway. */
	for (size_t i = 0; s && s[i] && i < 80 && l->n < sizeof l->b - 1; i++)
		l->b[l->n++] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
}

static void put_int(struct line *l, int v)
{
	char d[12];
	int k = 0;
	unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
	do
		d[k++] = (char)('0' + u % 10);
	while ((u /= 10) && k < 11);
	if (v < 0)
		put(l, "-");
	while (k && l->n < sizeof l->b - 1)
		l->b[l->n++] = d[--k];
}

static const char *signame(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	case SIGABRT: return "SIGABRT";
	case SIGFPE: return "SIGFPE";
	default: return "signal";
	}
}

static void on_crash(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	struct line l = { .n = 0 };
	struct crash_frame f = current;
	put(&l, "labd: fatal ");
	put(&l, signame(sig));
	put(&l, " (signal ");
	put_int(&l, sig);
	put(&l, ")");
	if (f.plugin) {
		put(&l, " in plugin '");
		put(&l, f.plugin);
		put(&l, "' (");
		put(&l, f.what ? f.what : "callback");
		put(&l, ")");
	} else {
		put(&l, " in labd itself (no plugin code was running on this thread)");
	}
	put(&l, "; dumping core if enabled");
	l.b[l.n++] = '\n'; /* put() keeps one byte free for it */
	ssize_t w = write(STDERR_FILENO, l.b, l.n);
	(void)w;
	/* Back to what was there before (the default, or a sanitizer's
	 * handler), then die of the same signal: a fault re-executes on return,
	 * a sent signal (abort, kill) is raised again. */
	for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
		if (crash_signals[i] == sig)
			sigaction(sig, &previous[i], NULL);
	if (info->si_code <= 0 || sig == SIGABRT)
		raise(sig);
}

void crash_install(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	/* An alternate stack (the loop thread's), so a stack overflow in a
	 * plugin is reported too.  Static: it lives as long as the process. */
	static char altstack[64 * 1024];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
	(void)sigaltstack(&ss, NULL);
	for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_crash;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		sigaction(crash_signals[i], &sa, &previous[i]);
	}
}
