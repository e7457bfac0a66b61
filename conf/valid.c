/* SPDX-License-Identifier: BSD-2-Clause */
/* Validation of host names, package names and addresses. */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <sys/socket.h>

#include "conf.h"

/*
 * A host name as RFC 1123 has it: dot-separated labels of 1 to 63 letters,
 * digits and hyphens, neither starting nor ending with a hyphen, at most 253
 * characters in all. This excludes '/', "..", spaces and every other byte
 * that could turn a name into a path.
 */
int
conf_valid_hostname(const char *s)
{
	size_t total = strlen(s), label = 0;
	const char *p;

	if (total == 0 || total > 253)
		return 0;
	for (p = s; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 0;
		if (*p == '-' && label == 0)
			return 0;
		label++;
	}
}

/* A package or port name: [A-Za-z0-9._+-], not starting with '.' or '-'. */
int
conf_valid_word(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._+-", s[i]) == NULL)
			return 0;
	return 1;
}

int
conf_parse_address(const char *s, char *canon, size_t n, int *family)
{
	unsigned char buf[16];

	if (strlen(s) > 45)
		return 0;
	if (inet_pton(AF_INET, s, buf) == 1) {
		*family = AF_INET;
		return inet_ntop(AF_INET, buf, canon, (socklen_t)n) != NULL;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		*family = AF_INET6;
		return inet_ntop(AF_INET6, buf, canon, (socklen_t)n) != NULL;
	}
	return 0;
}

int
conf_valid_varkey(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}
