/* clock.h: wall-clock and monotonic time. */
#ifndef CMAGENT_CLOCK_H
#define CMAGENT_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (wall clock). */
int64_t clock_now_ms(void);

/* Monotonic milliseconds, for durations (never jumps with the wall clock). */
int64_t clock_mono_ms(void);

/* Monotonic microseconds, for short durations such as a commit. */
int64_t clock_mono_us(void);

#endif
