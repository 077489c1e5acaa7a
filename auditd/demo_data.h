/*
 * auditd/demo_data.h - the sample data of `akashi demo`: one quarter
 * (2026 Q3, with history from March) of a small Japanese online shop, in
 * the formats the outside world writes: a Postfix maillog, a CRM's consent
 * CSV, an identity provider's OCSF events, DMARC aggregate reports (XML,
 * gzip, and three real reports built into the binary), plus akashi's own
 * JSON Lines for what has no outside format (access reviews, approvals,
 * the delivery engine's send records).
 *
 * The generator is seeded with a constant, so every run writes the same
 * files, except the policy commit the delivery engine's records name,
 * which is the commit `akashi init` just made. A few problems are planted
 * in the data; struct demo_data names them so the demo can say what the
 * audit should find and tests can check that it does.
 */
#ifndef AUDITD_DEMO_DATA_H
#define AUDITD_DEMO_DATA_H

#include <stddef.h>

#define DEMO_PATH_MAX 4200

/* The subject the demo exports for a legal hold: the one mailed after
 * opting out (demo_data.optout_subject). */
#define DEMO_EXPORT_SUBJECT "hanako.yamada@example.ne.jp"
#define DEMO_DMARC_MAX      64

struct demo_data {
	/* Files written, all under the samples directory. */
	char maillog[DEMO_PATH_MAX];  /* Postfix, RFC 3164 lines, Asia/Tokyo, no year */
	char consent[DEMO_PATH_MAX];  /* consent CSV */
	char ocsf[DEMO_PATH_MAX];     /* OCSF 1.x JSON Lines (Okta-like) */
	char native[DEMO_PATH_MAX];   /* akashi JSON Lines: reviews, approval */
	char delivery[DEMO_PATH_MAX]; /* akashi JSON Lines: the delivery engine's sends */
	char dmarc[DEMO_DMARC_MAX][DEMO_PATH_MAX];
	size_t ndmarc;

	/* The planted problems, and the subjects the demo asks the gate about. */
	const char *optout_subject; /* mailed after opting out */
	const char *noconsent_subject;
	const char *noproof_subject; /* opt-in with "proof":"none", then mailed */
	const char *unreviewed_account;
	const char *stale_password_account;
	const char *unapproved_campaign;
	const char *approved_campaign, *approved_owner, *approved_by;
	const char *bruteforce_account, *bruteforce_ip;
	const char *failing_domain, *failing_source;
	const char *newsletter;    /* the list name (Japanese) */
	char allowed_subject[128]; /* a confirmed subscriber, still subscribed */
};

/* Write every sample file under dir (created if missing) and fill out.
 * policy_commit is recorded in the delivery engine's gate decisions.
 * 0, or -1 with ak_error_last() naming the file that failed. */
int demo_data_write(const char *dir, const char *policy_commit, struct demo_data *out);

#endif
