/* Python frames: what the sampling program needs to find the Python frames
 * of the sampled thread (bpf/python.bpf.h), and what it leaves for the
 * agent to name (symbolizer/python_*.c, in the parser worker).
 *
 * The agent writes one smolder_py_proc per Python process: where the
 * interpreter's _PyRuntime is in that process, and the offsets of the
 * fields the walk reads in that interpreter's version. The walk finds the
 * thread's PyThreadState by matching its thread_id (pthread_self(): on
 * glibc and musl, the thread pointer, which is the task's fsbase) in the
 * main interpreter's thread list, so a thread that released the GIL is
 * found as well as one holding it. Then it follows the frame chain, leaf
 * first, and keeps per frame the code object's address, the byte offset of
 * the instruction in its bytecode, and a tag read from the code object, so
 * that a code object freed and its memory reused by another is told apart
 * when it is named.
 */
#ifndef SMOLDER_BPF_PYTHON_H
#define SMOLDER_BPF_PYTHON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SMOLDER_PY_MAX_FRAMES 127
#define SMOLDER_PY_MAX_THREADS 256 /* the thread list is walked this far */
#define SMOLDER_PY_PROCS_MAX 4096
#define SMOLDER_PY_FIELD_NONE 0xffff

/* How the frame's instruction is kept, by version. */
enum smolder_py_lasti {
	SMOLDER_PY_LASTI_BYTES = 0,  /* 3.8, 3.9: int f_lasti, a byte offset */
	SMOLDER_PY_LASTI_UNITS,      /* 3.10: int f_lasti, in 2-byte code units */
	SMOLDER_PY_LASTI_PREV_INSTR, /* 3.11, 3.12: prev_instr, the last one begun */
	SMOLDER_PY_LASTI_INSTR_PTR,  /* 3.13: instr_ptr, the one running or next */
};

/* Offsets (bytes) of the fields the walk reads; SMOLDER_PY_FIELD_NONE
 * where a version has no such field. */
struct smolder_py_offsets {
	__u16 runtime_interp_head;  /* _PyRuntimeState.interpreters.head */
	__u16 interp_tstate_head;   /* PyInterpreterState.tstate_head (3.8-3.10), threads.head */
	__u16 tstate_next;          /* PyThreadState.next */
	__u16 tstate_thread_id;     /* PyThreadState.thread_id (pthread_self()) */
	__u16 tstate_frame;         /* .frame (3.8-3.10), .cframe (3.11, 3.12), .current_frame (3.13) */
	__u16 cframe_current_frame; /* _PyCFrame.current_frame (3.11, 3.12); NONE elsewhere */
	__u16 frame_back;           /* PyFrameObject.f_back, _PyInterpreterFrame.previous */
	__u16 frame_code;           /* .f_code, 3.13's .f_executable */
	__u16 frame_lasti;          /* .f_lasti, .prev_instr, .instr_ptr */
	__u16 frame_owner;          /* _PyInterpreterFrame.owner (3.11+); NONE before */
	__u16 frame_is_entry;       /* _PyInterpreterFrame.is_entry (3.11 only) */
	__u16 code_adaptive;        /* PyCodeObject.co_code_adaptive (3.11+): the bytecode */
	__u16 code_firstlineno;     /* PyCodeObject.co_firstlineno (int) */
	__u16 code_name;            /* PyCodeObject.co_name (a str's address) */
	__u16 code_filename;        /* PyCodeObject.co_filename */
	__u8 lasti;                 /* enum smolder_py_lasti */
	__u8 pad;
	/* What the walk reads at once (one read is most of a read's cost):
	 * a frame's first frame_read bytes, which hold every frame field
	 * above; code_read bytes of a code object from code_read_from, which
	 * hold co_firstlineno, co_name and co_filename. Each at most
	 * SMOLDER_PY_READ_MAX, the fields within. */
	__u16 frame_read;
	__u16 code_read_from;
	__u16 code_read;
};

#define SMOLDER_PY_READ_MAX 128

/* _PyInterpreterFrame.owner's values (3.11+): a frame a C function pushed
 * to mark where an evaluation loop began (3.12+), not Python code. */
#define SMOLDER_PY_OWNED_BY_CSTACK 3

struct smolder_py_proc {
	__u64 start_ticks; /* the process these are of */
	__u64 runtime;     /* the address of _PyRuntime in the process */
	__u32 version;     /* major << 8 | minor */
	__u32 pad;
	struct smolder_py_offsets off;
};

/* A frame's instr: the byte offset of its instruction in co_code (3.8 -
 * 3.10) or co_code_adaptive (3.11+); SMOLDER_PY_INSTR_NONE when it has not
 * begun. */
#define SMOLDER_PY_INSTR_NONE 0x7fffffff
/* The tag's low bit: this frame is the outermost of one evaluation loop's
 * (one _PyEval_EvalFrameDefault call's) frames: the frames up to here
 * (from the leaf, or from the last one so marked) belong where the native
 * walk passed through that call. */
#define SMOLDER_PY_TAG_ENTRY 1u

struct smolder_py_frame {
	__u64 code;  /* PyCodeObject address */
	__s32 instr; /* see SMOLDER_PY_INSTR_NONE */
	__u32 tag;   /* a hash of co_firstlineno, co_name's and co_filename's
		      * addresses, with bit 0 SMOLDER_PY_TAG_ENTRY */
};

/* How a walk of the Python frames ended. */
enum smolder_py_end {
	SMOLDER_PY_END_WHOLE = 0,   /* the thread's first frame reached */
	SMOLDER_PY_END_TRUNCATED,   /* SMOLDER_PY_MAX_FRAMES, more to go */
	SMOLDER_PY_END_READ,        /* a frame could not be read */
	SMOLDER_PY_END_COUNT,
};

/* The Python frames of a sample, leaf first, in the py_stacks map of its
 * generation under a hash of its frames (never 0). */
struct smolder_py_stack {
	__u32 len;
	__u32 end; /* enum smolder_py_end */
	struct smolder_py_frame frames[SMOLDER_PY_MAX_FRAMES];
};

#endif
