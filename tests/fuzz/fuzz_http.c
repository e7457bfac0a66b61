/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: an HTTP response from the package store (cache/http.c), which
 * is not trusted: heads, lengths, chunks, bodies longer than allowed. The
 * input is written to one end of a socket pair, the client reads the
 * other. */
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../cache/http.h"
#include "../../util/util.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vj_err err;
	long long got;
	int sv[2], out;
	int size_buf = 1 << 20;

	if (size > 65536)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size_buf,
	    sizeof(size_buf));
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size_buf,
	    sizeof(size_buf));
	if (size > 0 && write(sv[1], data, size) != (ssize_t)size)
		abort();
	close(sv[1]);	/* the server's close ends what it sent */
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
	if ((out = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		abort();
	(void)http_read_response(sv[0], out, 4096, &got, &err);
	close(out);
	close(sv[0]);
	return 0;
}
