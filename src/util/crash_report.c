/* crash_report.c: a backtrace on stderr when the process dies of a fatal signal. A crash on a
 * machine nobody watches (a CI run, a customer's box) otherwise leaves only "Aborted" and an exit
 * status; with the frames (function+offset, or module+offset for static functions: `addr2line -e
 * cmagent -f OFFSET` names them) the next occurrence tells where it happened. The handler uses only
 * async-signal-safe calls (write, backtrace_symbols_fd after a warm-up, sigaction, raise). */
#include "cmagent/crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define CRASH_FRAMES 64

static const char *crash_program = "cmagent";
static volatile sig_atomic_t crash_in_progress;

static void write_text(const char *s)
{
    ssize_t ignored = write(STDERR_FILENO, s, strlen(s));
    (void)ignored;
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV (invalid memory access)";
    case SIGBUS: return "SIGBUS (bus error)";
    case SIGILL: return "SIGILL (illegal instruction)";
    case SIGFPE: return "SIGFPE (arithmetic error)";
    case SIGABRT: return "SIGABRT (abort: an assertion or a heap check failed)";
    default: return "a fatal signal";
    }
}

static void on_fatal_signal(int sig)
{
    void *frames[CRASH_FRAMES];
    if (!crash_in_progress) {
        crash_in_progress = 1;
        write_text(crash_program);
        write_text(": fatal ");
        write_text(signal_name(sig));
        write_text("; backtrace of the thread that received it:\n");
        int n = backtrace(frames, CRASH_FRAMES);
        backtrace_symbols_fd(frames, n, STDERR_FILENO);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Under AddressSanitizer its own handlers report a SIGSEGV, SIGBUS or SIGFPE better (the access,
 * the allocation): those are left to it; it does not handle SIGABRT. */
#if defined(__SANITIZE_ADDRESS__)
#define CRASH_REPORT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRASH_REPORT_SANITIZED 1
#endif
#endif

#ifdef CRASH_REPORT_SANITIZED
static const int fatal_signals[] = { SIGABRT };
#else
static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
#endif

void crash_report_install(const char *program)
{
    void *warm[1];
    struct sigaction sa;

    crash_program = program;
    backtrace(warm, 1); /* loads libgcc's unwinder now: the handler must not allocate */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaction(fatal_signals[i], &sa, NULL);
}
