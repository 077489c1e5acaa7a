/*
 * tests/unit/test_alert_sinks.c - the alert sinks against real peers on
 * loopback: a webhook receiver (Python http.server, tests/unit/
 * alert_receiver.py) that checks the HMAC on its own, one that answers 500
 * twice before 200, one that never answers 2xx, a closed port, an HTTPS
 * receiver with a certificate made here, and syslog receivers on UDP and TCP
 * that parse what they get as RFC 5424. The sinks run on this test's own
 * event loop, as they will on the daemon's.
 */
#include "tests/unit/unit.h"

#include "auditd/alerts/alerts.h"
#include "lib/error.h"

#include <event2/event.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#define RECEIVER "tests/unit/alert_receiver.py"

static const char ENTRY[] =
        "{\"body\":{\"key\":\"203.0.113.66\",\"refs\":[1,2,3,4,5,6,7,8],\"rule\":\"login."
        "bruteforce_src\",\"severity\":\"high\",\"summary\":\"8 failed logins for 田中 from "
        "203.0.113.66 in 77 s\",\"window\":{\"from\":\"2026-07-01T00:00:00Z\",\"to\":\"2026-07-"
        "01T00:01:17Z\"}},\"kind\":\"alert\",\"received\":\"2026-07-01T00:01:17.000001Z\",\"seq\":"
        "9,\"source\":\"akashi\",\"time\":\"2026-07-01T00:01:17Z\"}";

struct peer {
	pid_t pid;
	int port;
	char dir[64], out[128];
};

static void peer_start(struct peer *p, const char *const *args)
{
	int fds[2];
	const char *argv[12];
	char line[64];
	FILE *f;
	size_t i;

	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/akashi-sinks-XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->out, sizeof(p->out), "%s/out.jsonl", p->dir);
	assert_int_equal(pipe(fds), 0);
	argv[0] = "/usr/bin/python3";
	argv[1] = RECEIVER;
	argv[2] = args[0];
	argv[3] = p->out;
	for (i = 1; args[i] && i < 8; i++)
		argv[i + 3] = args[i];
	argv[i + 3] = NULL;
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_int_equal(sscanf(line, "PORT %d", &p->port), 1);
	fclose(f);
}

/* Stop the peer and return what it recorded (an array; decref it). */
/* A peer for args, and cfg's webhook pointed at it with the secret "k"
 * (url: 128 bytes, kept by cfg). */
static void webhook_peer(struct peer *p, const char *const *args, char *url,
                         struct alert_sinks_config *cfg)
{
	peer_start(p, args);
	snprintf(url, 128, "http://127.0.0.1:%d/", p->port);
	cfg->webhook_url = url;
	cfg->webhook_secret = "k";
}

static json_t *peer_stop(struct peer *p)
{
	json_t *all = json_array();
	char cmd[128];
	FILE *f;
	char line[65536];

	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
	}
	if ((f = fopen(p->out, "r")) != NULL) {
		while (fgets(line, sizeof(line), f)) {
			json_t *v = json_loads(line, 0, NULL);

			assert_non_null(v);
			json_array_append_new(all, v);
		}
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", p->dir);
	return all;
}

struct wait_for {
	struct alert_sinks *s;
	const char *sink, *what;
	json_int_t want;
	struct event_base *base;
};

static json_int_t sink_count(struct alert_sinks *s, const char *sink, const char *what)
{
	json_t *st = json_object();
	json_int_t v;

	alert_sinks_stats(s, st);
	v = json_integer_value(json_object_get(json_object_get(st, sink), what));
	json_decref(st);
	return v;
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wait_for *w = arg;

	(void)fd;
	(void)what;
	if (sink_count(w->s, w->sink, w->what) >= w->want)
		event_base_loopbreak(w->base);
}

/* Run the loop until the sink's counter reaches want (or 20 s pass). */
static void run_until(struct event_base *base, struct alert_sinks *s, const char *sink,
                      const char *what, json_int_t want)
{
	struct wait_for w = {s, sink, what, want, base};
	struct event *poll = event_new(base, -1, EV_PERSIST, poll_cb, &w);
	struct timeval tick = {0, 10000}, limit = {20, 0};

	event_add(poll, &tick);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	event_free(poll);
	assert_int_equal(sink_count(s, sink, what), want);
}

/* Let the loop run a while (for "nothing more happens"). */
static void run_for(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static struct alert_sinks *sinks(struct event_base *base, struct alert_sinks_config *cfg)
{
	struct alert_sinks *s = NULL;

	if (alert_sinks_new(&s, base, cfg) != 0)
		fail_msg("alert_sinks_new: %s", ak_error_last());
	return s;
}

static void test_sinks__webhook_posts_signed_json(void **state)
{
	static const char *const args[] = {"webhook", "s3cret", "0", NULL};
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct alert_sinks *s;
	struct peer p;
	char url[128];
	json_t *got, *r;

	(void)state;
	peer_start(&p, args);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/akashi?team=sec", p.port);
	cfg.webhook_url = url;
	cfg.webhook_secret = "s3cret";
	s = sinks(base, &cfg);
	assert_int_equal(alert_sinks_send(s, ENTRY, strlen(ENTRY), "login.bruteforce_src", "high"),
	                 0);
	run_until(base, s, "webhook", "sent", 1);
	got = peer_stop(&p);
	assert_int_equal(json_array_size(got), 1);
	r = json_array_get(got, 0);
	assert_string_equal(json_string_value(json_object_get(r, "method")), "POST");
	assert_string_equal(json_string_value(json_object_get(r, "path")),
	                    "/hooks/akashi?team=sec");
	assert_string_equal(json_string_value(json_object_get(r, "content_type")),
	                    "application/json");
	assert_true(json_is_true(json_object_get(r, "sig_ok")));
	assert_string_equal(json_string_value(json_object_get(r, "body")), ENTRY);
	assert_int_equal(sink_count(s, "webhook", "retries"), 0);
	assert_int_equal(sink_count(s, "webhook", "queued"), 0);
	json_decref(got);
	alert_sinks_free(s);
	event_base_free(base);
}

static void test_sinks__webhook_retries_after_500(void **state)
{
	static const char *const args[] = {"webhook", "k", "2", NULL};
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct alert_sinks *s;
	struct peer p;
	char url[128];
	json_t *got;
	double t1, t2, t3;

	(void)state;
	webhook_peer(&p, args, url, &cfg);
	cfg.backoff_ms = 200;
	s = sinks(base, &cfg);
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "login.bruteforce_src", "critical");
	run_until(base, s, "webhook", "sent", 1);
	got = peer_stop(&p);
	assert_int_equal(json_array_size(got), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(got, 0), "status")),
	                 500);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(got, 1), "status")),
	                 500);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(got, 2), "status")),
	                 200);
	assert_true(json_is_true(json_object_get(json_array_get(got, 2), "sig_ok")));
	/* Back-off: 200 ms, then 400 ms. */
	t1 = json_real_value(json_object_get(json_array_get(got, 0), "time"));
	t2 = json_real_value(json_object_get(json_array_get(got, 1), "time"));
	t3 = json_real_value(json_object_get(json_array_get(got, 2), "time"));
	assert_true(t2 - t1 >= 0.19);
	assert_true(t3 - t2 >= 0.39);
	assert_int_equal(sink_count(s, "webhook", "retries"), 2);
	assert_int_equal(sink_count(s, "webhook", "failed"), 0);
	json_decref(got);
	alert_sinks_free(s);
	event_base_free(base);
}

static void test_sinks__webhook_gives_up_and_counts(void **state)
{
	static const char *const args[] = {"webhook", "k", "1000", NULL};
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct alert_sinks *s;
	struct peer p;
	char url[128];
	json_t *got;

	(void)state;
	webhook_peer(&p, args, url, &cfg);
	cfg.backoff_ms = 20;
	cfg.max_attempts = 3;
	s = sinks(base, &cfg);
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "r", "high");
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "r", "high");
	run_until(base, s, "webhook", "failed", 2);
	got = peer_stop(&p);
	assert_int_equal(json_array_size(got), 6);
	assert_int_equal(sink_count(s, "webhook", "retries"), 4);
	assert_int_equal(sink_count(s, "webhook", "sent"), 0);
	json_decref(got);
	alert_sinks_free(s);
	event_base_free(base);
}

static void test_sinks__flush_now_tries_once_more_at_once(void **state)
{
	static const char *const args[] = {"webhook", "k", "2", NULL};
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct alert_sinks *s;
	struct peer p;
	char url[128];
	json_t *got;

	(void)state;
	webhook_peer(&p, args, url, &cfg);
	cfg.backoff_ms = 60000; /* nothing would happen for a minute */
	s = sinks(base, &cfg);
	assert_int_equal(alert_sinks_pending(s), 0);
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "r", "high");
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "r", "high");
	assert_int_equal(alert_sinks_pending(s), 2);
	run_until(base, s, "webhook", "retries", 1); /* the first 500: back-off */
	assert_int_equal(alert_sinks_pending(s), 2);
	alert_sinks_flush_now(s);
	/* The waiting retry goes now and gets the second 500: given up. The
	 * next alert gets its one try: 200. */
	run_until(base, s, "webhook", "sent", 1);
	assert_int_equal(sink_count(s, "webhook", "failed"), 1);
	assert_int_equal(alert_sinks_pending(s), 0);
	got = peer_stop(&p);
	assert_int_equal(json_array_size(got), 3);
	json_decref(got);
	alert_sinks_free(s);
	event_base_free(base);
}

/* A port nothing listens on. */
static int closed_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void test_sinks__webhook_connection_refused_is_retried(void **state)
{
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct alert_sinks *s;
	char url[128];

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", closed_port());
	cfg.webhook_url = url;
	cfg.webhook_secret = "k";
	cfg.backoff_ms = 10;
	cfg.max_attempts = 4;
	s = sinks(base, &cfg);
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "r", "high");
	run_until(base, s, "webhook", "failed", 1);
	assert_int_equal(sink_count(s, "webhook", "retries"), 3);
	alert_sinks_free(s);
	event_base_free(base);
}

static void test_sinks__full_queue_drops_oldest(void **state)
{
	static const char *const args[] = {"webhook", "k", "0", NULL};
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct alert_sinks *s;
	struct peer p;
	char url[128], body[8];
	json_t *got;
	int i;

	(void)state;
	webhook_peer(&p, args, url, &cfg);
	cfg.queue_max = 2;
	cfg.min_severity = "medium";
	s = sinks(base, &cfg);
	/* The loop does not run: send() must not block or deliver by itself. */
	for (i = 1; i <= 5; i++) {
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		assert_int_equal(alert_sinks_send(s, body, strlen(body), "r", "high"), 0);
	}
	assert_int_equal(alert_sinks_send(s, "{}", 2, "r", "low"), 0);
	assert_int_equal(alert_sinks_send(s, "{}", 2, "r", "bogus"), AK_EINVALID);
	assert_int_equal(sink_count(s, "webhook", "dropped"), 3);
	assert_int_equal(sink_count(s, "webhook", "queued"), 2);
	run_until(base, s, "webhook", "sent", 2);
	run_for(base, 200);
	got = peer_stop(&p);
	assert_int_equal(json_array_size(got), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "body")),
	                    "{\"n\":4}");
	assert_string_equal(json_string_value(json_object_get(json_array_get(got, 1), "body")),
	                    "{\"n\":5}");
	{
		json_t *st = json_object();

		alert_sinks_stats(s, st);
		assert_int_equal(json_integer_value(json_object_get(st, "below_min_severity")), 1);
		json_decref(st);
	}
	json_decref(got);
	alert_sinks_free(s);
	event_base_free(base);
}

static void test_sinks__https_webhook_verifies_the_peer(void **state)
{
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct alert_sinks *s;
	struct peer p;
	char dir[] = "/tmp/akashi-tls-XXXXXX", cmd[1024], cert[128], key[128], other[128], url[128];
	const char *args[] = {"webhook", "k", "0", cert, key, NULL};
	json_t *got;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(other, sizeof(other), "%s/other.pem", dir);
	snprintf(cmd, sizeof(cmd),
	         "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	         "-keyout key.pem -out cert.pem -days 2 -subj /CN=127.0.0.1 "
	         "-addext subjectAltName=IP:127.0.0.1 2>/dev/null && "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	         "-keyout okey.pem -out other.pem -days 2 -subj /CN=127.0.0.1 "
	         "-addext subjectAltName=IP:127.0.0.1 2>/dev/null",
	         dir);
	assert_int_equal(system(cmd), 0);
	peer_start(&p, args);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", p.port);
	cfg.webhook_url = url;
	cfg.webhook_secret = "k";
	cfg.ca_file = cert;
	cfg.backoff_ms = 10;
	cfg.max_attempts = 2;
	s = sinks(base, &cfg);
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "r", "high");
	run_until(base, s, "webhook", "sent", 1);
	alert_sinks_free(s);
	/* A certificate the CA file does not vouch for: never delivered. */
	cfg.ca_file = other;
	s = sinks(base, &cfg);
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "r", "high");
	run_until(base, s, "webhook", "failed", 1);
	alert_sinks_free(s);
	got = peer_stop(&p);
	assert_int_equal(json_array_size(got), 1);
	assert_true(json_is_true(json_object_get(json_array_get(got, 0), "sig_ok")));
	json_decref(got);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	event_base_free(base);
}

static void check_syslog(json_t *r, int pri, const char *msgid, const char *msg)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_true(json_is_true(json_object_get(r, "parsed")));
	assert_int_equal(json_integer_value(json_object_get(r, "pri")), pri);
	assert_int_equal(json_integer_value(json_object_get(r, "version")), 1);
	assert_true(json_is_true(json_object_get(r, "timestamp_ok")));
	assert_string_equal(json_string_value(json_object_get(r, "app")), "akashi");
	assert_string_equal(json_string_value(json_object_get(r, "procid")), pid);
	assert_string_equal(json_string_value(json_object_get(r, "msgid")), msgid);
	assert_string_equal(json_string_value(json_object_get(r, "sd")), "-");
	assert_true(json_is_true(json_object_get(r, "bom")));
	assert_string_equal(json_string_value(json_object_get(r, "msg")), msg);
}

static void test_sinks__syslog_udp_rfc5424(void **state)
{
	static const char *const args[] = {"udp", NULL};
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct alert_sinks *s;
	struct peer p;
	char spec[64];
	json_t *got;

	(void)state;
	peer_start(&p, args);
	snprintf(spec, sizeof(spec), "udp:127.0.0.1:%d", p.port);
	cfg.syslog = spec;
	s = sinks(base, &cfg);
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "login.bruteforce_src", "critical");
	alert_sinks_send(s, "{\"a\":1}", 7, "send.volume_spike", "medium");
	run_until(base, s, "syslog", "sent", 2);
	run_for(base, 300);
	got = peer_stop(&p);
	assert_int_equal(json_array_size(got), 2);
	/* authpriv (10) * 8 + crit (2); + warning (4) */
	check_syslog(json_array_get(got, 0), 82, "login.bruteforce_src", ENTRY);
	check_syslog(json_array_get(got, 1), 84, "send.volume_spike", "{\"a\":1}");
	json_decref(got);
	alert_sinks_free(s);
	event_base_free(base);
}

static void test_sinks__syslog_tcp_octet_counting(void **state)
{
	static const char *const args[] = {"tcp", NULL};
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct alert_sinks *s;
	struct peer p;
	char spec[64];
	json_t *got;

	(void)state;
	peer_start(&p, args);
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", p.port);
	cfg.syslog = spec;
	s = sinks(base, &cfg);
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "login.bruteforce_src", "high");
	alert_sinks_send(s, "{\"b\":2}", 7, "dmarc.unknown_source", "low");
	run_until(base, s, "syslog", "sent", 2);
	run_for(base, 300);
	got = peer_stop(&p);
	assert_int_equal(json_array_size(got), 2);
	check_syslog(json_array_get(got, 0), 83, "login.bruteforce_src", ENTRY);
	check_syslog(json_array_get(got, 1), 85, "dmarc.unknown_source", "{\"b\":2}");
	json_decref(got);
	alert_sinks_free(s);
	event_base_free(base);
}

static void test_sinks__syslog_unix_datagram(void **state)
{
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct alert_sinks *s;
	struct peer p;
	char path[64], spec[80];
	const char *args[] = {"unix", path, NULL};
	json_t *got;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/akashi-log-%d.sock", (int)getpid());
	unlink(path);
	peer_start(&p, args);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	cfg.syslog = spec;
	s = sinks(base, &cfg);
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "send.to_suppressed", "critical");
	run_until(base, s, "syslog", "sent", 1);
	run_for(base, 200);
	got = peer_stop(&p);
	unlink(path);
	assert_int_equal(json_array_size(got), 1);
	check_syslog(json_array_get(got, 0), 82, "send.to_suppressed", ENTRY);
	json_decref(got);
	alert_sinks_free(s);
	event_base_free(base);
}

static void test_sinks__syslog_tcp_down_keeps_the_queue(void **state)
{
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct alert_sinks *s;
	char spec[64];

	(void)state;
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", closed_port());
	cfg.syslog = spec;
	cfg.backoff_ms = 20;
	s = sinks(base, &cfg);
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "r", "high");
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "r", "high");
	run_for(base, 300);
	/* Nobody listens: nothing sent or failed, both wait for a reconnect. */
	assert_int_equal(sink_count(s, "syslog", "sent"), 0);
	assert_int_equal(sink_count(s, "syslog", "failed"), 0);
	assert_int_equal(sink_count(s, "syslog", "queued"), 2);
	alert_sinks_free(s);
	event_base_free(base);
}

static void refused(const struct alert_sinks_config *cfg, const char *msg)
{
	struct event_base *base = event_base_new();
	struct alert_sinks *s = NULL;

	assert_int_equal(alert_sinks_new(&s, base, cfg), AK_EINVALID);
	assert_null(s);
	if (strstr(ak_error_last(), msg) == NULL)
		fail_msg("got '%s', want '%s'", ak_error_last(), msg);
	event_base_free(base);
}

/* The mailer the daemon passes in (the delivery engine) is the boundary:
 * what the sink hands it is kept here. */
struct mailbox {
	int n;
	char subject[512], from[64], to[64], mid[128];
	char *text;
	int64_t seq;
	int refuse;
};

static int keep_mail(void *ctx, const struct alert_mail *m)
{
	struct mailbox *b = ctx;

	if (b->refuse)
		return ak_error_code(AK_EINVALID, "refused for the test");
	b->n++;
	snprintf(b->subject, sizeof(b->subject), "%s", m->subject);
	snprintf(b->from, sizeof(b->from), "%s", m->from);
	snprintf(b->to, sizeof(b->to), "%s", m->to);
	snprintf(b->mid, sizeof(b->mid), "%s", m->message_id);
	free(b->text);
	b->text = strndup(m->text, m->text_len);
	b->seq = m->seq;
	return 0;
}

static void test_sinks__email_writes_subject_and_text(void **state)
{
	static const char inject[] =
	        "{\"body\":{\"key\":\"mallory\\r\\nBcc: evil@example.jp\",\"refs\":[3,4],\"rule\":"
	        "\"login.bruteforce_user\",\"severity\":\"high\",\"summary\":\"2 failed logins for "
	        "mallory\\r\\nBcc: evil@example.jp\",\"window\":{\"from\":\"2026-07-01T00:00:00Z\","
	        "\"to\":\"2026-07-01T00:00:05Z\"}},\"kind\":\"alert\",\"received\":\"2026-07-01T00:"
	        "00:"
	        "06Z\",\"seq\":5,\"source\":\"akashi:alerts\",\"time\":\"2026-07-01T00:00:05Z\"}";
	struct event_base *base = event_base_new();
	struct alert_sinks_config cfg = {0};
	struct mailbox b = {0};
	struct alert_sinks *s;

	(void)state;
	cfg.email = "soc@example.jp";
	cfg.email_from = "akashi@example.jp";
	cfg.mail = keep_mail;
	cfg.mail_ctx = &b;
	s = sinks(base, &cfg);
	assert_int_equal(alert_sinks_send(s, ENTRY, strlen(ENTRY), "login.bruteforce_src", "high"),
	                 0);
	run_until(base, s, "email", "sent", 1);
	assert_string_equal(b.subject, "[akashi] high login.bruteforce_src 203.0.113.66");
	assert_string_equal(b.to, "soc@example.jp");
	assert_string_equal(b.from, "akashi@example.jp");
	assert_int_equal(b.seq, 9);
	assert_int_equal(strncmp(b.mid, "<akashi-alert-9.", 16), 0);
	assert_non_null(strstr(b.mid, "@example.jp>"));
	assert_non_null(strstr(b.text, "8 failed logins for 田中"));
	assert_non_null(strstr(b.text, "alert seq  9 "));
	assert_non_null(strstr(b.text, "akashi log --from 9 --to 9\n"));
	assert_non_null(strstr(b.text, "akashi log --from 1 --to 8\n"));
	assert_non_null(strstr(b.text, ENTRY));
	/* CR LF from the logs becomes '?': no line of the text or subject
	 * starts with what followed it. */
	alert_sinks_send(s, inject, strlen(inject), "login.bruteforce_user", "high");
	run_until(base, s, "email", "sent", 2);
	assert_string_equal(b.subject,
	                    "[akashi] high login.bruteforce_user mallory??Bcc: evil@example.jp");
	assert_null(strchr(b.subject, '\r'));
	assert_null(strstr(b.text, "\nBcc"));
	assert_null(strchr(b.text, '\r'));
	/* A mailer that refuses: counted failed, the next one still goes. */
	b.refuse = 1;
	alert_sinks_send(s, ENTRY, strlen(ENTRY), "login.bruteforce_src", "high");
	run_until(base, s, "email", "failed", 1);
	assert_int_equal(b.n, 2);
	free(b.text);
	alert_sinks_free(s);
	event_base_free(base);
}

static void test_sinks__bad_configuration_refused(void **state)
{
	struct alert_sinks_config cfg = {0};

	(void)state;
	cfg.email = "soc@example.jp";
	refused(&cfg, "alerts.email needs the delivery engine");
	cfg.mail = keep_mail;
	cfg.email = "soc@example.jp\r\nBcc: x@example.jp";
	refused(&cfg, "alerts.email: ");
	cfg.email = "soc@example.jp";
	refused(&cfg, "alerts.email_from: '' is not an e-mail address");
	cfg.email = NULL;
	cfg.mail = NULL;
	cfg.webhook_url = "https://hooks.example.jp/x";
	refused(&cfg, "alerts.webhook_secret must be set");
	cfg.webhook_secret = "k";
	cfg.webhook_url = "ftp://hooks.example.jp/x";
	refused(&cfg, "alerts.webhook: 'ftp://hooks.example.jp/x' is not an http(s) URL");
	cfg.webhook_url = NULL;
	cfg.syslog = "udp:127.0.0.1";
	refused(&cfg, "is not udp:HOST:PORT");
	cfg.syslog = "syslog.example.jp:514";
	refused(&cfg, "is not udp:HOST:PORT");
	cfg.syslog = "udp:127.0.0.1:99999";
	refused(&cfg, "is not udp:HOST:PORT");
	cfg.syslog = NULL;
	cfg.min_severity = "urgent";
	refused(&cfg, "alerts.min_severity: 'urgent'");
}

static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sinks__webhook_posts_signed_json),
        cmocka_unit_test(test_sinks__webhook_retries_after_500),
        cmocka_unit_test(test_sinks__webhook_gives_up_and_counts),
        cmocka_unit_test(test_sinks__webhook_connection_refused_is_retried),
        cmocka_unit_test(test_sinks__flush_now_tries_once_more_at_once),
        cmocka_unit_test(test_sinks__full_queue_drops_oldest),
        cmocka_unit_test(test_sinks__https_webhook_verifies_the_peer),
        cmocka_unit_test(test_sinks__syslog_udp_rfc5424),
        cmocka_unit_test(test_sinks__syslog_tcp_octet_counting),
        cmocka_unit_test(test_sinks__syslog_unix_datagram),
        cmocka_unit_test(test_sinks__syslog_tcp_down_keeps_the_queue),
        cmocka_unit_test(test_sinks__email_writes_subject_and_text),
        cmocka_unit_test(test_sinks__bad_configuration_refused),
};

AK_UNIT_MAIN(tests)
