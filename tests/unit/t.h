/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A small unit-test harness. TEST(name) defines a test and registers it;
 * CHECK(cond) records a failure with file:line and goes on; REQUIRE(cond)
 * fails and leaves the test. The runner prints a TAP-like line per test and
 * "N passed, N failed" at the end.
 */
#ifndef VJ_T_H
#define VJ_T_H

#include <string.h>

void t_register(const char *name, void (*fn)(void));
void t_fail(const char *file, int line, const char *what);
int t_failed(void);
/* A fresh empty directory for the running test; removed after it. */
const char *t_tmpdir(void);

struct graph;
/* A graph from "a:b,c d:a" (a depends on b and c; d on a); nodes are
 * numbered in the order their names first appear. */
struct graph *t_graph(const char *spec);

#define TEST(name)							\
	static void name(void);						\
	__attribute__((constructor)) static void reg_##name(void)	\
	{ t_register(#name, name); }					\
	static void name(void)

#define CHECK(c) do { if (!(c)) t_fail(__FILE__, __LINE__, #c); } while (0)
#define REQUIRE(c) do { if (!(c)) { t_fail(__FILE__, __LINE__, #c);	\
	return; } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b);		\
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)		\
		t_fail(__FILE__, __LINE__, #a " == " #b); } while (0)

#endif
