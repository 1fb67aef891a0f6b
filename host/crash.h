/* The crash report: on SIGSEGV, SIGBUS, SIGABRT or SIGFPE labd writes one
 * line to stderr naming the signal and the plugin whose code was running
 * (its callback on the loop, or its lab_work function on a worker), then
 * dies of the same signal with its default action (so core files and the
 * exit status stay what they would have been).  The handler only uses
 * write(2), sigaction(2) and raise(3): async-signal-safe.
 *
 * "Which plugin is running" is one thread-local pointer, set around every
 * call into plugin code by crash_enter()/crash_leave() — two stores, cheap
 * enough for every callback. */
#ifndef LAB_HOST_CRASH_H
#define LAB_HOST_CRASH_H

/* Installs the handlers (once, at start-up, before plugins load), on an
 * alternate signal stack so a stack overflow is reported too. */
void crash_install(void);

struct crash_frame {
	const char *plugin, *what;
};

/* The plugin `name` (must stay valid while its code runs) is entered for
 * `what` ("init", "timer", ...): returns the frame to restore, so nested
 * calls (a host call that runs another plugin's callback) unwind right. */
struct crash_frame crash_enter(const char *name, const char *what);
void crash_leave(struct crash_frame prev);

/* Calls one plugin function: CRASH_CALL(inst->name, "start", rc = desc->start(self)). */
#define CRASH_CALL(name, what, stmt)                                      \
	do {                                                              \
		struct crash_frame crash_prev_ = crash_enter((name), (what)); \
		stmt;                                                     \
		crash_leave(crash_prev_);                                 \
	} while (0)

#endif
