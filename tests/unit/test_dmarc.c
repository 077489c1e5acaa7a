/*
 * tests/unit/test_dmarc.c - the DMARC adapter (auditd/ingest/dmarc.h).
 *
 * Every sample in tests/data/dmarc/ is ingested and compared with its
 * F.expected.json (computed independently, see that directory's README):
 * the directory is read at run time, so a new sample with its expected file
 * is a new check. The hostile inputs of tests/data/dmarc-hostile/ must end
 * in a reject whose reason names the problem, never a record. Small
 * documents written inline below cover validation messages, namespaces and
 * element order. Tests run from the repository root.
 */
#include "tests/unit/unit.h"

#include "auditd/ingest/dmarc.h"
#include "lib/buf.h"
#include "lib/error.h"
#include "lib/jcs.h"
#include "lib/timefmt.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SAMPLES "tests/data/dmarc"
#define HOSTILE "tests/data/dmarc-hostile"

/* What a sink saw: records as {"where","source","event_id","time_us",
 * "body","body_text"}, rejects as {"where","reason"}, skips likewise. */
struct capture {
	json_t *records, *rejects, *skips;
	int stop_at; /* record() fails on this record (1-based); 0: never */
	int not_canonical;
};

/* Whether text is exactly its own canonical form (lib/jcs). */
static int is_canonical(const char *text, size_t len)
{
	struct ak_buf out = AK_BUF_INIT(0);
	int same = ak_jcs_canonicalize(&out, text, len) == 0 && out.len == len &&
	           memcmp(out.data, text, len) == 0;

	ak_buf_free(&out);
	return same;
}

static int on_record(void *ctx, const struct ingest_record *rec)
{
	struct capture *c = ctx;
	json_error_t err;
	json_t *body;

	assert_string_equal(rec->kind, "dmarc");
	assert_null(rec->body);
	assert_non_null(rec->body_json);
	body = json_loadb(rec->body_json, rec->body_json_len, JSON_REJECT_DUPLICATES, &err);
	if (body == NULL)
		fail_msg("%s: body is not JSON: %s", rec->where, err.text);
	if (!is_canonical(rec->body_json, rec->body_json_len))
		c->not_canonical++;
	json_array_append_new(c->records,
	                      json_pack("{s:s,s:s,s:s?,s:I,s:o,s:s%}", "where", rec->where,
	                                "source", rec->source, "event_id", rec->event_id, "time_us",
	                                (json_int_t)rec->time_us, "body", body, "body_text",
	                                rec->body_json, rec->body_json_len));
	if (c->stop_at && (int)json_array_size(c->records) == c->stop_at)
		return ak_error_set("sink: enough");
	return 0;
}

static int on_reject(void *ctx, const char *where, const char *reason, const char *raw, size_t n)
{
	struct capture *c = ctx;

	(void)raw, (void)n;
	json_array_append_new(c->rejects, json_pack("{s:s,s:s}", "where", where, "reason", reason));
	return 0;
}

static void on_skip(void *ctx, const char *where, const char *why)
{
	struct capture *c = ctx;

	json_array_append_new(c->skips, json_pack("{s:s,s:s}", "where", where, "reason", why));
}

static void capture_init(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->records = json_array();
	c->rejects = json_array();
	c->skips = json_array();
}

static void capture_free(struct capture *c)
{
	json_decref(c->records);
	json_decref(c->rejects);
	json_decref(c->skips);
}

static struct ingest_sink sink_of(struct capture *c)
{
	struct ingest_sink s = {on_record, on_reject, on_skip, c};

	return s;
}

/* Ingest a file with the given limits (0: defaults); returns the code. */
static int ingest(const char *path, struct capture *c, size_t max_bytes, size_t max_records)
{
	struct ingest_options opt;
	struct ingest_sink s = sink_of(c);

	memset(&opt, 0, sizeof(opt));
	opt.max_bytes = max_bytes;
	opt.max_records = max_records;
	return ingest_dmarc_path(path, &opt, &s);
}

static int ingest_text(const char *xml, struct capture *c)
{
	struct ingest_options opt;
	struct ingest_sink s = sink_of(c);

	memset(&opt, 0, sizeof(opt));
	opt.name = "report.xml";
	return ingest_dmarc_mem(xml, strlen(xml), &opt, &s);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return data;
}

/* The reason of the only reject, after checking there was no record. */
static const char *only_reject(const struct capture *c)
{
	if (json_array_size(c->records) != 0)
		fail_msg("expected no record, got %zu", json_array_size(c->records));
	if (json_array_size(c->rejects) != 1)
		fail_msg("expected one reject, got %zu", json_array_size(c->rejects));
	return json_string_value(json_object_get(json_array_get(c->rejects, 0), "reason"));
}

static void assert_contains(const char *text, const char *part)
{
	if (text == NULL || strstr(text, part) == NULL)
		fail_msg("'%s' does not contain '%s'", text ? text : "(null)", part);
}

static const json_t *body_of(const struct capture *c, size_t i)
{
	return json_object_get(json_array_get(c->records, i), "body");
}

static int64_t seconds_of(const json_t *v)
{
	const char *s = json_string_value(v);
	int64_t us;

	if (s == NULL || ak_time_parse(s, strlen(s), &us) != 0)
		return -1;
	return us / 1000000;
}

/* A string member equal to the expected value, where null means absent. */
static int same_string(const json_t *got, const json_t *want)
{
	if (json_is_null(want))
		return got == NULL;
	return json_is_string(got) && strcmp(json_string_value(got), json_string_value(want)) == 0;
}

static int is_pass(const json_t *v)
{
	return json_is_string(v) && strcmp(json_string_value(v), "pass") == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Compare what the adapter made of sample path with path.expected.json.
 * 0 when they agree; else 1 with the first difference in why.
 */
static int check_sample(const char *path, char *why, size_t whylen)
{
	struct capture c;
	json_error_t err;
	json_t *exp, *disp = NULL, *ips = NULL;
	const json_t *body, *rows, *row, *pol;
	char exp_path[1024];
	const char *key;
	json_t *v;
	int64_t messages = 0, dkim_pass = 0, spf_pass = 0;
	size_t i, nips = 0;
	const char **ipv = NULL;
	int rc, bad = 1;

	snprintf(exp_path, sizeof(exp_path), "%s.expected.json", path);
	exp = json_load_file(exp_path, 0, &err);
	if (exp == NULL) {
		snprintf(why, whylen, "%s: %s", exp_path, err.text);
		return 1;
	}
	capture_init(&c);
	rc = ingest(path, &c, 0, 0);
	if (json_object_get(exp, "error") != NULL) {
		/* Unreadable on purpose: a clean reject (or error), no record. */
		if (json_array_size(c.records) != 0)
			snprintf(why, whylen, "expected an error, got a record");
		else if (json_array_size(c.rejects) == 0 && rc == 0)
			snprintf(why, whylen, "expected an error, got no reject");
		else
			bad = 0;
		goto done;
	}
	if (rc != 0 || json_array_size(c.records) != 1) {
		snprintf(
		        why, whylen, "rc %d, %zu records, first reject: %s", rc,
		        json_array_size(c.records),
		        json_string_value(json_object_get(json_array_get(c.rejects, 0), "reason")));
		goto done;
	}
	if (c.not_canonical) {
		snprintf(why, whylen, "body is not canonical JSON");
		goto done;
	}
	body = body_of(&c, 0);
	pol = json_object_get(body, "policy");
	rows = json_object_get(body, "rows");
	disp = json_object();
	ips = json_array();
	json_array_foreach(rows, i, row)
	{
		json_int_t n = json_integer_value(json_object_get(row, "count"));
		const char *d = json_string_value(json_object_get(row, "disposition"));
		const char *ip = json_string_value(json_object_get(row, "source_ip"));

		messages += n;
		if (is_pass(json_object_get(row, "dkim")))
			dkim_pass += n;
		if (is_pass(json_object_get(row, "spf")))
			spf_pass += n;
		if (d != NULL)
			json_object_set_new(
			        disp, d,
			        json_integer(json_integer_value(json_object_get(disp, d)) + n));
		if (ip != NULL && ip[0] != '\0')
			json_array_append_new(ips, json_string(ip));
	}
	/* Sorted distinct source addresses. */
	ipv = calloc(json_array_size(ips) + 1, sizeof(*ipv));
	json_array_foreach(ips, i, v)
	{
		ipv[i] = json_string_value(v);
	}
	qsort(ipv, json_array_size(ips), sizeof(*ipv), cmp_str);
	for (i = 0; i < json_array_size(ips); i++)
		if (nips == 0 || strcmp(ipv[nips - 1], ipv[i]) != 0)
			ipv[nips++] = ipv[i];

#define DIFF(...)                                                                                  \
	do {                                                                                       \
		snprintf(why, whylen, __VA_ARGS__);                                                \
		goto done;                                                                         \
	} while (0)
	if (!same_string(json_object_get(body, "org_name"), json_object_get(exp, "org_name")))
		DIFF("org_name");
	if (!same_string(json_object_get(body, "report_id"), json_object_get(exp, "report_id")))
		DIFF("report_id");
	if (seconds_of(json_object_get(body, "begin")) !=
	    json_integer_value(json_object_get(exp, "begin")))
		DIFF("begin");
	if (seconds_of(json_object_get(body, "end")) !=
	    json_integer_value(json_object_get(exp, "end")))
		DIFF("end");
	if (!same_string(json_object_get(pol, "domain"), json_object_get(exp, "policy_domain")))
		DIFF("policy domain");
	if (!same_string(json_object_get(pol, "p"), json_object_get(exp, "policy_p")))
		DIFF("policy p");
	if ((json_int_t)json_array_size(rows) !=
	    json_integer_value(json_object_get(exp, "records")))
		DIFF("records: %zu", json_array_size(rows));
	if (messages != json_integer_value(json_object_get(exp, "messages")))
		DIFF("messages: %lld", (long long)messages);
	if (dkim_pass != json_integer_value(json_object_get(exp, "dkim_aligned_pass")))
		DIFF("dkim_aligned_pass: %lld", (long long)dkim_pass);
	if (spf_pass != json_integer_value(json_object_get(exp, "spf_aligned_pass")))
		DIFF("spf_aligned_pass: %lld", (long long)spf_pass);
	json_object_foreach(json_object_get(exp, "disposition"), key, v)
	{
		if (json_integer_value(json_object_get(disp, key)) != json_integer_value(v))
			DIFF("disposition %s", key);
	}
	json_object_foreach(disp, key, v)
	{
		if (json_integer_value(v) != 0 &&
		    json_object_get(json_object_get(exp, "disposition"), key) == NULL)
			DIFF("disposition %s not expected", key);
	}
	if (nips != json_array_size(json_object_get(exp, "source_ips")))
		DIFF("source_ips: %zu", nips);
	for (i = 0; i < nips; i++)
		if (strcmp(ipv[i], json_string_value(json_array_get(
		                           json_object_get(exp, "source_ips"), i))) != 0)
			DIFF("source_ips[%zu]: %s", i, ipv[i]);
#undef DIFF
	bad = 0;
done:
	free(ipv);
	json_decref(ips);
	json_decref(disp);
	json_decref(exp);
	capture_free(&c);
	return bad;
}

static int is_sample(const char *name)
{
	size_t n = strlen(name), k = strlen(".expected.json");

	return name[0] != '.' && strcmp(name, "README.md") != 0 &&
	       !(n >= k && strcmp(name + n - k, ".expected.json") == 0);
}

static void test_dmarc__every_sample_matches_expected(void **state)
{
	DIR *d = opendir(SAMPLES);
	struct dirent *de;
	int checked = 0, failed = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[1024], why[512] = "";
		struct stat st;

		snprintf(path, sizeof(path), SAMPLES "/%s", de->d_name);
		if (!is_sample(de->d_name) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		checked++;
		if (check_sample(path, why, sizeof(why)) != 0) {
			print_message("# %s: %s\n", de->d_name, why);
			failed++;
		}
	}
	closedir(d);
	print_message("# %d samples checked, %d differ\n", checked, failed);
	assert_true(checked >= 50);
	assert_int_equal(failed, 0);
}

static void assert_sample(const char *name)
{
	char path[1024], why[512] = "";

	snprintf(path, sizeof(path), SAMPLES "/%s", name);
	if (check_sample(path, why, sizeof(why)) != 0)
		fail_msg("%s: %s", name, why);
}

static void test_dmarc__google_zip_matches_expected(void **state)
{
	(void)state;
	assert_sample("google.com!example.com!1701129600!1701215999.xml.zip");
}

static void test_dmarc__google_gzip_matches_expected(void **state)
{
	(void)state;
	assert_sample("google.com!example.com!1701129600!1701215999.xml.gz");
}

static void test_dmarc__eml_with_zip_and_spaces_in_name_matches_expected(void **state)
{
	(void)state;
	assert_sample("Report domain- borschow.com Submitter- google.com Report-ID- "
	              "949348866075514174.eml");
}

static void test_dmarc__windows_1252_report_matches_expected(void **state)
{
	(void)state;
	assert_sample("dmarc.xml");
}

static void test_dmarc__dmarcbis_namespace_matches_expected(void **state)
{
	(void)state;
	assert_sample("rfc9990-sample.xml");
	assert_sample("dmarc-xmlalt-0.2.xml");
}

static void test_dmarc__large_report_matches_expected(void **state)
{
	(void)state;
	assert_sample("!large-example.com!1711897200!1711983600.xml");
}

static void test_dmarc__record_names_source_event_and_time(void **state)
{
	struct capture c;
	const json_t *r;

	(void)state;
	capture_init(&c);
	assert_int_equal(ingest(SAMPLES "/001.xml", &c, 0, 0), 0);
	assert_int_equal(json_array_size(c.records), 1);
	r = json_array_get(c.records, 0);
	assert_string_equal(json_string_value(json_object_get(r, "where")), SAMPLES "/001.xml");
	assert_string_equal(json_string_value(json_object_get(r, "source")),
	                    "dmarc:Sample Reporter");
	assert_string_equal(json_string_value(json_object_get(r, "event_id")),
	                    "Sample Reporter!3v98abbp8ya9n3va8yr8oa3ya");
	assert_int_equal(json_integer_value(json_object_get(r, "time_us")),
	                 INT64_C(161212415) * 1000000);
	capture_free(&c);

	/* An empty <org_name/> stays empty everywhere. */
	capture_init(&c);
	assert_int_equal(ingest(SAMPLES "/!example.com!1538204542!1538463818.xml", &c, 0, 0), 0);
	r = json_array_get(c.records, 0);
	assert_string_equal(json_string_value(json_object_get(r, "source")), "dmarc:");
	assert_string_equal(json_string_value(json_object_get(r, "event_id")),
	                    "!example.com:1538463741");
	assert_string_equal(json_string_value(json_object_get(body_of(&c, 0), "org_name")), "");
	capture_free(&c);
}

static void test_dmarc__source_option_overrides_default(void **state)
{
	struct ingest_options opt;
	struct capture c;
	struct ingest_sink s;

	(void)state;
	capture_init(&c);
	s = sink_of(&c);
	memset(&opt, 0, sizeof(opt));
	opt.source = "dmarc:mailbox";
	opt.name = "inbox";
	assert_int_equal(ingest_dmarc_path(SAMPLES "/yahoo.eml", &opt, &s), 0);
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(c.records, 0), "source")),
	        "dmarc:mailbox");
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(c.records, 0), "where")), "inbox");
	capture_free(&c);
}

/* Byte for byte against bodies checked by hand. */
static void assert_golden(const char *sample, const char *golden)
{
	struct capture c;
	size_t len;
	char *want = read_file(golden, &len);
	const char *got;

	while (len > 0 && want[len - 1] == '\n')
		want[--len] = '\0';
	capture_init(&c);
	assert_int_equal(ingest(sample, &c, 0, 0), 0);
	assert_int_equal(json_array_size(c.records), 1);
	got = json_string_value(json_object_get(json_array_get(c.records, 0), "body_text"));
	assert_string_equal(got, want);
	capture_free(&c);
	free(want);
}

static void test_dmarc__body_matches_golden_bytes(void **state)
{
	(void)state;
	assert_golden(SAMPLES "/005.xml", SAMPLES "/golden/005.xml.json");
	assert_golden(SAMPLES "/test_empty.xml", SAMPLES "/golden/test_empty.xml.json");
	assert_golden(SAMPLES "/empty_reason.xml", SAMPLES "/golden/empty_reason.xml.json");
}

static void test_dmarc__mem_gives_the_same_body_as_path(void **state)
{
	static const char *const names[] = {
	        "nice-input.xml.gz",
	        "nice-input.xml.zip",
	        "twilight.eml",
	        "dmarc.xml",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct capture a, b;
		struct ingest_options opt;
		struct ingest_sink s;
		char path[512];
		size_t len;
		char *data;

		snprintf(path, sizeof(path), SAMPLES "/%s", names[i]);
		data = read_file(path, &len);
		capture_init(&a);
		capture_init(&b);
		assert_int_equal(ingest(path, &a, 0, 0), 0);
		s = sink_of(&b);
		memset(&opt, 0, sizeof(opt));
		assert_int_equal(ingest_dmarc_mem(data, len, &opt, &s), 0);
		assert_int_equal(json_array_size(b.records), 1);
		assert_string_equal(
		        json_string_value(json_object_get(json_array_get(b.records, 0), "where")),
		        "-");
		assert_string_equal(json_string_value(json_object_get(json_array_get(a.records, 0),
		                                                      "body_text")),
		                    json_string_value(json_object_get(json_array_get(b.records, 0),
		                                                      "body_text")));
		capture_free(&a);
		capture_free(&b);
		free(data);
	}
}

/*
 * Hostile inputs.
 */
static void assert_hostile(const char *name, size_t max_bytes, size_t max_records,
                           const char *reason)
{
	struct capture c;
	char path[512];

	snprintf(path, sizeof(path), HOSTILE "/%s", name);
	capture_init(&c);
	assert_int_equal(ingest(path, &c, max_bytes, max_records), 0);
	assert_contains(only_reject(&c), reason);
	capture_free(&c);
}

static void test_dmarc__billion_laughs_is_refused(void **state)
{
	(void)state;
	assert_hostile("billion-laughs.xml", 0, 0,
	               "line 3: DOCTYPE declares general entity 'lol': entity declarations are "
	               "refused");
}

static void test_dmarc__external_entity_is_refused(void **state)
{
	(void)state;
	assert_hostile("xxe.xml", 0, 0,
	               "line 3: DOCTYPE declares general entity 'xxe' (external): entity "
	               "declarations are refused");
	assert_hostile("xxe-parameter.xml", 0, 0,
	               "DOCTYPE declares parameter entity 'remote' (external)");
	assert_hostile("external-dtd.xml", 0, 0, "line 2: DOCTYPE names an external DTD");
}

static void test_dmarc__gzip_bomb_stops_at_max_bytes(void **state)
{
	(void)state;
	assert_hostile("bomb.xml.gz", 1 << 20, 0,
	               "gzip: decompressed data exceeds 1048576 bytes (max_bytes)");
}

static void test_dmarc__zip_bomb_stops_at_max_bytes(void **state)
{
	(void)state;
	assert_hostile("bomb.zip", 1 << 20, 0,
	               "zip member 'report.xml': decompressed data exceeds 1048576 bytes");
}

/* Eight members of 600 KiB in a zip inside a zip: each is under 1 MiB,
 * all of them together are not. What comes out of one input counts
 * together, or each member and each level of nesting would multiply the
 * work (256 members of max_bytes, nested: minutes of CPU for 100 KB). */
static void test_dmarc__nested_zip_shares_one_budget(void **state)
{
	struct capture c;
	size_t i, over = 0;

	(void)state;
	capture_init(&c);
	assert_int_equal(ingest(HOSTILE "/nested-bomb.zip", &c, 1 << 20, 0), 0);
	assert_int_equal(json_array_size(c.records), 1); /* the first member fits */
	assert_int_equal(json_array_size(c.records) + json_array_size(c.rejects), 8);
	for (i = 0; i < json_array_size(c.rejects); i++)
		if (strstr(json_string_value(
		                   json_object_get(json_array_get(c.rejects, i), "reason")),
		           "decompressed data exceeds 1048576 bytes (max_bytes)"))
			over++;
	assert_int_equal(over, 7);
	/* Alone, each member is read whole: the same report, eight times. */
	capture_free(&c);
	capture_init(&c);
	assert_int_equal(ingest(HOSTILE "/nested-bomb.zip", &c, 8 << 20, 0), 0);
	assert_int_equal(json_array_size(c.records), 8);
	capture_free(&c);
}

static void test_dmarc__zip_member_paths_cannot_escape(void **state)
{
	(void)state;
	assert_hostile("traversal.zip", 0, 0,
	               "zip member '../evil.xml': '..' in the path: archive refused");
	assert_hostile("absolute.zip", 0, 0,
	               "zip member '/abs.xml': absolute path: archive refused");
}

static void test_dmarc__too_many_rows_is_refused(void **state)
{
	struct capture c;

	(void)state;
	capture_init(&c);
	assert_int_equal(ingest(SAMPLES "/nice-input.xml", &c, 0, 5), 0);
	assert_contains(only_reject(&c), "more than 5 <record> elements (max_records)");
	capture_free(&c);
	/* At the limit is fine. */
	capture_init(&c);
	assert_int_equal(ingest(SAMPLES "/nice-input.xml", &c, 0, 20), 0);
	assert_int_equal(json_array_size(c.records), 1);
	capture_free(&c);
}

static void test_dmarc__truncated_gzip_is_refused(void **state)
{
	(void)state;
	assert_hostile("truncated.xml.gz", 0, 0, "gzip: truncated gzip input");
}

static void test_dmarc__nesting_and_member_limits_hold(void **state)
{
	(void)state;
	assert_hostile("nested.zip", 0, 0, "containers nested deeper than 8");
	assert_hostile("many-members.zip", 0, 0, "zip: more than 256 members: archive refused");
	assert_hostile("deep.xml", 0, 0, "line 1: elements nested deeper than 256");
}

static void test_dmarc__eml_without_report_is_rejected(void **state)
{
	(void)state;
	assert_hostile("no-report.eml", 0, 0, "e-mail without a DMARC report");
}

static void test_dmarc__empty_report_part_is_rejected(void **state)
{
	static const char eml[] = "From: a@example.net\nTo: b@example.com\nSubject: report\n"
	                          "MIME-Version: 1.0\nContent-Type: application/gzip\n"
	                          "Content-Transfer-Encoding: base64\n\n";
	struct ingest_options opt;
	struct capture c;
	struct ingest_sink s;

	(void)state;
	capture_init(&c);
	s = sink_of(&c);
	memset(&opt, 0, sizeof(opt));
	assert_int_equal(ingest_dmarc_mem(eml, sizeof(eml) - 1, &opt, &s), 0);
	assert_string_equal(only_reject(&c), "empty input: no XML document");
	capture_free(&c);
}

static void test_dmarc__mbox_gives_one_record_per_message(void **state)
{
	struct capture c;

	(void)state;
	capture_init(&c);
	assert_int_equal(ingest(HOSTILE "/three-reports.mbox", &c, 0, 0), 0);
	assert_int_equal(json_array_size(c.rejects), 0);
	assert_int_equal(json_array_size(c.records), 3);
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(c.records, 0), "where")),
	        HOSTILE "/three-reports.mbox: message 1");
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(c.records, 2), "where")),
	        HOSTILE "/three-reports.mbox: message 3");
	assert_string_equal(json_string_value(json_object_get(body_of(&c, 0), "org_name")),
	                    "Mail.Ru");
	assert_string_equal(json_string_value(json_object_get(body_of(&c, 1), "org_name")),
	                    "Yahoo! Inc.");
	assert_string_equal(json_string_value(json_object_get(body_of(&c, 2), "org_name")),
	                    "Mail.Ru");
	capture_free(&c);
}

static void test_dmarc__maildir_reports_and_skips_other_mail(void **state)
{
	struct capture c;

	(void)state;
	capture_init(&c);
	assert_int_equal(ingest(HOSTILE "/maildir", &c, 0, 0), 0);
	assert_int_equal(json_array_size(c.records), 2);
	assert_int_equal(json_array_size(c.rejects), 0);
	assert_int_equal(json_array_size(c.skips), 1);
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(c.records, 1), "where")),
	        HOSTILE "/maildir: message 2");
	assert_string_equal(json_string_value(json_object_get(json_array_get(c.skips, 0), "where")),
	                    HOSTILE "/maildir: message 3");
	capture_free(&c);
}

static void test_dmarc__gzip_in_gzip_and_trailing_bytes_are_read(void **state)
{
	struct capture c;

	(void)state;
	capture_init(&c);
	assert_int_equal(ingest(HOSTILE "/double.xml.gz", &c, 0, 0), 0);
	assert_int_equal(ingest(HOSTILE "/trailing-junk.xml.gz", &c, 0, 0), 0);
	assert_int_equal(json_array_size(c.records), 2);
	capture_free(&c);
}

static void test_dmarc__zip_gives_every_xml_member_else_the_first(void **state)
{
	struct capture c;

	(void)state;
	capture_init(&c);
	assert_int_equal(ingest(HOSTILE "/two-reports.zip", &c, 0, 0), 0);
	assert_int_equal(json_array_size(c.records), 2);
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(c.records, 0), "where")),
	        HOSTILE "/two-reports.zip: a.xml");
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(c.records, 1), "where")),
	        HOSTILE "/two-reports.zip: b.XML");
	assert_string_equal(json_string_value(json_object_get(body_of(&c, 1), "report_id")),
	                    "legacy-1");
	json_array_clear(c.records);
	assert_int_equal(ingest(HOSTILE "/unnamed-member.zip", &c, 0, 0), 0);
	assert_int_equal(json_array_size(c.records), 1);
	assert_string_equal(
	        json_string_value(json_object_get(json_array_get(c.records, 0), "where")),
	        HOSTILE "/unnamed-member.zip");
	assert_int_equal(json_array_size(c.rejects), 0);
	capture_free(&c);
}

static void test_dmarc__sink_can_stop_the_input(void **state)
{
	struct capture c;

	(void)state;
	capture_init(&c);
	c.stop_at = 1;
	assert_true(ingest(HOSTILE "/three-reports.mbox", &c, 0, 0) < 0);
	assert_int_equal(json_array_size(c.records), 1);
	assert_contains(ak_error_last(), "sink: enough");
	capture_free(&c);
}

static void test_dmarc__missing_input_is_an_error(void **state)
{
	struct capture c;

	(void)state;
	capture_init(&c);
	assert_true(ingest(HOSTILE "/no-such-file.xml", &c, 0, 0) < 0);
	assert_contains(ak_error_last(), "no-such-file.xml: No such file");
	assert_true(ingest("tests/data", &c, 0, 0) < 0);
	assert_contains(ak_error_last(), "not a Maildir");
	capture_free(&c);
}

/*
 * Validation, on small documents.
 */
#define META                                                                                       \
	"<report_metadata><org_name>o</org_name><email>e@x</email><report_id>r1</report_id>"       \
	"<date_range><begin>1700000000</begin><end>1700086399</end></date_range>"                  \
	"</report_metadata>"
#define POLICY "<policy_published><domain>example.com</domain><p>none</p></policy_published>"
#define ROW(count)                                                                                 \
	"<record><row><source_ip>192.0.2.1</source_ip><count>" count "</count>"                    \
	"<policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>"        \
	"</policy_evaluated></row><identifiers><header_from>example.com</header_from>"             \
	"</identifiers><auth_results/></record>"

static const char *reject_of(const char *xml)
{
	static char reason[512];
	struct capture c;

	capture_init(&c);
	assert_int_equal(ingest_text(xml, &c), 0);
	snprintf(reason, sizeof(reason), "%s", only_reject(&c));
	capture_free(&c);
	return reason;
}

static void test_dmarc__validation_names_element_and_line(void **state)
{
	(void)state;
	assert_string_equal(reject_of("<feedback>\n<report_metadata><report_id>r</report_id>\n"
	                              "<date_range>\n<begin>yesterday</begin><end>1</end>"
	                              "</date_range></report_metadata>" POLICY "</feedback>"),
	                    "line 4: <date_range><begin>: not an integer number of seconds (0 to "
	                    "253402300799)");
	assert_string_equal(reject_of("<feedback><report_metadata><report_id>r</report_id>"
	                              "<date_range><begin>1</begin></date_range>"
	                              "</report_metadata>" POLICY "</feedback>"),
	                    "<date_range><end> is missing");
	assert_string_equal(reject_of("<feedback><report_metadata><date_range><begin>1</begin>"
	                              "<end>2</end></date_range></report_metadata>" POLICY
	                              "</feedback>"),
	                    "<report_metadata><report_id> is missing");
	assert_string_equal(reject_of("<feedback>" META "</feedback>"),
	                    "<policy_published><domain> is missing");
	assert_string_equal(reject_of("<feedback>" META POLICY "\n\n" ROW("-1") "</feedback>"),
	                    "line 3: <row><count>: not a non-negative integer up to 2^53-1");
	assert_string_equal(
	        reject_of("<feedback>" META POLICY ROW("9007199254740992") "</feedback>"),
	        "line 1: <row><count>: not a non-negative integer up to 2^53-1");
	assert_string_equal(reject_of("<feedback>" META POLICY ROW("12abc") "</feedback>"),
	                    "line 1: <row><count>: not a non-negative integer up to 2^53-1");
	assert_string_equal(reject_of("<feedback>" META POLICY "\n<record><row/></record>"
	                              "</feedback>"),
	                    "line 2: <record> without <row><count>");
	assert_string_equal(reject_of("<feedback>" META
	                              "<policy_published><domain>d</domain><pct>all</pct>"
	                              "</policy_published></feedback>"),
	                    "line 1: <policy_published><pct>: not an integer");
	assert_string_equal(reject_of("<html><body/></html>"),
	                    "line 1: root element <html> is not <feedback>");
	assert_string_equal(reject_of(""), "empty input: no XML document");
}

static void test_dmarc__bad_xml_gives_expat_message_and_line(void **state)
{
	(void)state;
	assert_string_equal(reject_of("<feedback>\n<org_name>\xff\xfe</org_name></feedback>"),
	                    "line 2, column 11: XML error: not well-formed (invalid token)");
	assert_string_equal(reject_of("<feedback>" META POLICY),
	                    "line 1, column 258: XML error: no element found");
	assert_contains(reject_of("<feedback>\n<a></b></feedback>"), "line 2, column ");
	assert_contains(reject_of("<feedback>\n<a></b></feedback>"), "mismatched tag");
}

static void test_dmarc__biggest_count_is_accepted(void **state)
{
	struct capture c;

	(void)state;
	capture_init(&c);
	assert_int_equal(ingest_text("<feedback>" META POLICY ROW("9007199254740991")
	                                     ROW(" 0 ") "</feedback>",
	                             &c),
	                 0);
	assert_int_equal(json_array_size(c.records), 1);
	assert_int_equal(
	        json_integer_value(json_object_get(
	                json_array_get(json_object_get(body_of(&c, 0), "rows"), 0), "count")),
	        INT64_C(9007199254740991));
	capture_free(&c);
}

static void test_dmarc__namespaces_and_order_do_not_matter(void **state)
{
	struct capture c;
	const char *plain, *other;
	size_t i;
	static const char *const variants[] = {
	        "<dmarc:feedback xmlns:dmarc=\"urn:ietf:params:xml:ns:dmarc-2.0\">"
	        "<dmarc:report_metadata><dmarc:org_name>o</dmarc:org_name><dmarc:email>e@x"
	        "</dmarc:email><dmarc:report_id>r1</dmarc:report_id><dmarc:date_range>"
	        "<dmarc:begin>1700000000</dmarc:begin><dmarc:end>1700086399</dmarc:end>"
	        "</dmarc:date_range></dmarc:report_metadata>" POLICY ROW("1") "</dmarc:feedback>",
	        "<feedback xmlns=\"http://dmarc.org/dmarc-xml/0.2\">" META POLICY ROW(
	                "1") "</feedback>",
	        /* Metadata and policy after the rows: the body is the same. */
	        "<feedback>" ROW("1") POLICY META "</feedback>",
	        /* White space around values, unknown elements, comments. */
	        "<?xml version=\"1.0\"?>\n<!-- a comment -->\n<feedback><x-vendor><a/></x-vendor>"
	        "<report_metadata>\n <org_name> o </org_name>\n <email>\te@x\n</email>"
	        "<report_id>r1</report_id><date_range><begin> 1700000000 </begin>"
	        "<end>1700086399</end><extra/></date_range></report_metadata>" POLICY ROW(
	                "1") "</feedback>",
	};

	(void)state;
	capture_init(&c);
	assert_int_equal(ingest_text("<feedback>" META POLICY ROW("1") "</feedback>", &c), 0);
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		assert_int_equal(ingest_text(variants[i], &c), 0);
	assert_int_equal(json_array_size(c.rejects), 0);
	assert_int_equal(json_array_size(c.records), 1 + i);
	plain = json_string_value(json_object_get(json_array_get(c.records, 0), "body_text"));
	for (i = 1; i < json_array_size(c.records); i++) {
		other = json_string_value(
		        json_object_get(json_array_get(c.records, i), "body_text"));
		assert_string_equal(other, plain);
	}
	assert_int_equal(c.not_canonical, 0);
	capture_free(&c);
}

static void test_dmarc__escapes_are_canonical(void **state)
{
	struct capture c;
	const char *body;

	(void)state;
	capture_init(&c);
	assert_int_equal(ingest_text("<feedback><report_metadata><org_name>a\"b\\c&#9;d&#1;"
	                             "</org_name><report_id>&lt;r&gt;</report_id><date_range>"
	                             "<begin>0</begin><end>0</end></date_range></report_metadata>"
	                             "<policy_published><domain>\xc3\xa9.example</domain>"
	                             "</policy_published></feedback>",
	                             &c),
	                 0);
	/* &#1; is not XML 1.0: expat refuses it. */
	assert_int_equal(json_array_size(c.records), 0);
	json_array_clear(c.rejects);
	assert_int_equal(ingest_text("<feedback><report_metadata><org_name>a\"b\\c&#9;d/e"
	                             "</org_name><report_id>&lt;r&gt;</report_id><date_range>"
	                             "<begin>0</begin><end>0</end></date_range></report_metadata>"
	                             "<policy_published><domain>\xc3\xa9.example</domain>"
	                             "</policy_published></feedback>",
	                             &c),
	                 0);
	assert_int_equal(json_array_size(c.records), 1);
	body = json_string_value(json_object_get(json_array_get(c.records, 0), "body_text"));
	assert_string_equal(body, "{\"begin\":\"1970-01-01T00:00:00Z\",\"end\":"
	                          "\"1970-01-01T00:00:00Z\",\"org_name\":\"a\\\"b\\\\c\\td/e\","
	                          "\"policy\":{\"domain\":\"\xc3\xa9.example\"},\"report_id\":"
	                          "\"<r>\",\"rows\":[]}");
	capture_free(&c);
}

static void test_dmarc__utf16_and_unknown_encodings(void **state)
{
	static const char doc[] = "<feedback>" META POLICY ROW("1") "</feedback>";
	struct ingest_options opt;
	struct capture c;
	struct ingest_sink s;
	char utf16[2 * sizeof(doc) + 2];
	size_t i;

	(void)state;
	/* UTF-16LE with a byte-order mark: still XML, not e-mail. */
	utf16[0] = (char)0xff;
	utf16[1] = (char)0xfe;
	for (i = 0; i < sizeof(doc) - 1; i++) {
		utf16[2 + 2 * i] = doc[i];
		utf16[3 + 2 * i] = 0;
	}
	capture_init(&c);
	s = sink_of(&c);
	memset(&opt, 0, sizeof(opt));
	assert_int_equal(ingest_dmarc_mem(utf16, 2 + 2 * i, &opt, &s), 0);
	assert_int_equal(json_array_size(c.records), 1);
	assert_string_equal(json_string_value(json_object_get(body_of(&c, 0), "report_id")), "r1");
	capture_free(&c);
	/* A single-byte charset iconv knows: "Яндекс" in KOI8-R. */
	capture_init(&c);
	assert_int_equal(ingest_text("<?xml version=\"1.0\" encoding=\"koi8-r\"?><feedback>"
	                             "<report_metadata><org_name>\xf1\xce\xc4\xc5\xcb\xd3"
	                             "</org_name><report_id>r</report_id><date_range><begin>0"
	                             "</begin><end>0</end></date_range></report_metadata>" POLICY
	                             "</feedback>",
	                             &c),
	                 0);
	assert_int_equal(json_array_size(c.records), 1);
	assert_string_equal(json_string_value(json_object_get(body_of(&c, 0), "org_name")),
	                    "\xd0\xaf\xd0\xbd\xd0\xb4\xd0\xb5\xd0\xba\xd1\x81");
	capture_free(&c);
	/* Names nobody knows, and multi-byte charsets, are refused. */
	assert_string_equal(reject_of("<?xml version=\"1.0\" encoding=\"x-no-such\"?><feedback/>"),
	                    "line 1, column 31: XML error: unknown encoding");
	assert_contains(reject_of("<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><feedback/>"),
	                "XML error: unknown encoding");
}

static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dmarc__every_sample_matches_expected),
        cmocka_unit_test(test_dmarc__google_zip_matches_expected),
        cmocka_unit_test(test_dmarc__google_gzip_matches_expected),
        cmocka_unit_test(test_dmarc__eml_with_zip_and_spaces_in_name_matches_expected),
        cmocka_unit_test(test_dmarc__windows_1252_report_matches_expected),
        cmocka_unit_test(test_dmarc__dmarcbis_namespace_matches_expected),
        cmocka_unit_test(test_dmarc__large_report_matches_expected),
        cmocka_unit_test(test_dmarc__record_names_source_event_and_time),
        cmocka_unit_test(test_dmarc__source_option_overrides_default),
        cmocka_unit_test(test_dmarc__body_matches_golden_bytes),
        cmocka_unit_test(test_dmarc__mem_gives_the_same_body_as_path),
        cmocka_unit_test(test_dmarc__billion_laughs_is_refused),
        cmocka_unit_test(test_dmarc__external_entity_is_refused),
        cmocka_unit_test(test_dmarc__gzip_bomb_stops_at_max_bytes),
        cmocka_unit_test(test_dmarc__zip_bomb_stops_at_max_bytes),
        cmocka_unit_test(test_dmarc__nested_zip_shares_one_budget),
        cmocka_unit_test(test_dmarc__zip_member_paths_cannot_escape),
        cmocka_unit_test(test_dmarc__too_many_rows_is_refused),
        cmocka_unit_test(test_dmarc__truncated_gzip_is_refused),
        cmocka_unit_test(test_dmarc__nesting_and_member_limits_hold),
        cmocka_unit_test(test_dmarc__eml_without_report_is_rejected),
        cmocka_unit_test(test_dmarc__empty_report_part_is_rejected),
        cmocka_unit_test(test_dmarc__mbox_gives_one_record_per_message),
        cmocka_unit_test(test_dmarc__maildir_reports_and_skips_other_mail),
        cmocka_unit_test(test_dmarc__gzip_in_gzip_and_trailing_bytes_are_read),
        cmocka_unit_test(test_dmarc__zip_gives_every_xml_member_else_the_first),
        cmocka_unit_test(test_dmarc__utf16_and_unknown_encodings),
        cmocka_unit_test(test_dmarc__sink_can_stop_the_input),
        cmocka_unit_test(test_dmarc__missing_input_is_an_error),
        cmocka_unit_test(test_dmarc__validation_names_element_and_line),
        cmocka_unit_test(test_dmarc__bad_xml_gives_expat_message_and_line),
        cmocka_unit_test(test_dmarc__biggest_count_is_accepted),
        cmocka_unit_test(test_dmarc__namespaces_and_order_do_not_matter),
        cmocka_unit_test(test_dmarc__escapes_are_canonical),
};

AK_UNIT_MAIN(tests)
