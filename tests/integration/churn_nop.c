/* churn_nop, for test_churn.py: one process of the storm, which exits at
 * once. No libc (-nostdlib -static, see meson.build): a 9 KB executable
 * whose whole life is exec and exit(0), so the launcher reaches thousands of
 * processes a second where a static glibc program reaches about 1500 on a
 * busy 2-CPU machine. */
void _start(void);

void _start(void)
{
	__asm__ volatile("mov $60, %eax\n\t" /* SYS_exit */
			 "xor %edi, %edi\n\t"
			 "syscall");
	__builtin_unreachable();
}
