/* SPDX-License-Identifier: MIT */
/* Tells anonymous memory from file mappings. The userfaultfd monitor needs
 * it: a file mapping can lose its pages to truncate() or
 * fallocate(PUNCH_HOLE) of the file, for which userfaultfd sends no event,
 * so caching one would serve a registration whose pages are gone. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* One fd on this process's maps, kept open: open() and close() of /proc
 * files were a third of the check's cost. It is checked on every use: a
 * forked child inherits it but it reads the parent's address space, and
 * an application that closes every fd (daemons do) may have closed it and
 * reused the number. Guarded by maps_lock, which the readers hold across
 * their pread() calls (the file position is shared). */
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static int maps_fd = -1;
static pid_t maps_pid;
static dev_t maps_dev;
static ino_t maps_ino;

static bool maps_ours(struct stat *st)
{
	return !fstat(maps_fd, st) && st->st_dev == maps_dev &&
	       st->st_ino == maps_ino;
}

/* maps_lock held: a usable fd, or a negative errno. */
static int maps_get(void)
{
	pid_t pid = getpid();
	struct stat st;

	if (maps_fd >= 0) {
		bool ours = maps_ours(&st);

		if (ours && maps_pid == pid)
			return maps_fd;
		if (ours) /* inherited: ours to close, but not this process's */
			close(maps_fd);
		maps_fd = -1; /* else the number is not ours any more */
	}
	maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (maps_fd < 0)
		return -errno;
	if (fstat(maps_fd, &st)) {
		close(maps_fd);
		maps_fd = -1;
		return -EIO;
	}
	maps_dev = st.st_dev;
	maps_ino = st.st_ino;
	maps_pid = pid;
	return maps_fd;
}

/* The kernel formats maps only as far as a read asks, and the ranges a
 * cache sees usually sit in the first lines (fresh mmaps take the lowest
 * free addresses, below the libraries whose lines cost a path lookup
 * each): ask for a little first, more as the range is not reached. */
#define FIRST_READ 1024

static int range_anonymous_locked(int fd, uintptr_t start, uintptr_t end)
{
	uintptr_t covered = start;
	char buf[4096];
	size_t have = 0, want = FIRST_READ;
	off_t off = 0;

	for (;;) {
		size_t room = sizeof(buf) - 1 - have;
		ssize_t n = pread(fd, buf + have, want < room ? want : room,
				  off);
		char *line = buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += n;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = memchr(line, '\n', (size_t)(buf + have - line)))) {
			*nl = '\0';
			switch (judge(line, start, end, &covered)) {
			case V_BEFORE:
			case V_ANON:
				break;
			case V_FILE:
				return 0;
			case V_HOLE:
				return -EFAULT;
			case V_PAST:
				return covered >= end ? 1 : -EFAULT;
			}
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		memmove(buf, line, have);
		if (n == 0)
			return covered >= end ? 1 : -EFAULT;
		/* a line longer than the buffer has a long path: a file */
		if (have == sizeof(buf) - 1)
			return 0;
		if (want < sizeof(buf))
			want *= 2;
	}
}

int sv_range_anonymous(uintptr_t start, size_t len)
{
	int fd, ret;

	pthread_mutex_lock(&maps_lock);
	fd = maps_get();
	ret = fd < 0 ? fd : range_anonymous_locked(fd, start, start + len);
	pthread_mutex_unlock(&maps_lock);
	return ret;
}
