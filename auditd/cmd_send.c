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
#include "auditd/unsubscribe.h"
#include "lib/error.h"
#include "lib/log.h"
#include "policies/repo.h"

#include <errno.h>
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

/* Read a whole small file (at most max bytes) into a NUL-terminated buffer. */
static int slurp(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct ak_buf b = AK_BUF_INIT(max);
	char chunk[65536];
	size_t n;
	int rc = 0;

	if (f == NULL)
		return ak_error_set("%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if ((rc = ak_buf_append(&b, chunk, n)) != 0) {
			ak_error_prefix("%s", path);
			break;
		}
	if (rc == 0 && ferror(f))
		rc = ak_error_set("%s: read error", path);
	fclose(f);
	if (rc) {
		ak_buf_free(&b);
		return rc;
	}
	*out = ak_buf_detach(&b, len);
	return 0;
}

/* The unsubscribe secret the daemon checks tokens with: the file
 * unsubscribe.secret names, else <store>/unsubscribe.key (made now when
 * the store predates it, as the daemon does). */
static int unsub_secret(struct cli *cli, unsigned char **out, size_t *len)
{
	const char *given = config_get(cli->config, "unsubscribe.secret");
	char path[4200];
	int rc;

	if (*given)
		snprintf(path, sizeof(path), "%s", given);
	else
		snprintf(path, sizeof(path), "%s/%s", cli->store_dir, UNSUB_SECRET_FILE);
	rc = unsub_secret_load(path, out, len);
	if (rc == AK_ENOTFOUND && *given == '\0' && (rc = unsub_secret_create(path)) == 0)
		rc = unsub_secret_load(path, out, len);
	return rc;
}

static enum delivery_tls tls_mode(const char *s, int *ok)
{
	*ok = 1;
	if (strcmp(s, "required") == 0)
		return DELIVERY_TLS_REQUIRED;
	if (strcmp(s, "opportunistic") == 0)
		return DELIVERY_TLS_OPPORTUNISTIC;
	if (strcmp(s, "off") == 0)
		return DELIVERY_TLS_OFF;
	*ok = 0;
	return DELIVERY_TLS_REQUIRED;
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
	const char *template_path = NULL, *via = NULL;
	char *tpl = NULL, *password = NULL, queue[4200], repo[4200];
	unsigned char *secret = NULL;
	size_t tpl_len = 0, secret_len = 0, plen = 0;
	struct rejects rj = {0};
	int opt, rc = 0, ok;

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
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage("send", "unexpected argument '%s'", argv[optind]);
	if (via)
		return cli_usage("send", "--via needs the daemon's POST /v1/campaigns, which this "
		                         "build does not have yet");
	if (!c.id || !c.stream || !c.list || !c.from || !template_path || !c.recipients)
		return cli_usage("send", "--campaign, --stream, --list, --from, --template and "
		                         "--recipients are required");
	rj.file = c.recipients;
	c.reject = reject;
	c.reject_ctx = &rj;
	if ((rc = cli_open_store(cli, 0, &st)) != 0)
		goto done;
	delivery_options_default(&o);
	snprintf(queue, sizeof(queue), "%s/%s", cli->store_dir, DELIVERY_QUEUE_FILE);
	o.queue_path = queue;
	o.relay = config_get(cli->config, "relay");
	o.relay_user = config_get(cli->config, "relay.user");
	if (*config_get(cli->config, "relay.password_file")) {
		if ((rc = slurp(config_get(cli->config, "relay.password_file"), 4096, &password,
		                &plen)) != 0)
			goto done;
		while (plen && (password[plen - 1] == '\n' || password[plen - 1] == '\r'))
			password[--plen] = '\0';
		o.relay_password = password;
	}
	o.tls = tls_mode(config_get(cli->config, "smtp.tls"), &ok);
	if (!ok) {
		rc = ak_error_code(AK_EINVALID, "smtp.tls: required, opportunistic or off");
		goto done;
	}
	o.ca_file = config_get(cli->config, "tls.ca_file");
	o.helo = config_get(cli->config, "smtp.helo");
	o.mx_port = (int)config_int(cli->config, "smtp.port");
	o.timeout_s = (int)config_seconds(cli->config, "smtp.timeout");
	o.dns_server = config_get(cli->config, "smtp.dns_server");
	o.dkim_domain = config_get(cli->config, "dkim.domain");
	o.dkim_selector = config_get(cli->config, "dkim.selector");
	o.dkim_key = config_get(cli->config, "dkim.key");
	o.dkim_ed25519_selector = config_get(cli->config, "dkim.ed25519_selector");
	o.dkim_ed25519_key = config_get(cli->config, "dkim.ed25519_key");
	if (strcmp(config_get(cli->config, "dkim.engine"), "libopendkim") == 0)
		o.dkim_libopendkim = 1;
	else if (strcmp(config_get(cli->config, "dkim.engine"), "builtin") != 0) {
		rc = ak_error_code(AK_EINVALID, "dkim.engine: builtin or libopendkim");
		goto done;
	}
	o.unsub_base_url = config_get(cli->config, "unsubscribe.base_url");
	if (*o.unsub_base_url) {
		if ((rc = unsub_secret(cli, &secret, &secret_len)) != 0)
			goto done;
		o.unsub_secret = secret;
		o.unsub_secret_len = secret_len;
	}
	o.max_age_s = config_seconds(cli->config, "queue.max_age");
	o.retry_min_s = config_seconds(cli->config, "queue.retry_min");
	o.retry_max_s = config_seconds(cli->config, "queue.retry_max");
	o.connections = (int)config_int(cli->config, "delivery.connections");
	o.rate = (int)config_int(cli->config, "delivery.rate");
	o.max_inflight = (int)config_int(cli->config, "delivery.max_inflight");
	o.signers = (int)config_int(cli->config, "delivery.signers");
	o.batch = (int)config_int(cli->config, "delivery.batch");
	if (*config_get(cli->config, "policies.repo"))
		snprintf(repo, sizeof(repo), "%s", config_get(cli->config, "policies.repo"));
	else
		snprintf(repo, sizeof(repo), "%s/policies", cli->store_dir);
	if ((rc = policy_load(&set, repo, config_get(cli->config, "policies.ref"))) != 0) {
		ak_error_prefix("policies %s", repo);
		goto done;
	}
	if ((rc = slurp(template_path, 16 << 20, &tpl, &tpl_len)) != 0)
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
	if (secret)
		unsub_secret_free(secret, secret_len);
	if (password)
		explicit_bzero(password, plen);
	free(password);
	return rc ? cli_error("send", rc) : CLI_OK;
}

int cmd_campaign(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	struct delivery_counts k;
	char queue[4200];
	int opt, rc;

	while ((opt = cli_getopt(cli, "campaign", argc, argv, "", opts)) != -1)
		return CLI_USAGE;
	if (argc - optind != 2 || strcmp(argv[optind], "status") != 0)
		return cli_usage("campaign", "expected: status ID");
	if ((rc = cli_configure(cli)) != 0)
		return cli_error("campaign", rc);
	snprintf(queue, sizeof(queue), "%s/%s", cli->store_dir, DELIVERY_QUEUE_FILE);
	if ((rc = delivery_status(queue, argv[optind + 1], &k)) != 0)
		return cli_error("campaign", rc);
	print_counts(argv[optind + 1], &k);
	return CLI_OK;
}
