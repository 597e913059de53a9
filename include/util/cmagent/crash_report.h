/* crash_report.h: what the process says when it dies of a fatal signal. */
#ifndef CMAGENT_CRASH_REPORT_H
#define CMAGENT_CRASH_REPORT_H

/* Installs handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT (glibc's heap checks abort)
 * that write the signal and the thread's backtrace to stderr, then die of the same signal with its
 * default action, so the exit status and any core dump stay what they would have been (under
 * AddressSanitizer, SIGABRT only: it reports the others itself). The first
 * call loads the unwinder, so nothing is allocated in the handler. */
void crash_report_install(const char *program);

#endif
