/*
 * auditd/cmd_ingest.c - `akashi ingest`: read records from files or
 * standard input through an adapter (chosen by --kind and --format) into
 * the ingest pipeline, then append them (auditd/ingest/pipeline.h).
 *
 * By default an input with any invalid record appends nothing; every
 * problem is printed with its place and reason. --skip-invalid appends the
 * valid records and writes the rejected ones, with reasons, to a rejects
 * file (JSON Lines). The last line of output is always
 * "N appended, M duplicates, K rejected".
 *
 * The appends are durable when that line is printed; the catalog and the
 * full-text index then catch up. --no-index leaves both behind, for bulk
 * loads: the daemon, `akashi audit`, `report` and `search` bring them up
 * to date when they need them, and until then scans read the uncatalogued
 * tail from the log itself (evidence/index.c), so no reader misses an entry.
 */
#include "auditd/cli.h"

#include "auditd/ingest/consent.h"
#include "auditd/ingest/dmarc.h"
#include "auditd/ingest/dsn.h"
#include "auditd/ingest/ingest.h"
#include "auditd/ingest/ocsf.h"
#include "auditd/ingest/postfix.h"
#include "auditd/ingest/kinds.h"
#include "auditd/ingest/pipeline.h"
#include "lib/error.h"
#include "lib/timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int (*adapter_fn)(FILE *in, const char *path, const struct ingest_options *opt,
			  struct ingest_pipeline *p);

static int native(FILE *in, const char *path, const struct ingest_options *opt,
		  struct ingest_pipeline *p)
{
	(void)path;
	return ingest_native(in, opt, p);
}

static int consent_csv(FILE *in, const char *path, const struct ingest_options *opt,
		       struct ingest_pipeline *p)
{
	(void)path;
	return ingest_consent_csv(in, opt, ingest_pipeline_sink(p));
}

static int admin_ocsf(FILE *in, const char *path, const struct ingest_options *opt,
		      struct ingest_pipeline *p)
{
	(void)path;
	return ingest_admin_ocsf(in, opt, ingest_pipeline_sink(p));
}

static int send_postfix(FILE *in, const char *path, const struct ingest_options *opt,
			struct ingest_pipeline *p)
{
	(void)path;
	return ingest_postfix(in, opt, ingest_pipeline_sink(p));
}

/* DMARC reports come as files, archives, messages, mailboxes or a Maildir
 * folder: the adapter opens the path itself (in is NULL), or reads
 * standard input whole, up to the report size limit. */
static int dmarc_auto(FILE *in, const char *path, const struct ingest_options *opt,
		      struct ingest_pipeline *p)
{
	struct ak_buf all = AK_BUF_INIT(opt->max_bytes ? opt->max_bytes : ((size_t)256 << 20));
	char chunk[65536];
	size_t n;
	int rc;

	if (in == NULL)
		return ingest_dmarc_path(path, opt, ingest_pipeline_sink(p));
	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		if ((rc = ak_buf_append(&all, chunk, n)) != 0) {
			ak_buf_free(&all);
			ak_error_prefix("%s", opt->name);
			return rc;
		}
	if (ferror(in)) {
		ak_buf_free(&all);
		return ak_error_set("%s: read error", opt->name);
	}
	rc = ingest_dmarc_mem(all.data ? all.data : "", all.len, opt, ingest_pipeline_sink(p));
	ak_buf_free(&all);
	return rc;
}

/* DSNs and ARF reports: one message, an mbox or a Maildir folder, opened
 * by the adapter; standard input is read whole like DMARC's. */
static int read_all(FILE *in, const struct ingest_options *opt, struct ak_buf *all)
{
	char chunk[65536];
	size_t n;
	int rc;

	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		if ((rc = ak_buf_append(all, chunk, n)) != 0) {
			ak_error_prefix("%s", opt->name);
			return rc;
		}
	if (ferror(in))
		return ak_error_set("%s: read error", opt->name);
	return 0;
}

static int send_mail(FILE *in, const char *path, int arf, const struct ingest_options *opt,
		     struct ingest_pipeline *p)
{
	struct ak_buf all = AK_BUF_INIT(opt->max_bytes ? opt->max_bytes : ((size_t)256 << 20));
	int rc;

	if (in == NULL)
		return ingest_dsn_path(path, arf, opt, ingest_pipeline_sink(p));
	rc = read_all(in, opt, &all);
	if (rc == 0)
		rc = ingest_dsn_mem(all.data ? all.data : "", all.len, arf, opt,
				    ingest_pipeline_sink(p));
	ak_buf_free(&all);
	return rc;
}

static int send_dsn(FILE *in, const char *path, const struct ingest_options *opt,
		    struct ingest_pipeline *p)
{
	return send_mail(in, path, 0, opt, p);
}

static int send_arf(FILE *in, const char *path, const struct ingest_options *opt,
		    struct ingest_pipeline *p)
{
	return send_mail(in, path, 1, opt, p);
}

struct format {
	const char *kind;   /* NULL: any kind (native lines carry their own) */
	const char *format;
	adapter_fn read;
	int is_default;
	int opens_path;     /* the adapter opens files itself (in is NULL) */
};

static const struct format formats[] = {
	{NULL, "jsonl", native, 1},
	{"send", "jsonl", native, 1},
	{"send", "postfix", send_postfix, 0},
	{"send", "dsn", send_dsn, 0, 1},
	{"send", "arf", send_arf, 0, 1},
	{"consent", "jsonl", native, 1},
	{"consent", "csv", consent_csv, 0},
	{"admin", "jsonl", native, 1},
	{"admin", "ocsf", admin_ocsf, 0},
	{"dmarc", "auto", dmarc_auto, 1, 1},
	{"dmarc", "jsonl", native, 0},
	{"finding", "jsonl", native, 1},
	{"alert", "jsonl", native, 1},
	{"system", "jsonl", native, 1},
};

static const struct format *find_format(const char *kind, const char *format)
{
	size_t i;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		const struct format *f = &formats[i];

		if ((kind == NULL) != (f->kind == NULL) || (kind && strcmp(kind, f->kind) != 0))
			continue;
		if (format ? strcmp(format, f->format) == 0 : f->is_default)
			return f;
	}
	return NULL;
}

cli_adapter_fn cli_ingest_adapter(const char *kind, const char *format)
{
	const struct format *f = find_format(kind, format);

	return f ? f->read : NULL;
}

static void list_formats(const char *kind)
{
	size_t i;

	fprintf(stderr, "formats for %s:", kind ? kind : "native entries");
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if ((kind == NULL && formats[i].kind == NULL) ||
		    (kind && formats[i].kind && strcmp(kind, formats[i].kind) == 0))
			fprintf(stderr, " %s", formats[i].format);
	fputc('\n', stderr);
}

void cli_ingest_formats(FILE *out)
{
	const char *const *kinds = ingest_kinds;
	size_t i, k;

	fprintf(out, "formats (--kind KIND --format FORMAT; the first is the default):\n");
	for (k = 0; kinds[k]; k++) {
		int first = 1;

		fprintf(out, "  %-8s", kinds[k]);
		for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
			if (formats[i].kind && strcmp(formats[i].kind, kinds[k]) == 0 &&
			    formats[i].is_default) {
				fprintf(out, " %s", formats[i].format);
				first = 0;
			}
		for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
			if (formats[i].kind && strcmp(formats[i].kind, kinds[k]) == 0 &&
			    !formats[i].is_default)
				fprintf(out, "%s%s", first ? " " : ", ", formats[i].format), first = 0;
		fputc('\n', out);
	}
}

/* Open the rejects file: --rejects, else <store>/rejects/ingest-<time>.jsonl. */
static FILE *open_rejects(const char *given, const char *store, char *path, size_t cap)
{
	char t[AK_TIME_MAX], dir[4096];
	FILE *f;
	int i;

	if (given) {
		snprintf(path, cap, "%s", given);
		f = fopen(path, "w");
		if (f == NULL)
			ak_error_set("%s: %s", path, strerror(errno));
		return f;
	}
	snprintf(dir, sizeof(dir), "%s/rejects", store);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		ak_error_set("%s: %s", dir, strerror(errno));
		return NULL;
	}
	ak_time_format(t, ak_time_now(), AK_TIME_SECONDS);
	for (i = 0; i < 100; i++) {
		snprintf(path, cap, "%s/ingest-%s%s%.0d.jsonl", dir, t, i ? "-" : "", i);
		if (access(path, F_OK) != 0)
			break;
	}
	f = fopen(path, "wx");
	if (f == NULL)
		ak_error_set("%s: %s", path, strerror(errno));
	return f;
}

int cmd_ingest(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {CLI_COMMON_OPTIONS,
					     {"kind", required_argument, NULL, 'k'},
					     {"format", required_argument, NULL, 'f'},
					     {"source", required_argument, NULL, 's'},
					     {"skip-invalid", no_argument, NULL, 'S'},
					     {"rejects", required_argument, NULL, 'r'},
					     {"year", required_argument, NULL, 'y'},
					     {"zone", required_argument, NULL, 'z'},
					     {"no-index", no_argument, NULL, 'N'},
					     {NULL, 0, NULL, 0}};
	const char *kind = NULL, *format = NULL, *source = NULL, *rejects_opt = NULL;
	const char *zone = NULL;
	int64_t year = -1;
	int skip_invalid = 0, no_index = 0, c, rc = 0, i;
	const struct format *fmt;
	struct ingest_pipeline_opts po = {0};
	struct ingest_pipeline *p = NULL;
	struct ingest_counts counts = {0};
	struct evidence_store *st = NULL;
	char rejects_path[4200] = "";
	FILE *rejects = NULL;
	int64_t t0 = ak_time_now(), t_collect = t0, t_append = t0;
	/* AKASHI_STATS=1: the time of each phase on stderr (for bench/). */
	int stats = getenv("AKASHI_STATS") != NULL;

	while ((c = cli_getopt(cli, "ingest", argc, argv, "", opts)) != -1) {
		switch (c) {
		case 'k':
			kind = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 's':
			source = optarg;
			break;
		case 'S':
			skip_invalid = 1;
			break;
		case 'r':
			rejects_opt = optarg;
			break;
		case 'y':
			if (cli_int("--year", optarg, 1970, 9999, &year) != 0)
				return cli_usage("ingest", "%s", ak_error_last());
			break;
		case 'z':
			zone = optarg;
			break;
		case 'N':
			no_index = 1;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (optind == argc)
		return cli_usage("ingest", "give FILE... or - for standard input");
	if (kind && !ingest_kind_known(kind))
		return cli_usage("ingest", "--kind %s: not one of send, consent, admin, dmarc, "
					   "finding, alert, system",
				 kind);
	fmt = find_format(kind, format);
	if (fmt == NULL) {
		list_formats(kind);
		return cli_usage("ingest", "no format '%s' for %s", format ? format : "(default)",
				 kind ? kind : "native entries");
	}
	if ((rc = cli_open_store(cli, 0, &st)) != 0)
		return cli_error("ingest", rc);
	if (zone == NULL && *config_get(cli->config, "ingest.zone"))
		zone = config_get(cli->config, "ingest.zone");
	if (year < 0)
		year = config_int(cli->config, "ingest.year");
	if (skip_invalid || rejects_opt) {
		rejects = open_rejects(rejects_opt, cli->store_dir, rejects_path,
				       sizeof(rejects_path));
		if (rejects == NULL) {
			rc = AK_ERROR;
			goto done;
		}
	}
	po.kind = kind;
	po.skip_invalid = skip_invalid;
	po.rejects = rejects;
	po.errors = stderr;
	po.max_errors_shown = (size_t)config_int(cli->config, "ingest.max_errors_shown");
	po.batch = (size_t)config_int(cli->config, "ingest.batch");
	po.spool_dir = cli->store_dir;
	if ((rc = ingest_pipeline_new(&p, st, &po)) != 0)
		goto done;
	for (i = optind; i < argc; i++) {
		const char *path = argv[i];
		struct ingest_options o = {0};
		struct stat sb;
		FILE *in;

		o.name = path;
		o.source = source;
		o.year = (int)year;
		o.zone = zone;
		o.max_line = (size_t)config_int(cli->config, "ingest.max_line");
		o.max_bytes = (size_t)config_int(cli->config, "ingest.max_report_bytes");
		o.max_records = (size_t)config_int(cli->config, "ingest.max_report_rows");
		if (strcmp(path, "-") == 0) {
			in = stdin;
			o.name = "stdin";
			o.ref_us = ak_time_now();
		} else if (fmt->opens_path) {
			in = NULL;
			o.ref_us = stat(path, &sb) == 0 ? (int64_t)sb.st_mtime * 1000000 : ak_time_now();
		} else {
			in = fopen(path, "rb");
			if (in == NULL) {
				rc = ak_error_set("%s: %s", path, strerror(errno));
				goto done;
			}
			o.ref_us = fstat(fileno(in), &sb) == 0 ? (int64_t)sb.st_mtime * 1000000
							       : ak_time_now();
		}
		ingest_pipeline_next_input(p);
		rc = fmt->read(in, path, &o, p);
		if (in && in != stdin)
			fclose(in);
		if (rc != 0)
			goto done;
	}
	t_collect = ak_time_now();
	rc = ingest_pipeline_commit(p, &counts);
	t_append = ak_time_now();
	if (rc == 0 && counts.appended && !no_index) {
		/* The catalog and search index follow right away; appends were
		 * durable before this started. */
		rc = evidence_catchup(st, 0, NULL);
	}
done:
	if (stats)
		fprintf(stderr, "ingest: collect %.3f s, append %.3f s, index %.3f s\n",
			(t_collect - t0) / 1e6, (t_append - t_collect) / 1e6,
			(ak_time_now() - t_append) / 1e6);
	if (p && rc != 0 && counts.records == 0 && counts.rejected == 0)
		ingest_pipeline_counts(p, &counts);
	if (rejects && fclose(rejects) != 0 && rc == 0)
		rc = ak_error_set("%s: %s", rejects_path, strerror(errno));
	if (rejects && counts.rejected)
		fprintf(stderr, "akashi: ingest: rejected records with reasons: %s\n", rejects_path);
	else if (rejects && !rejects_opt)
		unlink(rejects_path);
	if (rc != 0)
		cli_error("ingest", rc);
	if (counts.skipped)
		printf("%zu skipped (input that is not a record, e.g. other programs' log lines)\n",
		       counts.skipped);
	printf("%zu appended, %zu duplicates, %zu rejected\n", counts.appended, counts.duplicates,
	       counts.rejected);
	ingest_pipeline_free(p);
	evidence_close(st);
	return rc ? CLI_FAIL : CLI_OK;
}
