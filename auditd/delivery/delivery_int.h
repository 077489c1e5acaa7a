/*
 * auditd/delivery/delivery_int.h - what the files of the delivery engine
 * share: SMTP reply reading, templates and rendering, the DKIM signer, the
 * persistent queue, the SMTP client. Not for use outside auditd/delivery/
 * (the unit tests and fuzz targets excepted); the public interface is
 * auditd/delivery/delivery.h.
 */
#ifndef AUDITD_DELIVERY_INT_H
#define AUDITD_DELIVERY_INT_H

#include "auditd/delivery/delivery.h"
#include "lib/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- SMTP replies (smtp_reply.c) ---- */

/* Longest reply line accepted (RFC 5321 allows 512 with the CRLF; servers
 * exceed it in the wild, so a little more). */
#define SMTP_LINE_MAX        2048
#define SMTP_REPLY_LINES_MAX 64

struct smtp_reply {
	int code;          /* 200..599 */
	char enhanced[16]; /* "2.0.0" (RFC 3463) when the first line has one, else "" */
	char text[512];    /* the text of every line, joined by spaces, printable ASCII */
	size_t text_len;
	int nlines;
};

void smtp_reply_reset(struct smtp_reply *r);

/* Feed one reply line (without its CRLF). 1 when the reply is complete,
 * 0 when more lines follow, AK_EINVALID for a line that is not a reply line
 * (or changes the code, or one line too many). */
int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len);

/* EHLO capabilities the client acts on. */
enum {
	SMTP_CAP_PIPELINING = 1 << 0,
	SMTP_CAP_STARTTLS = 1 << 1,
	SMTP_CAP_AUTH_PLAIN = 1 << 2,
	SMTP_CAP_8BITMIME = 1 << 3,
	SMTP_CAP_SIZE = 1 << 4,
	SMTP_CAP_ENHANCED = 1 << 5,
};

/* Note the extension one EHLO reply line (its text after "250-") names. */
void smtp_ehlo_line(unsigned *caps, size_t *size_limit, const char *text, size_t len);

/* The queue id a server gave in a final reply ("... queued as 4Fq2x1",
 * "... id=1a2b-3c"): 1 and out set, or 0. */
int smtp_reply_queue_id(const struct smtp_reply *r, char *out, size_t cap);

/* Seconds until attempt number `attempt` + 1 after attempt failed
 * temporarily: min_s doubled per attempt, at most max_s, plus up to 10 %
 * that depends only on seed (the message id). */
int64_t delivery_backoff(int attempt, int64_t min_s, int64_t max_s, const char *seed);

/* ---- templates (message.c) ---- */

struct delivery_template;

/* Parse a template (a whole message with {{field}} merge fields). Free
 * with delivery_template_free(). AK_EINVALID naming the line or header. */
int delivery_template_parse(struct delivery_template **out, const char *data, size_t len);
void delivery_template_free(struct delivery_template *t);

/* The merge fields the template uses, in order of first use. Borrowed. */
size_t delivery_template_nfields(const struct delivery_template *t);
const char *delivery_template_field(const struct delivery_template *t, size_t i);

/* May v be merged as field number `field`? AK_EINVALID naming the column
 * when it would break a header (CR, LF, NUL; in address headers also
 * <>,;:"\). */
int delivery_value_check(const struct delivery_template *t, size_t field, const char *v,
                         size_t len);

struct delivery_render {
	const char *rcpt;             /* envelope and, without a To in the template, To */
	const char *from;             /* without a From in the template, From */
	const char *message_id;       /* "<...>" */
	const char *list_unsubscribe; /* https URL for marketing mail, or NULL */
	int64_t date_us;
	const char *const *values; /* per template field (NULL: empty) */
	size_t nfields;
};

/* Append the template's own header fields for one recipient to out, as
 * delivery_render() writes them (merged, RFC 2047 encoded, folded).
 * AK_EINVALID naming the field when one could not go out (a line break
 * in a value, a line over 998 bytes): a campaign is checked with it row by
 * row when it is loaded, so that such a row is refused then, not deferred
 * at every attempt until it expires. */
int delivery_render_headers(struct ak_buf *out, struct ak_buf *scratch,
                            const struct delivery_template *t, const struct delivery_render *r);

/* Append the message for one recipient (CRLF line ends, ending in CRLF, not
 * dot-stuffed) to out. scratch is the caller's reusable buffer. */
int delivery_render(struct ak_buf *out, struct ak_buf *scratch, const struct delivery_template *t,
                    const struct delivery_render *r);

/* Append a gateway message (delivery_submit_raw: CRLF, header and body)
 * to out with List-Unsubscribe and List-Unsubscribe-Post (when
 * list_unsubscribe is not NULL) at the end of its header. */
int delivery_compose_raw(struct ak_buf *out, const char *msg, size_t len,
                         const char *list_unsubscribe);

/* Append s as RFC 2047 encoded-words (UTF-8, B), folded so that lines
 * holding them stay within 76 characters, starting at out's current
 * column. AK_EINVALID when s is not UTF-8. */
int delivery_rfc2047(struct ak_buf *out, const char *s, size_t len);

/* RFC 5322 date in UTC into out; returns its length. */
int delivery_date(char out[40], int64_t us);

/* ---- DKIM (dkim.c) ---- */

struct dkim_key;

/* Load a PEM private key (RSA of at least 1024 bits, or Ed25519); the
 * PEM text is kept too, for the libopendkim signer. */
int dkim_key_load(struct dkim_key **out, const char *path);
void dkim_key_free(struct dkim_key *k);
int dkim_key_is_ed25519(const struct dkim_key *k);

/* The DNS TXT record that publishes k's public key ("v=DKIM1; k=...; p=..."). */
int dkim_key_txt(const struct dkim_key *k, struct ak_buf *out);

struct dkim_signer_conf {
	const char *domain;
	const char *selector;       /* for key */
	const struct dkim_key *key; /* RSA (or Ed25519), required */
	const char *ed_selector;    /* optional second signature */
	const struct dkim_key *ed_key;
	int use_libopendkim; /* sign with libopendkim instead (slow: see dkim.c) */
};

struct dkim_signer; /* one per thread; keys are shared read-only */

int dkim_signer_new(struct dkim_signer **out, const struct dkim_signer_conf *c);
void dkim_signer_free(struct dkim_signer *s);

/* The most header fields a message may have: templates and gateway
 * messages with more are refused when they are handed in, so that the
 * signer, which refuses them too, never meets one in the queue. */
#define DELIVERY_MAX_HEADERS 1000

/* Append the DKIM-Signature header(s) for msg (headers, empty line, body;
 * CRLF line ends) to out, each ending in CRLF, to be put before msg.
 * t_s is the signature time (t=). AK_EINVALID for a message without an
 * empty line after its header or with more than DELIVERY_MAX_HEADERS
 * fields. */
int dkim_signer_sign(struct dkim_signer *s, struct ak_buf *out, const char *msg, size_t len,
                     int64_t t_s);

/* The header names signed, and those signed once more than they occur
 * (so that an added instance breaks the signature). */
extern const char *const dkim_signed_headers[];
extern const char *const dkim_oversigned_headers[];

/* ---- what gateway clients send (smtp_proto.c) ---- */

#define SMTPD_CMD_MAX  2048 /* longest command line without CRLF (AUTH lines are long) */
#define SMTPD_TEXT_MAX 998  /* longest message line without CRLF (RFC 5322 2.1.1) */

enum smtpd_verb {
	SMTPD_UNKNOWN,
	SMTPD_EHLO,
	SMTPD_HELO,
	SMTPD_MAIL,
	SMTPD_RCPT,
	SMTPD_DATA,
	SMTPD_RSET,
	SMTPD_NOOP,
	SMTPD_QUIT,
	SMTPD_STARTTLS,
	SMTPD_AUTH,
	SMTPD_NOT_OFFERED, /* VRFY, EXPN, HELP, BDAT, ETRN, TURN: known, answered 502 */
};

struct smtpd_cmd {
	enum smtpd_verb verb;
	const char *arg; /* after the verb and a space, trailing blanks cut; points into the line */
	size_t arg_len;
	char addr[256]; /* MAIL, RCPT: the address, lower-cased; "" for <> */
	int64_t size;   /* MAIL SIZE=, or -1 */
	int body_8bit;  /* MAIL BODY=8BITMIME */
	/* When parsing fails: the reply to give. */
	int code;
	char enh[8];
	char why[96];
};

/* Parse one command line (without its CRLF). 0, or AK_EINVALID with the
 * reply in out->code, out->enh and out->why (500, 501 or 555). */
int smtpd_parse(const char *line, size_t len, struct smtpd_cmd *out);

/* Decode an AUTH PLAIN response (base64 of authzid NUL authcid NUL passwd;
 * the authzid is ignored) into user and pass, NUL-terminated. AK_EINVALID. */
int smtpd_auth_plain(const char *b64, size_t len, char *user, size_t ucap, char *pass, size_t pcap);

/* The stream and list an AUTH user names: "LIST" (marketing),
 * "marketing/LIST" or "transactional/LIST". AK_EINVALID. */
int smtpd_auth_user(const char *user, char *stream, size_t scap, char *list, size_t lcap);

enum { SMTPD_DATA_TOO_BIG = 1, SMTPD_DATA_LONG_LINE = 2, SMTPD_DATA_BARE = 4 };

/* One line of DATA, without its line end (CRLF, or a bare LF taken as
 * one). 1 for the final ".", which ends the data only between two CRLFs
 * (crlf_around: this line and the one before it ended with CRLF, or it is
 * the first line), so that "<LF>.<LF>" never ends a message here that a
 * receiver further on would read differently (SMTP smuggling); elsewhere
 * a lone "." is a line of text. Else 0 after appending the line, its
 * leading dot undone, and a CRLF to out. Once a line is over
 * SMTPD_TEXT_MAX, holds a CR or a NUL (SMTPD_DATA_BARE: RFC 5321 2.3.8),
 * or out would pass max bytes, *flags says so and nothing more is
 * appended (the caller reads on to the final dot). */
int smtpd_data_line(struct ak_buf *out, const char *line, size_t len, int crlf_around, size_t max,
                    unsigned *flags);

struct smtpd_msg_in {
	const char *list;     /* the login's list: X-Akashi-List must name it */
	const char *campaign; /* the campaign when there is no X-Akashi-Campaign */
	const char *id_local; /* a Message-ID made here: <id_local@id_domain> */
	const char *id_domain;
	int marketing; /* drop the client's List-Unsubscribe(-Post): the engine adds its own */
	int64_t now_us;
};

struct smtpd_msg_out {
	char campaign[256];
	int have_campaign;    /* from X-Akashi-Campaign */
	char message_id[320]; /* the client's, or the one made here */
	/* When refused: the reply to give at the end of DATA. */
	int code;
	char enh[8];
	char why[200];
};

/* The message as akashi queues it, into out (reset first): the header of
 * data less X-Akashi-*, Bcc and Return-Path (and for marketing mail
 * List-Unsubscribe and -Post), with a Message-ID and a Date added when it
 * has none, then the body unchanged. X-Akashi-List must equal in->list
 * and X-Akashi-Campaign must be a valid campaign id; res gets the campaign
 * and the Message-ID. AK_EINVALID with the reply in res (554, or 552 when
 * out is full). */
int smtpd_message(struct ak_buf *out, const char *data, size_t len, const struct smtpd_msg_in *in,
                  struct smtpd_msg_out *res);

/* ---- the queue (queue.c) ----
 *
 * queue.db, WAL mode, synchronous=NORMAL (the evidence log, not this file,
 * is what a power loss must not lose: see engine.c):
 *
 *   meta(key PRIMARY KEY, value)          "ev_mark": the seq up to which the
 *                                         log's send entries are reflected here
 *   campaigns(id PRIMARY KEY, stream, list, sender, owner, template,
 *             columns, nonce, created, loaded, size)
 *   messages(campaign, idx, rcpt, fields, state, attempts, next_at,
 *            created, last, PRIMARY KEY(campaign, idx)) WITHOUT ROWID
 *     UNIQUE(campaign, rcpt); INDEX(state, next_at); INDEX(state, campaign, idx)
 *
 * fields holds the row's CSV values NUL-separated, in column order.
 */

enum dq_state {
	DQ_NEW = 0,      /* loaded, not gated yet */
	DQ_READY = 1,    /* gated and recorded `queued`; due at next_at */
	DQ_INFLIGHT = 2, /* handed to the SMTP client; attempts counts it */
	DQ_DEFERRED = 3, /* a temporary failure; due again at next_at */
	DQ_SENT = 4,
	DQ_BOUNCED = 5,
	DQ_BLOCKED = 6,
	DQ_EXPIRED = 7,
};

struct dqueue;

/* Open (creating) the queue; with lock, also take the runner lock (a
 * lock file beside it): AK_EBUSY when another process holds it. */
int dq_open(struct dqueue **out, const char *path, int lock);
void dq_close(struct dqueue *q);
sqlite3 *dq_db(struct dqueue *q);

int dq_begin(struct dqueue *q);
int dq_commit(struct dqueue *q);
void dq_rollback(struct dqueue *q);

int dq_mark_get(struct dqueue *q, int64_t *out);
int dq_mark_set(struct dqueue *q, int64_t seq);

struct dq_campaign {
	char *id, *stream, *list, *sender, *owner, *nonce;
	char *template_data;
	size_t template_len;
	char **columns; /* NULL-terminated */
	size_t ncolumns;
	int64_t created, size;
	int loaded;
	/* A gateway message (submissions table): template_data is the
	 * message; label the campaign its entries name; size the recipients
	 * handed in under label so far; day_size those its owner handed in
	 * on its UTC day, under any label. */
	int raw;
	char *label, *message_id, *via, *peer;
	int64_t day_size;
};

void dq_campaign_clear(struct dq_campaign *c);
/* AK_ENOTFOUND when there is none. */
int dq_campaign_get(struct dqueue *q, const char *id, struct dq_campaign *out);
int dq_campaign_add(struct dqueue *q, const struct dq_campaign *c);
int dq_campaign_loaded(struct dqueue *q, const char *id, int64_t size);
int dq_campaign_delete(struct dqueue *q, const char *id);
/* Remove the gateway messages whose recipients are all final, rows and
 * all (its own transaction); *n says how many. */
int dq_raw_gc(struct dqueue *q, int64_t *n);
/* The idx of rcpt in campaign; AK_ENOTFOUND. */
int dq_find_rcpt(struct dqueue *q, const char *campaign, const char *rcpt, int64_t *idx);
/* synchronous=FULL (on) or NORMAL (off) for the transactions that follow. */
int dq_durable(struct dqueue *q, int on);
/* The campaigns with messages not final yet; cb per id. */
int dq_campaigns_open(struct dqueue *q, int (*cb)(void *ctx, const char *id), void *ctx);

/* The highest idx loaded for campaign (0 when none). */
int dq_max_idx(struct dqueue *q, const char *campaign, int64_t *out);
/* Add a message (inside a transaction): 1 added, 0 a duplicate recipient. */
int dq_add(struct dqueue *q, const char *campaign, int64_t idx, const char *rcpt,
           const char *fields, size_t fields_len, int64_t created);

struct dq_msg {
	char campaign[256];
	int64_t idx;
	char rcpt[256];
	char *fields; /* malloc'd, NUL-separated */
	size_t fields_len;
	int state, attempts;
	int64_t next_at, created;
};

void dq_msg_clear(struct dq_msg *m);

/* Up to max messages to act on (campaign NULL: any), into out[] (the
 * caller clears them): first those due (READY or DEFERRED with next_at <=
 * now), then NEW ones. */
int dq_take(struct dqueue *q, const char *campaign, int64_t now, size_t max, struct dq_msg *out,
            size_t *n);

/* Set a message's state (inside a transaction). attempts < 0 and next_at
 * < 0 leave those as they are; last may be NULL. */
int dq_set(struct dqueue *q, const char *campaign, int64_t idx, int state, int attempts,
           int64_t next_at, const char *last);

/* One message's state and attempts; AK_ENOTFOUND. */
int dq_get_state(struct dqueue *q, const char *campaign, int64_t idx, int *state, int *attempts);

/* In-flight messages become READY again, due now (after a crash). */
int dq_requeue_inflight(struct dqueue *q, const char *campaign, int64_t *n);

/* The earliest next_at of a due-later message, or 0 when none. */
int dq_next_due(struct dqueue *q, const char *campaign, int64_t *out);

/* Counts by state of a campaign's messages (NULL: all); with gateway,
 * also those submitted through the SMTP gateway under that campaign name. */
int dq_counts(struct dqueue *q, const char *campaign, int gateway, struct delivery_counts *out);

/* ---- the SMTP client (smtp_client.c, resolve.c) ---- */

enum smtp_outcome {
	SMTP_SENT,     /* 2xx after the data */
	SMTP_DEFERRED, /* 4xx, or no answer: try again later */
	SMTP_BOUNCED,  /* 5xx about the recipient or the message */
};

/* One message for one recipient. The engine fills the first part and
 * owns the job; the client fills the outcome and hands it back through
 * the done callback, on the client's thread. */
struct smtp_job {
	struct smtp_job *next;
	void *owner; /* the engine's */
	const char *from, *rcpt;
	char *data; /* the signed message; not dot-stuffed */
	size_t len;
	int eightbit; /* ask for BODY=8BITMIME */

	enum smtp_outcome outcome;
	char reply[600]; /* "250 2.0.0 Ok: queued as X", or a description of what failed */
	char dsn[16];    /* enhanced status code, or "" */
	char relay[300]; /* "host[ip]:port", or "" when no connection was made */
	char queue_id[64];
	char tls_version[16], tls_cipher[64];
	int tls_verified;
};

struct smtp_client_conf {
	const char *relay; /* "host:port" or NULL: MX */
	int mx_port;
	const char *user, *password;
	enum delivery_tls tls;
	const char *ca_file;
	const char *helo;
	const char *dns_server;
	int connections;
	int rate;
	int timeout_s;
};

struct smtp_client;

/* Start the client's event-loop thread. done is called on that thread for
 * every job submitted, exactly once. */
int smtp_client_new(struct smtp_client **out, const struct smtp_client_conf *c,
                    void (*done)(void *ctx, struct smtp_job *job), void *ctx);
/* Hand over a list of jobs (any thread). */
void smtp_client_submit(struct smtp_client *c, struct smtp_job *jobs);
/* Stop: jobs not finished are given back deferred ("shutting down"), the
 * thread joined. */
void smtp_client_free(struct smtp_client *c);

/* Where to deliver mail for a domain (resolve.c). */
struct smtp_addr {
	char host[256]; /* the name the certificate must carry */
	struct sockaddr_storage sa;
	unsigned salen;
};

struct smtp_route {
	int status; /* 0 ok, SMTP_DEFERRED or SMTP_BOUNCED with why */
	char why[256];
	struct smtp_addr *addrs;
	size_t naddrs;
};

/* Resolve (blocking; called on the resolver thread): for a relay
 * "host:port" its addresses; else the MX hosts of domain by preference,
 * falling back to its A/AAAA (RFC 5321 5.1), each with port. */
int smtp_resolve(const char *relay, const char *domain, int port, const char *dns_server,
                 struct smtp_route *out);
void smtp_route_clear(struct smtp_route *r);

/* DNS answers (wire format, as res_nquery returns them) are outside
 * input; these read them with the resolver's bounds-checked parser and
 * are what smtp_resolve() uses (fuzzed by tests/fuzz/fuzz_dns.c). */
struct smtp_mx {
	int pref;        /* 0..65535 */
	char host[1025]; /* the exchange, expanded; "" or "." for a null MX */
};
/* The MX records of an answer, in answer order, at most cap; records
 * that are not MX or whose exchange does not expand are skipped. The
 * count, or -1 when the message does not parse. */
int smtp_mx_answer(const unsigned char *ans, int len, struct smtp_mx *mx, size_t cap);
/* MX hosts in the order to try them: by preference, and hosts of the same
 * preference in random order, so the load spreads over them as the
 * domain meant (RFC 5321 5.1). */
void smtp_mx_order(struct smtp_mx *mx, size_t n);
/* The A and AAAA records of an answer added to out as addresses of host
 * at port (at most 20 addresses in a route). 0, also when the message
 * does not parse (no address), or AK_ENOMEM. */
int smtp_addr_answer(const unsigned char *ans, int len, const char *host, int port,
                     struct smtp_route *out);

#endif
