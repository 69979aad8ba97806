/*
 * path_open_strict(): a component-by-component walk with O_PATH|O_NOFOLLOW, which is what
 * openat2(RESOLVE_NO_SYMLINKS) does, on every kernel (openat2 is Linux 5.6+). Mount points are
 * crossed as usual; `.` and `..` never appear (the spec parser refuses them).
 */
#include "path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int path_open_strict(const char *path)
{
	if (path[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	char buf[PATH_MAX];
	if (strlen(path) >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, path);
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (char *save = NULL, *name = strtok_r(buf, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		int err = errno;
		close(fd);
		if (next < 0) {
			errno = err;
			return -1;
		}
		struct stat st;
		if (fstat(next, &st) != 0 || S_ISLNK(st.st_mode)) {
			close(next);
			errno = ELOOP;
			return -1;
		}
		fd = next;
	}
	return fd;
}
