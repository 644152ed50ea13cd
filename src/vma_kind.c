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
#include <sys/mman.h>
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
 * [start, end) given that everything below *covered is already judged;
 * ANDs the line's rights into *prot. */
static enum verdict judge(const char *line, uintptr_t start, uintptr_t end,
			  uintptr_t *covered, unsigned int *prot)
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
	while (*p == ' ')
		p++;
	if (p[0] != 'r')
		*prot &= ~SV_RANGE_READ;
	if (!p[0] || p[1] != 'w')
		*prot &= ~SV_RANGE_WRITE;
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
 * each): ask for a little first, more as the range is not reached. Reads
 * go on from where the last one stopped (the kernel resumes at the next
 * VMA by address), so lines stay whole; but a range another thread
 * changes meanwhile can look like a hole: the caller checks holes. */
#define FIRST_READ 1024

static int range_info_locked(int fd, uintptr_t start, uintptr_t end,
			     unsigned int *info)
{
	uintptr_t covered = start;
	char buf[4096];
	size_t have = 0, want = FIRST_READ;
	unsigned int prot = SV_RANGE_READ | SV_RANGE_WRITE;
	bool anon = true, skip = false;
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
			if (skip) { /* the rest of an over-long line */
				skip = false;
				line = nl + 1;
				continue;
			}
			switch (judge(line, start, end, &covered, &prot)) {
			case V_BEFORE:
			case V_ANON:
				break;
			case V_FILE:
				anon = false;
				break;
			case V_HOLE:
				return -EFAULT;
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
			anon = false;
			skip = true;
			have = 0;
		}
		if (want < sizeof(buf))
			want *= 2;
	}
done:
	if (covered < end)
		return -EFAULT;
	*info = prot | (anon ? SV_RANGE_ANON : 0);
	return 0;
}

/* msync() fails with ENOMEM exactly when part of the range is unmapped. */
static bool really_mapped(uintptr_t start, uintptr_t end, uintptr_t pm)
{
	uintptr_t s = start & ~pm;

	return !msync((void *)s, ((end + pm) & ~pm) - s, MS_ASYNC) ||
	       errno != ENOMEM;
}

int sv_range_info(uintptr_t start, size_t len, unsigned int *info)
{
	uintptr_t pm = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	int fd, ret, tries;

	for (tries = 0; tries < 3; tries++) {
		pthread_mutex_lock(&maps_lock);
		fd = maps_get();
		ret = fd < 0 ? fd :
			       range_info_locked(fd, start, start + len, info);
		pthread_mutex_unlock(&maps_lock);
		/* a hole that msync() does not see was a change under the
		 * read (a neighbour mapped or unmapped): read again */
		if (ret != -EFAULT || !really_mapped(start, start + len, pm))
			return ret;
	}
	return -EAGAIN;
}

int sv_range_anonymous(uintptr_t start, size_t len)
{
	unsigned int info;
	int ret = sv_range_info(start, len, &info);

	return ret ? ret : !!(info & SV_RANGE_ANON);
}
