/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: vjbuild.conf (conf/config.c, conf/users.c), then templates
 * rendered with what it set (conf_render). */
#include <string.h>

#include "../../conf/conf.h"
#include "../../util/util.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_host h;
	struct vj_err err;
	struct conf *c = conf_read(fuzz_file(data, size), &err);
	char *text, *out;

	if (c == NULL)
		return 0;
	(void)conf_finish(c, "/nonexistent", 0, &err);
	/* The same bytes as a template for a host of this config. */
	memset(&h, 0, sizeof(h));
	h.name = "web1";
	h.address = "192.0.2.1";
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	out = conf_render(text, "fuzz.in", c, &h, &err);
	free(out);
	free(text);
	conf_free(c);
	return 0;
}
