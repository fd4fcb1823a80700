/* libnss_fdgate.so.2: a passwd source for t_observe that stands for a
 * directory service that hangs.  Its lookup of the uid FDGATE_UID creates
 * FDGATE_FILE.waiting and then holds until FDGATE_FILE exists (30 s at
 * most); every lookup answers "not found", so NSS goes on to the next
 * source (files).  Built by the test: cc -shared -fPIC -o libnss_fdgate.so.2 */
#include <errno.h>
#include <fcntl.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum nss_status _nss_fdgate_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len,
				       int *errnop);

enum nss_status _nss_fdgate_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len,
				       int *errnop)
{
	const char *u = getenv("FDGATE_UID"), *gate = getenv("FDGATE_FILE");

	(void)pw;
	(void)buf;
	(void)len;
	if (u && gate && (uid_t)strtoul(u, NULL, 10) == uid) {
		char mark[4096];
		int fd;

		snprintf(mark, sizeof(mark), "%s.waiting", gate);
		fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
		for (int i = 0; i < 300 && access(gate, F_OK) != 0; i++)
			usleep(100000);
	}
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}
