/*
 * reports/bundle.h - evidence bundles: what a legal team hands to an
 * outside expert, and the offline check of one.
 *
 * A bundle is a zip or tar.gz archive holding one top-level directory:
 *
 *   entries.jsonl     the selected entries, byte for byte, in seq order
 *   checkpoint        the signed note they are proven against
 *   pubkey.pem        the store's Ed25519 public key
 *   proofs.json       an RFC 9162 inclusion proof per entry, or one range
 *                     proof for a --seq export; consistency proofs from
 *                     every earlier checkpoint to this one
 *   checkpoints/N     the notes of those earlier checkpoints, by size
 *   policies/         the policy files in force and their commit, or README
 *   custody.json      who, when, why, what was selected, counts
 *   VERIFY.md         the expert's steps (sha256sum, openssl, verify.py)
 *   verify.py         a standard-library Python checker of the proofs
 *   MANIFEST.sha256   `sha256sum -c` lines for every other file
 *
 * docs/EVIDENCE-FORMAT.md section "Evidence bundles" is the contract; the
 * verifier here follows it exactly and so does verify.py.
 *
 * Errors: 0 or a negative AK_* code with a message (lib/error.h).
 * Strings in the structs below are borrowed from the caller.
 */
#ifndef REPORTS_BUNDLE_H
#define REPORTS_BUNDLE_H

#include "evidence/evidence.h"

#include <stddef.h>
#include <stdint.h>

/* Which entries: every criterion given must hold. At least one of subject,
 * campaign, account, query, from, to, seq is required; kind only narrows.
 * Values are kept as given (custody.json records them verbatim). */
struct bundle_selection {
	const char *subject;  /* consent.subject, send.rcpt or send.orig_to; any case */
	const char *campaign; /* send.campaign; admin campaign or details.campaign */
	const char *account;  /* admin actor or target */
	const char *query;    /* full-text search (evidence_search syntax) */
	const char *from;     /* event time >= from (RFC 3339) */
	const char *to;       /* event time <  to */
	const char *seq;      /* "A-B": seqs A to B inclusive */
	const char *kind;     /* only entries of this kind */
};

/* The whole selection is one contiguous --seq range (a range proof, and a
 * proof of completeness, instead of one inclusion proof per entry). */
int bundle_selection_is_range(const struct bundle_selection *sel);

/* Call cb for every entry of seq <= max_seq (0: no bound) that sel picks,
 * in seq order; cb as for evidence_scan(). Subject, campaign and account
 * find candidates with the full-text index and then check the parsed body
 * exactly, so a mere mention elsewhere is not a match. AK_EINVALID (naming
 * the option) for a selection that cannot be understood. */
int bundle_select(struct evidence_store *st, const struct bundle_selection *sel, int64_t max_seq,
		  evidence_entry_cb cb, void *ctx);

/* Where the policy hook puts files; they appear under policies/. */
struct bundle_policies;

/* Add one file at path (relative, '/'-separated, components of
 * [A-Za-z0-9._-] not starting with '.'). The data is copied. */
int bundle_policies_add(struct bundle_policies *p, const char *path, const void *data,
			size_t len);
/* Record the commit the files were read from (policies/COMMIT, and
 * custody.json). */
int bundle_policies_commit(struct bundle_policies *p, const char *commit);

struct bundle_opts {
	struct bundle_selection sel;
	const char *reason;  /* required, non-empty */
	const char *output;  /* FILE.zip or FILE.tar.gz; must not exist yet */
	const char *who;     /* API token name; NULL: the OS user running us */
	const char *tool;    /* tool version for custody.json ("akashi 0.1-..."); may be NULL */
	const char *const *argv; /* the command line as given (NULL-terminated), or NULL */
	/* Adds the policy files in force; NULL: policies/README says that no
	 * policy repository was configured. A negative return fails the
	 * export. */
	int (*policies)(void *ctx, struct bundle_policies *out);
	void *policies_ctx;
};

struct bundle_export_result {
	int64_t entries;      /* entries in the bundle */
	int64_t tree_size;    /* size of the checkpoint they are proven against */
	int64_t checkpoints;  /* earlier checkpoints with a consistency proof */
	int64_t export_seq;   /* seq of the "export" system entry */
	int range;            /* a range proof was written */
	unsigned char root[EVIDENCE_HASH_LEN]; /* of that checkpoint */
	unsigned char sha256[32]; /* of the archive file */
};

/* Make a fresh checkpoint (the store must be writable: it holds the key),
 * select, write the bundle to a temporary file next to opts->output, append
 * the "export" system entry (with the archive's SHA-256), then link the
 * file into place. Memory stays bounded whatever the number of entries:
 * the large members are spooled to unlinked temporary files. On any error
 * nothing is left at opts->output. AK_EEXISTS when it exists already;
 * AK_EINVALID for options (the message names the option). */
int bundle_export(struct evidence_store *st, const struct bundle_opts *opts,
		  struct bundle_export_result *out);

/* ---- offline verification ---- */

/* Bounds on what a bundle may make the verifier read. Zero fields take the
 * defaults below. */
struct bundle_limits {
	uint64_t max_total;   /* uncompressed bytes of all members together */
	uint64_t max_members; /* archive headers */
	size_t max_file;      /* any member other than entries.jsonl and proofs.json */
	size_t max_line;      /* one line of entries.jsonl */
};

#define BUNDLE_DEFAULT_MAX_TOTAL ((uint64_t)64 << 30)
#define BUNDLE_DEFAULT_MAX_MEMBERS 200000
#define BUNDLE_DEFAULT_MAX_FILE ((size_t)64 << 20)
#define BUNDLE_DEFAULT_MAX_LINE ((size_t)64 << 20)

/* The archive to check: a file (path), or bytes in memory. */
struct bundle_source {
	const char *path;
	const void *data;
	size_t len;
};

struct bundle_verify_result {
	int64_t entries;     /* lines of entries.jsonl */
	int64_t tree_size;   /* of the bundle's checkpoint (0 if unreadable) */
	int64_t first_seq, last_seq;
	int range;           /* the bundle carries a range proof */
	int64_t checkpoints; /* earlier checkpoints proven consistent */
	int64_t files;       /* files in the archive */
	int64_t problems;    /* each one was reported through the callback */
	char origin[EVIDENCE_ORIGIN_MAX + 1];
	unsigned char root[EVIDENCE_HASH_LEN];
	unsigned char key_id[4]; /* from the checkpoint's signature line */
};

/* Called once per problem found, with one sentence naming the file, the
 * seq or the proof at fault. At most a few dozen are reported one by one;
 * the rest are counted (result->problems) and summed up in a last call. */
typedef void (*bundle_problem_cb)(void *ctx, const char *problem);

/* Check everything a bundle claims, without a store: archive members (no
 * absolute or '..' paths, links, devices, unexpected or repeated files;
 * sizes within limits), MANIFEST.sha256 against every file, the
 * checkpoint's signature with the key in pubkey.pem, every leaf hash and
 * inclusion proof (or the range proof and the range's completeness), the
 * earlier checkpoints' signatures and consistency proofs, and custody.json
 * against what the bundle holds. 0 when all holds; AK_ETAMPERED when
 * anything does not (each problem went to cb); other codes when the check
 * itself could not run (out of memory, the file cannot be opened). */
int bundle_verify(const struct bundle_source *src, const struct bundle_limits *limits,
		  bundle_problem_cb cb, void *ctx, struct bundle_verify_result *out);

#endif
