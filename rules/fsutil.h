/* fsutil — small file-system helpers shared by filterd and the rules library. */
#ifndef FILTERD_FSUTIL_H
#define FILTERD_FSUTIL_H

#include <sys/types.h>

/* Creates path as a new file for writing (O_EXCL, O_NOFOLLOW, close-on-exec)
 * with mode: never through a link someone left at that name; a leftover file
 * there (a temporary of a run that died) is unlinked first.  The descriptor,
 * or -1 with errno. */
int open_fresh(const char *path, mode_t mode);

/* Opens path for reading only when it is a regular file (a link to one too):
 * a FIFO or a device is not opened for real -- the open itself cannot block
 * (O_NONBLOCK, cleared once the file is known regular).  The descriptor
 * (close-on-exec), or -1 with errno (EINVAL: not a regular file). */
int open_regular(const char *path);

#endif
