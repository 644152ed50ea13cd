/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli-run.h"

/* $@env, else @rel relative to this test's directory (build/tests/). */
static const char *build_path(const char *env_name, const char *rel,
			      char *path, size_t len)
{
	const char *env = getenv(env_name);
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return rel;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	if ((size_t)snprintf(path, len, "%s/%s", self, rel) >= len)
		return rel;
	return path;
}

const char *cli_path(void)
{
	static char path[PATH_MAX];

	return build_path("SANVERBS_CLI", "../tools/sanverbs", path,
			  sizeof(path));
}

const char *bench_path(void)
{
	static char path[PATH_MAX];

	return build_path("SANVERBS_BENCH", "../bench/sanverbs-bench", path,
			  sizeof(path));
}

static char *slurp(FILE *f)
{
	long n;
	char *s;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET))
		return NULL;
	s = calloc(1, (size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		return NULL;
	}
	return s;
}

int cli_run(struct cli_result *r, const char *const *args,
	    const char *const *env, int timeout_s)
{
	return prog_run(r, cli_path(), args, env, timeout_s);
}

int prog_run(struct cli_result *r, const char *prog, const char *const *args,
	     const char *const *env, int timeout_s)
{
	const char *argv[32];
	size_t cap = 4096;
	int fd[2], st, i, n = 0;
	time_t t0 = time(NULL);
	FILE *err;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	argv[n++] = prog;
	for (i = 0; args && args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	r->out = malloc(cap);
	err = tmpfile();
	if (!r->out || !err || pipe(fd))
		return -ENOMEM;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		dup2(fileno(err), 2);
		close(fd[0]);
		close(fd[1]);
		for (i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		struct pollfd p = { .fd = fd[0], .events = POLLIN };
		ssize_t got;

		if (time(NULL) - t0 > timeout_s) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if (r->len + 1024 > cap) {
			char *b = realloc(r->out, cap * 2);

			if (!b)
				break;
			r->out = b;
			cap *= 2;
		}
		got = read(fd[0], r->out + r->len, cap - r->len - 1);
		if (got <= 0)
			break;
		r->len += (size_t)got;
	}
	r->out[r->len] = 0;
	close(fd[0]);
	waitpid(pid, &st, 0);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->err = slurp(err);
	fclose(err);
	if (!r->err)
		r->err = calloc(1, 1);
	return r->err ? 0 : -ENOMEM;
}

void cli_result_free(struct cli_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* Recursive-descent JSON syntax check (RFC 8259). */
static const char *ws(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s;
}

static const char *value(const char *s, int depth);

static const char *string(const char *s)
{
	if (*s++ != '"')
		return NULL;
	while (*s && *s != '"') {
		if ((unsigned char)*s < 0x20)
			return NULL;
		if (*s == '\\') {
			s++;
			if (*s == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF",
						    s[i]) || !s[i])
						return NULL;
				s += 4;
			} else if (!*s || !strchr("\"\\/bfnrt", *s)) {
				return NULL;
			}
		}
		s++;
	}
	return *s == '"' ? s + 1 : NULL;
}

static const char *number(const char *s)
{
	const char *start;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return NULL;
	if (*s == '.') {
		start = ++s;
		while (*s >= '0' && *s <= '9')
			s++;
		if (s == start)
			return NULL;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		start = s;
		while (*s >= '0' && *s <= '9')
			s++;
		if (s == start)
			return NULL;
	}
	return s;
}

static const char *container(const char *s, int depth, char close, int obj)
{
	s = ws(s + 1);
	if (*s == close)
		return s + 1;
	for (;;) {
		if (obj) {
			s = string(s);
			if (!s)
				return NULL;
			s = ws(s);
			if (*s++ != ':')
				return NULL;
		}
		s = value(ws(s), depth + 1);
		if (!s)
			return NULL;
		s = ws(s);
		if (*s == close)
			return s + 1;
		if (*s++ != ',')
			return NULL;
		s = ws(s);
	}
}

static const char *value(const char *s, int depth)
{
	if (depth > 64)
		return NULL;
	switch (*s) {
	case '{': return container(s, depth, '}', 1);
	case '[': return container(s, depth, ']', 0);
	case '"': return string(s);
	case 't': return strncmp(s, "true", 4) ? NULL : s + 4;
	case 'f': return strncmp(s, "false", 5) ? NULL : s + 5;
	case 'n': return strncmp(s, "null", 4) ? NULL : s + 4;
	default: return number(s);
	}
}

int json_valid(const char *s)
{
	const char *e = s ? value(ws(s), 0) : NULL;

	return e && !*ws(e) ? 0 : -1;
}

long long json_num_after(const char *s, const char *from, const char *key)
{
	char pat[80];
	const char *p = from ? strstr(s, from) : s;

	if (!p)
		return -1;
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(p, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	if (*p < '0' || *p > '9')
		return -1;
	return strtoll(p, NULL, 10);
}
