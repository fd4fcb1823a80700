/* The release the three programs say they are (filterd --version, filterctl
 * --version, pcap-replay --version, filterd's start event). */
#ifndef FILTERD_VERSION_H
#define FILTERD_VERSION_H
#define FILTERD_VERSION "0.1"
#endif
