/* SPDX-License-Identifier: MIT */
/* Tells anonymous memory from file mappings. The userfaultfd monitor needs
 * it: a file mapping can lose its pages to truncate() or
 * fallocate(PUNCH_HOLE) of the file, for which userfaultfd sends no event,
 * so caching one would serve a registration whose pages are gone. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vma_kind.h"

enum verdict { V_BEFORE, V_ANON, V_FILE, V_HOLE, V_PAST };

/* Shared anonymous memory and anonymous huge pages are backed by internal
 * files with these names; nobody else can reach them to truncate them. */
static int anon_backing(const char *path)
{
	return !strcmp(path, "/dev/zero (deleted)") ||
	       !strcmp(path, "/anon_hugepage (deleted)");
}

/* Judges one maps line "start-end perms offset dev inode path" against
 * [start, end) given that everything below *covered is already judged. */
static enum verdict judge(const char *line, uintptr_t start, uintptr_t end,
			  uintptr_t *covered)
{
	unsigned long long s, e, inode;
	char *p;
	int i;

	s = strtoull(line, &p, 16);
	if (*p != '-')
		return V_FILE; /* unparsable: be conservative */
	e = strtoull(p + 1, &p, 16);
	if (e <= start)
		return V_BEFORE;
	if (s >= end)
		return V_PAST;
	if (s > *covered)
		return V_HOLE;
	/* skip perms, offset and dev to reach the inode */
	for (i = 0; i < 3; i++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
	}
	inode = strtoull(p, &p, 10);
	while (*p == ' ')
		p++;
	*covered = (uintptr_t)e;
	return inode == 0 || anon_backing(p) ? V_ANON : V_FILE;
}

int sv_range_anonymous(uintptr_t start, size_t len)
{
	uintptr_t end = start + len, covered = start;
	char buf[4096];
	size_t have = 0;
	int fd, ret = -EIO;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *line = buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = memchr(line, '\n', (size_t)(buf + have - line)))) {
			*nl = '\0';
			switch (judge(line, start, end, &covered)) {
			case V_BEFORE:
			case V_ANON:
				break;
			case V_FILE:
				ret = 0;
				goto out;
			case V_HOLE:
				ret = -EFAULT;
				goto out;
			case V_PAST:
				goto done;
			}
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		memmove(buf, line, have);
		if (n == 0)
			goto done;
		/* a line longer than the buffer has a long path: a file */
		if (have == sizeof(buf) - 1) {
			ret = 0;
			goto out;
		}
	}
done:
	ret = covered >= end ? 1 : -EFAULT;
out:
	close(fd);
	return ret;
}
