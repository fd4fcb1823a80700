/* fsutil — small file-system helpers shared by filterd and the rules library. */
#ifndef FILTERD_FSUTIL_H
#define FILTERD_FSUTIL_H

#include <sys/types.h>

/* Creates path as a new file for writing (O_EXCL, O_NOFOLLOW, close-on-exec)
 * with mode: never through a link someone left at that name; a leftover file
 * there (a temporary of a run that died) is unlinked first.  The descriptor,
 * or -1 with errno. */
int open_fresh(const char *path, mode_t mode);

#endif
