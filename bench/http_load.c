/*
 * bench/http_load.c - HTTP ingest load: C concurrent clients, each on its
 * own keep-alive connection, POST batches of B lines of a JSON Lines file
 * to URL-PATH with a bearer token, one request at a time (a client waits
 * for its answer, as a real producer that needs the acknowledgement does).
 * Prints one line: entries/s, requests, p50 and p99 latency in ms, the
 * count of non-200 answers, and the appended and duplicates the answers
 * reported.
 *
 * usage: http_load HOST PORT PATH TOKEN FILE CLIENTS BATCH
 */
#include "bench/args.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct batch {
	const char *p;
	size_t len;
	size_t lines;
};

static const char *host, *path, *token;
static int port;
static struct batch *batches;
static size_t nbatches, next_batch;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static double *lat;
static size_t nlat, bad;
static size_t entries, appended, duplicates;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_to(void)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, host, &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one response into buf (NUL-terminated); returns the status code,
 * -1 on error. */
static int read_response(int fd, char *buf, size_t cap)
{
	size_t have = 0, body_len = 0, head_len;
	char *end = NULL, *cl;
	int code;

	while (end == NULL) {
		ssize_t r = read(fd, buf + have, cap - have - 1);

		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	head_len = (size_t)(end - buf) + 4;
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
		return -1;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl && cl < end)
		body_len = strtoul(cl + 17, NULL, 10);
	while (have < head_len + body_len) {
		ssize_t r = read(fd, buf + have, cap - have - 1);

		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	buf[have] = '\0';
	return code;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void *client(void *arg)
{
	int fd = connect_to();
	char head[1024], *resp = malloc(1 << 16);

	(void)arg;
	for (;;) {
		struct batch *b;
		double t0;
		int n, code;

		pthread_mutex_lock(&mu);
		b = next_batch < nbatches ? &batches[next_batch++] : NULL;
		pthread_mutex_unlock(&mu);
		if (b == NULL)
			break;
		n = snprintf(head, sizeof(head),
		             "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
		             "Content-Type: application/x-ndjson\r\nContent-Length: %zu\r\n\r\n",
		             path, host, token, b->len);
		t0 = now();
		if (write_all(fd, head, (size_t)n) != 0 || write_all(fd, b->p, b->len) != 0 ||
		    (code = read_response(fd, resp, 1 << 16)) < 0) {
			fprintf(stderr, "http_load: connection lost\n");
			exit(1);
		}
		pthread_mutex_lock(&mu);
		lat[nlat++] = now() - t0;
		if (code != 200) {
			bad++;
		} else {
			const char *a = strstr(resp, "\"appended\":"),
			           *d = strstr(resp, "\"duplicates\":");

			entries += b->lines;
			appended += a ? strtoul(a + 11, NULL, 10) : 0;
			duplicates += d ? strtoul(d + 13, NULL, 10) : 0;
		}
		pthread_mutex_unlock(&mu);
	}
	close(fd);
	free(resp);
	return NULL;
}

int main(int argc, char **argv)
{
	FILE *f;
	char *data;
	long size;
	size_t clients, per, i, lines = 0;
	pthread_t *th;
	const char *p, *start;
	double t0, t1;

	if (argc != 8) {
		fprintf(stderr, "usage: http_load HOST PORT PATH TOKEN FILE CLIENTS BATCH\n");
		return 2;
	}
	host = argv[1];
	port = (int)bench_arg(argv[2], "PORT", 1, 65535);
	path = argv[3];
	token = argv[4];
	clients = (size_t)bench_arg(argv[6], "CLIENTS", 1, 1024);
	per = (size_t)bench_arg(argv[7], "BATCH", 1, 1000000);
	if ((f = fopen(argv[5], "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
		perror(argv[5]);
		return 1;
	}
	data = malloc((size_t)size);
	if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size)
		return 1;
	fclose(f);
	batches = calloc((size_t)size / 2 / per + 2, sizeof(*batches));
	for (p = start = data; p < data + size; p++)
		if (*p == '\n' && ++lines == per) {
			batches[nbatches++] = (struct batch){start, (size_t)(p + 1 - start), lines};
			start = p + 1;
			lines = 0;
		}
	if (lines)
		batches[nbatches++] = (struct batch){start, (size_t)(data + size - start), lines};
	lat = calloc(nbatches, sizeof(double));
	th = calloc(clients, sizeof(*th));
	t0 = now();
	for (i = 0; i < clients; i++)
		pthread_create(&th[i], NULL, client, NULL);
	for (i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	t1 = now();
	qsort(lat, nlat, sizeof(double), cmp);
	printf("%.0f %zu %.2f %.2f %zu %zu %zu\n", entries / (t1 - t0), nlat, lat[nlat / 2] * 1000,
	       lat[nlat * 99 / 100] * 1000, bad, appended, duplicates);
	return 0;
}
