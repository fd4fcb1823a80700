#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int open_fresh(const char *path, mode_t mode)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = open(path, flags, mode);

	if (fd < 0 && errno == EEXIST && unlink(path) == 0)
		fd = open(path, flags, mode);
	return fd;
}
