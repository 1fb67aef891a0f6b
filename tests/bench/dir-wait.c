/* dir-wait DIR COUNT TIMEOUT_SECONDS
 *
 * Waits until DIR holds at least COUNT slot documents (names of digits
 * followed by ".json"; a missing DIR counts as empty) and exits 0, or exits
 * 1 after TIMEOUT_SECONDS.  Polls every 20 ms with readdir() (the
 * benchmarks measure runs of several seconds).
 *
 * Why a program: the benchmarks used to poll with `ls DIR | grep -c` every
 * 20 ms.  On a directory of 2,000 documents that costs about 24 ms of CPU
 * per poll (fork, exec, sort, pipe), i.e. about half a core of a 2-core
 * machine taken from whatever the benchmark measures.  One readdir() pass
 * here costs well under a tenth of a millisecond.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 1 when NAME is digits then ".json" and nothing else. */
static int is_slot_doc(const char *name)
{
	const char *p = name;
	while (*p >= '0' && *p <= '9')
		p++;
	return p != name && strcmp(p, ".json") == 0;
}

static long count_docs(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += is_slot_doc(e->d_name);
	closedir(d);
	return n;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: dir-wait DIR COUNT TIMEOUT_SECONDS\n");
		return 2;
	}
	char *end;
	long want = strtol(argv[2], &end, 10);
	double timeout = strtod(argv[3], NULL);
	if (*end != '\0' || want < 0 || timeout <= 0) {
		fprintf(stderr, "dir-wait: bad COUNT or TIMEOUT_SECONDS\n");
		return 2;
	}
	double deadline = now_s() + timeout;
	const struct timespec pause = { .tv_nsec = 20000000 };
	while (count_docs(argv[1]) < want) {
		if (now_s() > deadline) {
			fprintf(stderr, "dir-wait: %s: fewer than %ld documents after %s s\n",
			        argv[1], want, argv[3]);
			return 1;
		}
		nanosleep(&pause, NULL);
	}
	return 0;
}
