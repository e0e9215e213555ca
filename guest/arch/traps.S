/*
 * Exception entry stubs for vectors 0..31.  Each stub is 16 bytes long, so
 * traps.c finds stub N at trap_stubs + N * 16.  Vectors without a hardware
 * error code push a zero so that every frame looks the same; the common
 * path saves the general registers and hands the frame to trap_handle().
 */
	.text
	.balign 16
	.globl	trap_stubs
trap_stubs:
	.set	vec, 0
	.rept	32
	.balign 16
	.if	!(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
	pushq	$0
	.endif
	pushq	$vec
	jmp	trap_common
	.set	vec, vec + 1
	.endr

trap_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	call	trap_handle
1:	cli
	hlt
	jmp	1b

/*
 * The event-channel upcall (HVM callback vector): saves the registers a C
 * call may clobber, runs evtchn_upcall() and returns to the interrupted
 * code.  The CPU aligned the stack to 16 and pushed 5 words; 9 more keep
 * it aligned for the call.
 */
	.globl	upcall_stub
upcall_stub:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	cld
	call	evtchn_upcall
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax
	iretq

	.section .note.GNU-stack, "", @progbits
