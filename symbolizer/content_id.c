/* Content ids (content_id.h): SHA-256 through OpenSSL's EVP interface,
 * fed from pread in blocks, so a file of any size costs one buffer. An
 * attacker chooses the bytes (a container's file that copies another's
 * build-id note), so the digest must resist collisions: a CRC or a
 * non-cryptographic hash would let a hostile file take another's id.
 *
 * What is hashed is the file as the descriptor reads it at this moment;
 * the parser reads it again afterwards. A writer racing the reader (the
 * file's owner rewriting it in place between the two) could make the
 * tables come from other bytes than the id: the id says what the file
 * held when it was hashed, not a snapshot of what was parsed. */
#include "content_id.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "refusals.h"

/* Large enough that the syscalls cost nothing next to the digest. */
#define READ_BLOCK (256u << 10)

static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	/* Kept for the process's life: fetched once, used by every call. */
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int sym_content_id_init(void)
{
	pthread_once(&sha256_once, fetch_sha256);
	return sha256 ? 0 : -ENOSYS;
}

bool sym_content_id_valid(const char *s)
{
	return s && strlen(s) == SYM_CONTENT_ID_LEN &&
	       strspn(s, "0123456789abcdef") == SYM_CONTENT_ID_LEN;
}

/* 0 when the file ends at size; -EIO when it grew while read. */
static int hash_end(int fd, uint64_t size, unsigned char *buf)
{
	ssize_t n = pread(fd, buf, 1, (off_t)size);

	return n == 0 ? 0 : n < 0 ? -errno : -EIO;
}

/* Feeds [off, end) of the file, all data, to ctx; -EIO when the file
 * ends before it. The blocks read are let go of from the page cache (a
 * page some process maps stays): the agent's memory cgroup is charged for
 * what it reads, and a file hashed is read once. */
static int hash_data(EVP_MD_CTX *ctx, int fd, uint64_t off, uint64_t end, unsigned char *buf)
{
	ssize_t n;

	while (off < end) {
		size_t want = end - off < READ_BLOCK ? (size_t)(end - off) : READ_BLOCK;

		n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* shrunk while read */
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			return -ENOMEM;
		posix_fadvise(fd, (off_t)off, n, POSIX_FADV_DONTNEED);
		off += (uint64_t)n;
	}
	return 0;
}

/* A hole goes into the digest as its place and length, not as the zeros
 * it reads as: a sparse file claiming gigabytes (a hostile symbol table's
 * size) costs nothing to hash, and is still told apart from any other. */
static int hash_hole(EVP_MD_CTX *ctx, uint64_t off, uint64_t end)
{
	uint64_t rec[3] = { 0x686f6c65686f6c65ULL /* "holehole" */, off, end - off };

	return EVP_DigestUpdate(ctx, rec, sizeof(rec)) ? 0 : -ENOMEM;
}

/* Feeds the file's size bytes to ctx, data and holes; -EIO when it holds
 * fewer or more. */
static int hash_file(EVP_MD_CTX *ctx, int fd, uint64_t size, unsigned char *buf)
{
	uint64_t off = 0;
	bool hole_known = true;
	int err = 0;

	while (!err && off < size) {
		off_t data = lseek(fd, (off_t)off, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			data = (off_t)size; /* a hole to the end */
		else if (data < 0) { /* no SEEK_DATA here: all of it is data */
			data = (off_t)off;
			hole_known = false;
		}
		if ((uint64_t)data > size)
			data = (off_t)size;
		if ((uint64_t)data > off)
			err = hash_hole(ctx, off, (uint64_t)data);
		off = (uint64_t)data;
		if (err || off >= size)
			break;
		hole = hole_known ? lseek(fd, (off_t)off, SEEK_HOLE) : (off_t)size;
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		err = hash_data(ctx, fd, off, (uint64_t)hole, buf);
		off = (uint64_t)hole;
	}
	return err ? err : hash_end(fd, size, buf);
}

int sym_content_id_fd(int fd, char hex[SYM_CONTENT_ID_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE], *buf = NULL;
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	struct stat st;
	int err;

	hex[0] = '\0';
	err = sym_content_id_init();
	if (err)
		return err;
	if (fstat(fd, &st))
		return -errno;
	/* A sparse file may claim terabytes: over the cap it is not read. */
	if (st.st_size < 0 || (uint64_t)st.st_size > SYM_CONTENT_HASH_MAX)
		return -EFBIG;
	buf = malloc(READ_BLOCK);
	ctx = EVP_MD_CTX_new();
	err = buf && ctx && EVP_DigestInit_ex2(ctx, sha256, NULL) ? 0 : -ENOMEM;
	if (!err) {
		/* The seeks for holes move the offset, which a reader after us
		 * may rely on. */
		off_t at = lseek(fd, 0, SEEK_CUR);

		err = hash_file(ctx, fd, (uint64_t)st.st_size, buf);
		if (at >= 0)
			lseek(fd, at, SEEK_SET);
	}
	if (!err && (!EVP_DigestFinal_ex(ctx, md, &mdlen) || 2 * mdlen != SYM_CONTENT_ID_LEN))
		err = -ENOMEM;
	if (!err) {
		for (unsigned int i = 0; i < mdlen; i++) {
			hex[2 * i] = digits[md[i] >> 4];
			hex[2 * i + 1] = digits[md[i] & 15];
		}
		hex[2 * mdlen] = '\0';
	}
	EVP_MD_CTX_free(ctx);
	free(buf);
	return err;
}
