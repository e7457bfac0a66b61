/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: graph files of run-graph (tasks/cmd.c), parsed and sealed. */
#include <string.h>

#include "../../tasks/tasks.h"
#include "../../util/util.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct task_env env;
	struct vj_err err;
	struct plan *p;

	memset(&env, 0, sizeof(env));
	p = plan_graph_file(fuzz_file(data, size), &env, &err);
	plan_free(p);
	return 0;
}
