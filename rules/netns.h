/* netns — enter a network namespace by name (/run/netns/NAME, as `ip netns`
 * makes them) or by path. */
#ifndef FILTERD_NETNS_H
#define FILTERD_NETNS_H

#include <stddef.h>

/* Switches the calling thread to the namespace.  Returns 0, or -1 with a
 * message naming the path and the cause in err. */
int netns_enter(const char *name, char *err, size_t errlen);

#endif
