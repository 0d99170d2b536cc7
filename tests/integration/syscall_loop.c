/* Workload for test_syscall_stack.py: a process that lives in one system call.
 *
 *   syscall_loop [SECONDS]
 *
 * Loops on getrandom(buf, 64 KiB, 0) for SECONDS of wall time. The system
 * call is made with an inline `syscall` instruction inside
 * getrandom_direct(), so that function, built with a frame pointer, is the
 * leaf user frame of every sample taken in the kernel: libc's wrapper has no
 * frame pointer and would hide its caller. The done line reports the user
 * and system CPU time (getrusage), for the test to show next to the profile.
 * Protocol with the harness: see workload.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "workload.h"

#define BUF_SIZE (64 * 1024)

static unsigned char buf[BUF_SIZE];
volatile uint64_t sink;

NOINLINE long getrandom_direct(void *p, unsigned long len,
							 unsigned int flags)
{
	KEEP_FRAME();
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_getrandom), "D"(p), "S"(len), "d"((long)flags)
			 : "rcx", "r11", "memory");
	return ret;
}

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ULL + (uint64_t)tv.tv_usec * 1000ULL;
}

int main(int argc, char **argv)
{
	double seconds = seconds_from_args(argc, argv, 1, 10.0);
	uint64_t calls = 0, bytes = 0;
	struct rusage r0, r1;

	printf("{\"event\":\"ready\",\"pids\":[%d]}\n", (int)getpid());
	fflush(stdout);
	wait_stdin_line();

	getrusage(RUSAGE_SELF, &r0);
	uint64_t end = wall_ns() + (uint64_t)(seconds * 1e9);
	while (wall_ns() < end) {
		for (int i = 0; i < 16; i++) {
			long n = getrandom_direct(buf, BUF_SIZE, 0);

			if (n < 0) {
				fprintf(stderr, "syscall_loop: getrandom: %ld\n", n);
				return 1;
			}
			bytes += (uint64_t)n;
			calls++;
		}
		sink += buf[calls % BUF_SIZE];
	}
	getrusage(RUSAGE_SELF, &r1);

	printf("{\"event\":\"done\",\"pid\":%d,\"calls\":%llu,\"bytes\":%llu,"
	       "\"user_ns\":%llu,\"sys_ns\":%llu}\n",
	       (int)getpid(), (unsigned long long)calls,
	       (unsigned long long)bytes,
	       (unsigned long long)(tv_ns(r1.ru_utime) - tv_ns(r0.ru_utime)),
	       (unsigned long long)(tv_ns(r1.ru_stime) - tv_ns(r0.ru_stime)));
	fflush(stdout);

	wait_stdin_eof();
	return 0;
}
