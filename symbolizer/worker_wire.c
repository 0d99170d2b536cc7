/* Framing for the parser worker's socket (see worker_wire.h).
 *
 * A stream, not SOCK_SEQPACKET: an unwind table is megabytes, more than a
 * socket buffer holds in one packet. The descriptors ride with the first
 * of the four length bytes, which recvmsg reads alone so that they are
 * never split from their message. */
#include "worker_wire.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t sym_wire_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Waits until sock is ready for events; -ETIMEDOUT past the deadline. */
static int wait_ready(int sock, short events, uint64_t deadline_ns)
{
	struct pollfd p = { .fd = sock, .events = events };
	int timeout_ms = -1, r;

	if (deadline_ns) {
		uint64_t now = sym_wire_now_ns();

		if (now >= deadline_ns)
			return -ETIMEDOUT;
		timeout_ms = (int)((deadline_ns - now + 999999) / 1000000);
	}
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return 0;
}

static int send_some(int sock, const uint8_t *buf, size_t len, const int *fds,
		     size_t nfds, uint64_t deadline_ns, size_t *sent)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SYM_WIRE_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int err;

	if (nfds) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return errno == ECONNRESET ? -EPIPE : -errno;
		err = wait_ready(sock, POLLOUT, deadline_ns);
		if (err)
			return err;
	}
	*sent = (size_t)n;
	return 0;
}

int sym_wire_send(int sock, const sym_wire_msg *m, const int *fds, size_t nfds,
		  uint64_t deadline_ns)
{
	size_t len = smolder__worker__worker_message__get_packed_size(m), off = 0;
	uint8_t *buf;
	int err = 0;

	if (len > SYM_WIRE_MAX_BYTES || nfds > SYM_WIRE_MAX_FDS)
		return -EMSGSIZE;
	buf = malloc(len + 4);
	if (!buf)
		return -ENOMEM;
	for (int i = 0; i < 4; i++)
		buf[i] = (uint8_t)(len >> (8 * i));
	smolder__worker__worker_message__pack(m, buf + 4);
	/* The descriptors go with the first byte alone (see above). */
	while (!err && off < len + 4) {
		size_t sent = 0, chunk = off == 0 ? 1 : len + 4 - off;

		err = send_some(sock, buf + off, chunk, off == 0 ? fds : NULL,
				off == 0 ? nfds : 0, deadline_ns, &sent);
		off += sent;
	}
	free(buf);
	return err;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* Takes the descriptors of one control message; any beyond max are
 * closed, and make the message a protocol error. */
static int take_fds(struct msghdr *mh, int *fds, size_t *nfds)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int *got;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		got = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, got + i, sizeof(fd));
			if (*nfds < SYM_WIRE_MAX_FDS)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
		if (n && *nfds == SYM_WIRE_MAX_FDS)
			return -EPROTO;
	}
	return (mh->msg_flags & MSG_CTRUNC) ? -EPROTO : 0;
}

/* Reads exactly len bytes; fds only with the first. */
static int recv_exact(int sock, uint8_t *buf, size_t len, uint64_t deadline_ns,
		      int *fds, size_t *nfds)
{
	size_t got = 0;

	while (got < len) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * SYM_WIRE_MAX_FDS)];
			struct cmsghdr align;
		} control;
		struct iovec iov = { .iov_base = buf + got, .iov_len = fds ? 1 : len - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;
		int err;

		if (fds) {
			mh.msg_control = control.buf;
			mh.msg_controllen = sizeof(control.buf);
		}
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			err = wait_ready(sock, POLLIN, deadline_ns);
			if (err)
				return err;
			continue;
		}
		if (n < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		if (n == 0)
			return -EPIPE;
		if (fds) {
			err = take_fds(&mh, fds, nfds);
			if (err)
				return err;
			fds = NULL;
		}
		got += (size_t)n;
	}
	return 0;
}

int sym_wire_recv(int sock, uint64_t start_deadline_ns, uint64_t deadline_ns,
		  sym_wire_msg **out, int fds[SYM_WIRE_MAX_FDS], size_t *nfds)
{
	uint8_t head[4], *body;
	size_t len = 0;
	int err;

	*out = NULL;
	*nfds = 0;
	err = recv_exact(sock, head, 1, start_deadline_ns, fds, nfds);
	if (err)
		goto fail;
	/* Begun, a message is read to its end: a stream cut in the middle
	 * of one is lost. */
	err = recv_exact(sock, head + 1, 3, deadline_ns, NULL, NULL);
	if (err)
		goto fail;
	for (int i = 0; i < 4; i++)
		len |= (size_t)head[i] << (8 * i);
	if (len > SYM_WIRE_MAX_BYTES) {
		err = -EMSGSIZE;
		goto fail;
	}
	body = malloc(len ? len : 1);
	if (!body) {
		err = -ENOMEM;
		goto fail;
	}
	err = recv_exact(sock, body, len, deadline_ns, NULL, NULL);
	if (!err) {
		*out = smolder__worker__worker_message__unpack(NULL, len, body);
		if (!*out)
			err = -EPROTO;
	}
	free(body);
	if (!err)
		return 0;
fail:
	close_fds(fds, *nfds);
	*nfds = 0;
	return err;
}

void sym_wire_free(sym_wire_msg *m)
{
	if (m)
		smolder__worker__worker_message__free_unpacked(m, NULL);
}
