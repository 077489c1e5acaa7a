/*
 * auditd/cmd_token.c - `akashi token create|list|revoke` (API tokens,
 * auditd/tokens.h) and `akashi unsubscribe-token` (one-click unsubscribe
 * links, auditd/unsubscribe.h), the two kinds of credential the daemon
 * checks.
 *
 * Creating and revoking a token are recorded as `system` entries (never
 * the token itself, nor its hash).
 */
#include "auditd/cli.h"

#include "auditd/records.h"
#include "auditd/tokens.h"
#include "auditd/unsubscribe.h"
#include "lib/error.h"
#include "lib/timefmt.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

static json_t *token_fields(const struct token_info *t)
{
	return json_pack("{s:I,s:s,s:s}", "token_id", (json_int_t)t->id, "token_name", t->name,
	                 "role", token_role_name(t->role));
}

static int token_create_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
	                                     {"role", required_argument, NULL, 'r'},
	                                     {"name", required_argument, NULL, 'n'},
	                                     {NULL, 0, NULL, 0}};
	const char *role_s = NULL, *name = NULL;
	struct evidence_store *st = NULL;
	struct token_info t;
	char text[TOKEN_TEXT_MAX];
	json_t *fields = NULL;
	int c, role, rc;

	while ((c = cli_getopt(cli, "token", argc, argv, "", opts)) != -1) {
		if (c == 'r')
			role_s = optarg;
		else if (c == 'n')
			name = optarg;
		else
			return CLI_USAGE;
	}
	if (optind != argc)
		return cli_usage("token", "unexpected argument '%s'", argv[optind]);
	if (role_s == NULL || (role = token_role_parse(role_s)) == 0)
		return cli_usage("token", "--role: one of ingest, read, export, admin");
	if ((rc = cli_open_store(cli, 0, &st)) != 0 ||
	    (rc = token_create(evidence_db(st), role, name, text, &t)) != 0)
		goto done;
	fields = token_fields(&t);
	if ((rc = record_system_append(st, "akashi:cli", "token_create", fields)) != 0) {
		/* A token nobody recorded must not stay valid. */
		char id[24];

		snprintf(id, sizeof(id), "%lld", (long long)t.id);
		token_revoke(evidence_db(st), id, NULL);
		goto done;
	}
	printf("%s\n", text);
	fflush(stdout);
	fprintf(stderr, "akashi: token %lld '%s' (role %s) created; it is shown only this once\n",
	        (long long)t.id, t.name, token_role_name(t.role));
done:
	OPENSSL_cleanse(text, sizeof(text));
	json_decref(fields);
	evidence_close(st);
	return rc ? cli_error("token", rc) : CLI_OK;
}

static int print_token(void *ctx, const struct token_info *t)
{
	char created[AK_TIME_MAX], revoked[AK_TIME_MAX];
	int json = *(int *)ctx;

	ak_time_format(created, t->created_us, AK_TIME_SECONDS);
	if (t->revoked_us)
		ak_time_format(revoked, t->revoked_us, AK_TIME_SECONDS);
	if (json) {
		json_t *j =
		        json_pack("{s:I,s:s,s:s,s:s,s:o}", "id", (json_int_t)t->id, "name", t->name,
		                  "role", token_role_name(t->role), "created", created, "revoked",
		                  t->revoked_us ? json_string(revoked) : json_null());
		char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

		if (s)
			printf("%s\n", s);
		free(s);
		json_decref(j);
	} else {
		printf("%6lld  %-24s  %-7s  %s  %s\n", (long long)t->id, t->name,
		       token_role_name(t->role), created, t->revoked_us ? revoked : "valid");
	}
	return 0;
}

static int token_list_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	        CLI_COMMON_OPTIONS, {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct evidence_store *st = NULL;
	int c, rc, json = 0;

	while ((c = cli_getopt(cli, "token", argc, argv, "", opts)) != -1) {
		if (c == 'j')
			json = 1;
		else
			return CLI_USAGE;
	}
	if (optind != argc)
		return cli_usage("token", "unexpected argument '%s'", argv[optind]);
	if ((rc = cli_open_store(cli, EVIDENCE_READONLY, &st)) != 0)
		return cli_error("token", rc);
	if (!json)
		printf("%6s  %-24s  %-7s  %-20s  %s\n", "id", "name", "role", "created", "revoked");
	rc = token_list(evidence_db(st), print_token, &json);
	evidence_close(st);
	return rc ? cli_error("token", rc) : CLI_OK;
}

static int token_revoke_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
	struct evidence_store *st = NULL;
	struct token_info t;
	json_t *fields = NULL;
	int c, rc;

	while ((c = cli_getopt(cli, "token", argc, argv, "", opts)) != -1)
		return CLI_USAGE;
	if (optind + 1 != argc)
		return cli_usage("token", "revoke takes one ID or NAME");
	if ((rc = cli_open_store(cli, 0, &st)) != 0 ||
	    (rc = token_revoke(evidence_db(st), argv[optind], &t)) != 0)
		goto done;
	fields = token_fields(&t);
	rc = record_system_append(st, "akashi:cli", "token_revoke", fields);
	if (rc == 0)
		printf("revoked token %lld '%s'\n", (long long)t.id, t.name);
done:
	json_decref(fields);
	evidence_close(st);
	return rc ? cli_error("token", rc) : CLI_OK;
}

int cmd_token(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("token", "give create, list or revoke");
	/* The subcommand's own options start after its name. */
	if (strcmp(argv[1], "create") == 0)
		return token_create_cmd(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return token_list_cmd(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return token_revoke_cmd(cli, argc - 1, argv + 1);
	return cli_usage("token", "'%s': give create, list or revoke", argv[1]);
}

int cmd_unsubscribe(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
	                                     {"subject", required_argument, NULL, 's'},
	                                     {"list", required_argument, NULL, 'l'},
	                                     {"campaign", required_argument, NULL, 'c'},
	                                     {"issued", required_argument, NULL, 'i'},
	                                     {"url", required_argument, NULL, 'u'},
	                                     {NULL, 0, NULL, 0}};
	const char *subject = NULL, *list = NULL, *campaign = "", *url = NULL;
	char path[4200];
	unsigned char *secret = NULL;
	size_t secret_len = 0;
	struct ak_buf tok = AK_BUF_INIT(0);
	int64_t issued = ak_time_now();
	int c, rc;

	while ((c = cli_getopt(cli, "unsubscribe-token", argc, argv, "", opts)) != -1) {
		switch (c) {
		case 's':
			subject = optarg;
			break;
		case 'l':
			list = optarg;
			break;
		case 'c':
			campaign = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'i':
			if (ak_time_parse(optarg, strlen(optarg), &issued) != 0)
				return cli_usage("unsubscribe-token", "--issued: %s",
				                 ak_error_last());
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage("unsubscribe-token", "unexpected argument '%s'", argv[optind]);
	if (subject == NULL || list == NULL)
		return cli_usage("unsubscribe-token", "--subject and --list are required");
	if ((rc = cli_configure(cli)) != 0)
		return cli_error("unsubscribe-token", rc);
	if (*config_get(cli->config, "unsubscribe.secret"))
		snprintf(path, sizeof(path), "%s", config_get(cli->config, "unsubscribe.secret"));
	else
		snprintf(path, sizeof(path), "%s/%s", cli->store_dir, UNSUB_SECRET_FILE);
	if ((rc = unsub_secret_load(path, &secret, &secret_len)) != 0 ||
	    (rc = unsub_token_make(&tok, secret, secret_len, subject, list, campaign, issued)) != 0)
		goto done;
	if (url) {
		size_t n = strlen(url);

		if (n && url[n - 1] == '/')
			n--;
		printf("%.*s/v1/unsubscribe?t=%s\n", (int)n, url, tok.data);
	} else
		printf("%s\n", tok.data);
done:
	unsub_secret_free(secret, secret_len);
	ak_buf_free(&tok);
	return rc ? cli_error("unsubscribe-token", rc) : CLI_OK;
}
