/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: hosts files (conf/hosts.c). */
#include "../../conf/conf.h"
#include "../../util/util.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vj_err err;
	struct conf_hosts *h = conf_hosts_read(fuzz_file(data, size), &err);

	conf_hosts_free(h);
	return 0;
}
