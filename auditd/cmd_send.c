/*
 * auditd/cmd_send.c - `akashi send` (run a campaign in-process through the
 * delivery engine) and `akashi campaign status`.
 *
 * `akashi send` opens the store, loads the policies in force from git,
 * puts the campaign into the store's delivery queue (<store>/queue.db)
 * and runs the queue until every recipient has a final status or is
 * deferred to later, then prints the counts by status. Running it again
 * with the same campaign resumes it (after a crash, or to retry what was
 * deferred); the queue's runner lock keeps two runners apart.
 */
#include "auditd/cli.h"

#include "auditd/delivery/delivery.h"
#include "lib/error.h"
#include "lib/log.h"
#include "policies/repo.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The engine a signal asks to stop (one per process: the CLI's). */
static struct delivery *running;

static void on_signal(int sig)
{
	(void)sig;
	if (running)
		delivery_stop(running);
}

/* ---- talking to a daemon (--via URL --token T) ---- */

struct http_result {
	int code;
	struct ak_buf body;
	int done;
};

static void http_done(struct evhttp_request *req, void *arg)
{
	struct http_result *r = arg;

	r->done = 1;
	if (req == NULL)
		return;
	r->code = evhttp_request_get_response_code(req);
	{
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);

		if (ak_buf_append(&r->body, evbuffer_pullup(in, (ev_ssize_t)n), n) != 0)
			r->code = 0;
	}
}

/* One HTTP(S) request to the daemon; r gets the status and body. With
 * https the server's certificate is verified (system store, or
 * tls.ca_file) and must name the URL's host. */
static int http_call(struct cli *cli, const char *url, const char *token, int post,
                     const char *pathq, const char *body, size_t len, struct http_result *r)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	struct event_base *base = NULL;
	struct evhttp_connection *conn = NULL;
	struct evhttp_request *req;
	struct bufferevent *bev = NULL;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	const char *scheme, *host, *ca = config_get(cli->config, "tls.ca_file");
	char auth[200], path[2048];
	int port, https, rc = 0;

	memset(r, 0, sizeof(*r));
	ak_buf_init(&r->body, 64 << 20);
	if (u == NULL || (scheme = evhttp_uri_get_scheme(u)) == NULL ||
	    (host = evhttp_uri_get_host(u)) == NULL ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		rc = ak_error_code(AK_EINVALID, "--via %s: expected http(s)://HOST[:PORT]", url);
		goto done;
	}
	https = strcmp(scheme, "https") == 0;
	port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : https ? 443 : 80;
	snprintf(path, sizeof(path), "%s%s",
	         evhttp_uri_get_path(u) && strcmp(evhttp_uri_get_path(u), "/")
	                 ? evhttp_uri_get_path(u)
	                 : "",
	         pathq);
	if ((base = event_base_new()) == NULL) {
		rc = ak_error_set("libevent: no event loop");
		goto done;
	}
	if (https) {
		if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
		    (*ca ? SSL_CTX_load_verify_locations(ctx, ca, NULL)
		         : SSL_CTX_set_default_verify_paths(ctx)) != 1 ||
		    (ssl = SSL_new(ctx)) == NULL) {
			rc = ak_error_set("TLS: cannot set up (tls.ca_file %s)",
			                  *ca ? ca : "unset");
			goto done;
		}
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		SSL_set_tlsext_host_name(ssl, host);
		SSL_set1_host(ssl, host);
		bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		                                     BEV_OPT_CLOSE_ON_FREE |
		                                             BEV_OPT_DEFER_CALLBACKS);
		ssl = NULL; /* the bufferevent's */
	} else
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL ||
	    (conn = evhttp_connection_base_bufferevent_new(base, NULL, bev, host,
	                                                   (unsigned short)port)) == NULL ||
	    (req = evhttp_request_new(http_done, r)) == NULL) {
		rc = ak_error_set("cannot connect to %s", url);
		goto done;
	}
	evhttp_connection_set_timeout(conn, 600);
	snprintf(auth, sizeof(auth), "Bearer %s", token);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Authorization", auth);
	if (post) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		                  "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	}
	if (evhttp_make_request(conn, req, post ? EVHTTP_REQ_POST : EVHTTP_REQ_GET, path) != 0) {
		rc = ak_error_set("cannot send a request to %s", url);
		goto done;
	}
	while (!r->done && event_base_loop(base, EVLOOP_ONCE) == 0)
		;
	if (r->code == 0)
		rc = ak_error_set("no answer from %s", url);
done:
	if (conn)
		evhttp_connection_free(conn); /* frees bev */
	else if (bev)
		bufferevent_free(bev);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (base)
		event_base_free(base);
	if (u)
		evhttp_uri_free(u);
	return rc;
}

static const char *via_token(const char *given)
{
	const char *env = getenv("AKASHI_TOKEN");

	return given ? given : env ? env : NULL;
}

/* The error in a daemon's JSON answer, or the body. */
static const char *answer_error(const struct http_result *r, char *buf, size_t cap)
{
	json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));
	size_t i;

	snprintf(buf, cap, "%s", e ? e : r->body.data ? r->body.data : "");
	if (j && json_array_size(json_object_get(j, "rejects"))) {
		for (i = 0; i < json_array_size(json_object_get(j, "rejects")); i++) {
			json_t *x = json_array_get(json_object_get(j, "rejects"), i);

			fprintf(stderr, "akashi: line %lld: %s\n",
			        (long long)json_integer_value(json_object_get(x, "line")),
			        json_string_value(json_object_get(x, "reason")));
		}
	}
	json_decref(j);
	return buf;
}

static int send_via(struct cli *cli, const struct delivery_campaign *c, const char *tpl_path,
                    const char *via, const char *token)
{
	char *tpl = NULL, *csv = NULL, *text = NULL, err[600];
	size_t tl = 0, cl = 0;
	struct http_result r = {0};
	json_t *o = NULL, *a;
	int rc;

	if ((rc = cli_configure(cli)) != 0 ||
	    (rc = delivery_slurp(tpl_path, 16 << 20, &tpl, &tl)) != 0 ||
	    (rc = delivery_slurp(c->recipients, (size_t)1 << 30, &csv, &cl)) != 0)
		goto done;
	o = json_pack("{s:s,s:s,s:s,s:s,s:s%,s:s%,s:b}", "campaign", c->id, "stream", c->stream,
	              "list", c->list, "from", c->from, "template", tpl, tl, "recipients", csv, cl,
	              "skip_invalid", c->skip_invalid);
	if (o && c->owner)
		json_object_set_new(o, "owner", json_string(c->owner));
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL) {
		rc = ak_error_code(AK_EINVALID, "the template and recipients must be UTF-8 text");
		goto done;
	}
	if ((rc = http_call(cli, via, token, 1, "/v1/campaigns", text, strlen(text), &r)) != 0)
		goto done;
	if (r.code != 202) {
		rc = ak_error_code(r.code == 400 ? AK_EINVALID : AK_ERROR, "%s: %d: %s", via,
		                   r.code, answer_error(&r, err, sizeof(err)));
		goto done;
	}
	a = json_loadb(r.body.data, r.body.len, 0, NULL);
	printf("campaign %s: handed to %s: %lld recipients%s (%lld duplicates, %lld invalid rows "
	       "skipped)\n",
	       c->id, via, (long long)json_integer_value(json_object_get(a, "recipients")),
	       json_is_true(json_object_get(a, "resumed")) ? " (resumed)" : "",
	       (long long)json_integer_value(json_object_get(a, "duplicates")),
	       (long long)json_integer_value(json_object_get(a, "invalid")));
	json_decref(a);
done:
	free(tpl);
	free(csv);
	free(text);
	json_decref(o);
	ak_buf_free(&r.body);
	return rc;
}

struct rejects {
	const char *file;
	unsigned long shown;
};

static void reject(void *ctx, unsigned long line, const char *why)
{
	struct rejects *r = ctx;

	if (r->shown++ < 20)
		fprintf(stderr, "akashi: send: %s:%lu: %s\n", r->file, line, why);
	else if (r->shown == 21)
		fprintf(stderr, "akashi: send: (more refused rows not shown)\n");
}

static void print_counts(const char *id, const struct delivery_counts *k)
{
	printf("campaign %s: %lld recipients: sent %lld, deferred %lld, bounced %lld, blocked "
	       "%lld, expired %lld",
	       id, (long long)k->total, (long long)k->sent, (long long)k->deferred,
	       (long long)k->bounced, (long long)k->blocked, (long long)k->expired);
	if (k->pending || k->queued || k->inflight)
		printf(", not yet attempted %lld",
		       (long long)(k->pending + k->queued + k->inflight));
	printf("\n");
}

int cmd_send(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
	                                     {"campaign", required_argument, NULL, 'c'},
	                                     {"stream", required_argument, NULL, 's'},
	                                     {"list", required_argument, NULL, 'l'},
	                                     {"from", required_argument, NULL, 'f'},
	                                     {"template", required_argument, NULL, 't'},
	                                     {"recipients", required_argument, NULL, 'r'},
	                                     {"owner", required_argument, NULL, 'o'},
	                                     {"skip-invalid", no_argument, NULL, 'k'},
	                                     {"via", required_argument, NULL, 'v'},
	                                     {"token", required_argument, NULL, 'T'},
	                                     {NULL, 0, NULL, 0}};
	struct delivery_campaign c = {0};
	struct delivery_options o;
	struct delivery_sink sink;
	struct delivery_load load;
	struct delivery_counts counts;
	struct evidence_store *st = NULL;
	struct policy_set *set = NULL;
	struct delivery *d = NULL;
	const char *template_path = NULL, *via = NULL, *token = NULL;
	char *tpl = NULL, repo[4200];
	struct delivery_owned own = {0};
	size_t tpl_len = 0;
	struct rejects rj = {0};
	int opt, rc = 0;

	while ((opt = cli_getopt(cli, "send", argc, argv, "", opts)) != -1) {
		switch (opt) {
		case 'c':
			c.id = optarg;
			break;
		case 's':
			c.stream = optarg;
			break;
		case 'l':
			c.list = optarg;
			break;
		case 'f':
			c.from = optarg;
			break;
		case 't':
			template_path = optarg;
			break;
		case 'r':
			c.recipients = optarg;
			break;
		case 'o':
			c.owner = optarg;
			break;
		case 'k':
			c.skip_invalid = 1;
			break;
		case 'v':
			via = optarg;
			break;
		case 'T':
			token = optarg;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage("send", "unexpected argument '%s'", argv[optind]);
	if (!c.id || !c.stream || !c.list || !c.from || !template_path || !c.recipients)
		return cli_usage("send", "--campaign, --stream, --list, --from, --template and "
		                         "--recipients are required");
	if (via) {
		if (via_token(token) == NULL)
			return cli_usage("send", "--via needs --token (or AKASHI_TOKEN)");
		rc = send_via(cli, &c, template_path, via, via_token(token));
		return rc ? cli_error("send", rc) : CLI_OK;
	}
	rj.file = c.recipients;
	c.reject = reject;
	c.reject_ctx = &rj;
	if ((rc = cli_open_store(cli, 0, &st)) != 0)
		goto done;
	if ((rc = delivery_options_from_config(cli->config, cli->store_dir, &o, &own)) != 0)
		goto done;
	if (*config_get(cli->config, "policies.repo"))
		snprintf(repo, sizeof(repo), "%s", config_get(cli->config, "policies.repo"));
	else
		snprintf(repo, sizeof(repo), "%s/policies", cli->store_dir);
	if ((rc = policy_load(&set, repo, config_get(cli->config, "policies.ref"))) != 0) {
		ak_error_prefix("policies %s", repo);
		goto done;
	}
	if ((rc = delivery_slurp(template_path, 16 << 20, &tpl, &tpl_len)) != 0)
		goto done;
	c.template_data = tpl;
	c.template_len = tpl_len;
	delivery_sink_store(&sink, st);
	if ((rc = delivery_new(&d, &o, &sink, evidence_db(st), set)) != 0)
		goto done;
	if ((rc = delivery_submit(d, &c, &load)) != 0)
		goto done;
	if (load.resumed)
		printf("campaign %s: resumed (%lld recipients)\n", c.id, (long long)load.size);
	else
		printf("campaign %s: %lld recipients queued (%lld duplicates, %lld invalid rows "
		       "skipped)\n",
		       c.id, (long long)load.size, (long long)load.duplicates,
		       (long long)load.invalid);
	fflush(stdout);
	running = d;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rc = delivery_run(d, c.id, DELIVERY_UNTIL_SETTLED, &counts);
	running = NULL;
	if (rc == 0)
		print_counts(c.id, &counts);
done:
	delivery_free(d);
	policy_set_free(set);
	evidence_close(st);
	free(tpl);
	delivery_owned_free(&own);
	return rc ? cli_error("send", rc) : CLI_OK;
}

static int status_via(struct cli *cli, const char *id, const char *via, const char *token, int wait)
{
	struct http_result r = {0};
	struct delivery_counts k;
	char path[600], err[600], enc[520];
	size_t i, o = 0;
	int rc;

	for (i = 0; id[i] && o + 4 < sizeof(enc); i++) {
		unsigned char ch = (unsigned char)id[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')
			enc[o++] = (char)ch;
		else
			o += (size_t)snprintf(enc + o, 4, "%%%02X", ch);
	}
	enc[o] = '\0';
	snprintf(path, sizeof(path), "/v1/campaigns?id=%s", enc);
	for (;;) {
		json_t *a;

		if ((rc = cli_configure(cli)) != 0 ||
		    (rc = http_call(cli, via, token, 0, path, NULL, 0, &r)) != 0)
			break;
		if (r.code != 200) {
			rc = ak_error_code(r.code == 404 ? AK_ENOTFOUND : AK_ERROR, "%s: %d: %s",
			                   via, r.code, answer_error(&r, err, sizeof(err)));
			break;
		}
		a = json_loadb(r.body.data, r.body.len, 0, NULL);
		memset(&k, 0, sizeof(k));
		k.total = json_integer_value(json_object_get(a, "total"));
		k.pending = json_integer_value(json_object_get(a, "not_yet_attempted"));
		k.sent = json_integer_value(json_object_get(a, "sent"));
		k.deferred = json_integer_value(json_object_get(a, "deferred"));
		k.bounced = json_integer_value(json_object_get(a, "bounced"));
		k.blocked = json_integer_value(json_object_get(a, "blocked"));
		k.expired = json_integer_value(json_object_get(a, "expired"));
		json_decref(a);
		ak_buf_free(&r.body);
		if (!wait || k.pending == 0) {
			print_counts(id, &k);
			break;
		}
		usleep(200000);
	}
	ak_buf_free(&r.body);
	return rc;
}

int cmd_campaign(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
	                                     {"via", required_argument, NULL, 'v'},
	                                     {"token", required_argument, NULL, 'T'},
	                                     {"wait", no_argument, NULL, 'w'},
	                                     {NULL, 0, NULL, 0}};
	struct delivery_counts k;
	const char *via = NULL, *token = NULL;
	char queue[4200];
	int opt, rc, wait = 0;

	while ((opt = cli_getopt(cli, "campaign", argc, argv, "", opts)) != -1) {
		if (opt == 'v')
			via = optarg;
		else if (opt == 'T')
			token = optarg;
		else if (opt == 'w')
			wait = 1;
		else
			return CLI_USAGE;
	}
	if (argc - optind != 2 || strcmp(argv[optind], "status") != 0)
		return cli_usage("campaign", "expected: status ID");
	if (via) {
		if (via_token(token) == NULL)
			return cli_usage("campaign", "--via needs --token (or AKASHI_TOKEN)");
		rc = status_via(cli, argv[optind + 1], via, via_token(token), wait);
		return rc ? cli_error("campaign", rc) : CLI_OK;
	}
	if ((rc = cli_configure(cli)) != 0)
		return cli_error("campaign", rc);
	snprintf(queue, sizeof(queue), "%s/%s", cli->store_dir, DELIVERY_QUEUE_FILE);
	for (;;) {
		if ((rc = delivery_status(queue, argv[optind + 1], &k)) != 0)
			return cli_error("campaign", rc);
		if (!wait || k.pending + k.queued + k.inflight == 0)
			break;
		usleep(200000);
	}
	print_counts(argv[optind + 1], &k);
	return CLI_OK;
}
