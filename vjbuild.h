/* SPDX-License-Identifier: BSD-2-Clause */
/* vjbuild: the program's name, version and exit statuses. */
#ifndef VJBUILD_H
#define VJBUILD_H

#define VJBUILD_VERSION "0.1.0"

#define EXIT_TASKS	1	/* some task failed, was skipped or not run */
#define EXIT_INPUT	2	/* bad usage or input; nothing was changed */
#define EXIT_STATE	3	/* the state could not be opened or written */

#endif
