/*
 * lib/jcs.c - strict JSON parser and RFC 8785 canonical writer (see
 * lib/jcs.h).
 *
 * The parser is a recursive descent over the bytes (recursion is bounded by
 * AK_JSON_MAX_DEPTH) that builds the DOM in the document's arena:
 *
 *   - The arena is a list of chunks kept from one parse to the next; a parse
 *     rewinds it to the first chunk, so once a document has seen inputs of
 *     some size it parses more of them without calling malloc.
 *   - Children of the containers being parsed are collected on one shared
 *     stack of slots; when a container closes, its slots are copied into a
 *     right-sized array in the arena and popped. Object members are sorted
 *     there, in RFC 8785 order, before the copy, and duplicates (which sort
 *     next to each other) are found then. Comparisons mostly look at an
 *     8-byte prefix of each name, taken while the name was scanned.
 *   - Strings are scanned eight bytes at a time while they hold nothing but
 *     printable ASCII; a string without escapes is then a single memcpy. One
 *     with escapes is validated in the same scan and decoded in a second,
 *     trusting pass into the space of its raw length (no escape grows).
 *
 * Error columns count bytes from the start of the text, 1-based: inputs are
 * JSON Lines, and a byte column survives multi-byte characters.
 *
 * The writer trusts the invariants the parser establishes (valid UTF-8,
 * members sorted and unique, integers in range) and so never fails but for
 * the output limit or memory. The jansson writer checks everything, since a
 * json_t may have been built by anyone.
 *
 * SECURITY: the text is outside input of any size and content. The parser
 * reads only inside [text, text + len), recurses at most AK_JSON_MAX_DEPTH
 * deep, and allocates at most the document's max_bytes (AK_ETOOBIG past
 * that). Names quoted in messages are cut short and have control characters
 * escaped, so a message is safe to print on a terminal or write to a log.
 */
#include "lib/jcs.h"

#include "lib/error.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_BYTES  ((size_t)64 << 20)
#define FIRST_CHUNK        4096
#define FIRST_SLOTS        64
#define INSERTION_SORT_MAX 16 /* members; above this, merge sort */
#define SHOWN_KEY_MAX      48 /* bytes of a key shown in a message */

/* ---------------------------------------------------------------------- */
/* The document and its arena */

struct chunk {
	struct chunk *next;
	size_t size;  /* usable bytes after the header */
	int borrowed; /* the caller's memory (ak_jcs_canonicalize's stack) */
};

/* The chunk header padded so that a chunk's data is suitably aligned. */
#define CHUNK_HDR ((sizeof(struct chunk) + 15) & ~(size_t)15)

/* A child of a container being parsed. For array items only value is
 * used. prefix is the first 8 bytes of a member's name as a big-endian
 * number (zero-padded), which decides most comparisons without touching
 * the name; offset is where the name starts, for the duplicate message. */
struct slot {
	const char *key;
	size_t key_len;
	uint64_t prefix;
	struct ak_jv *value;
	size_t offset;
};

struct ak_jdoc {
	struct chunk *head, *tail, *cur;
	char *pos, *end; /* free space of cur */
	size_t held;     /* bytes of chunks and slots, counted against max */
	size_t max;
	struct slot *slots;
	size_t nslots, slots_cap;
	int slots_borrowed;
	int fail; /* AK_ETOOBIG or AK_ENOMEM after an allocation failed */
};

static void doc_init(struct ak_jdoc *d, size_t max_bytes)
{
	memset(d, 0, sizeof(*d));
	d->max = max_bytes ? max_bytes : DEFAULT_MAX_BYTES;
}

/* Append a chunk of size usable bytes (the caller checked the limit). */
static void doc_add_chunk(struct ak_jdoc *d, struct chunk *c, size_t size, int borrowed)
{
	c->next = NULL;
	c->size = size;
	c->borrowed = borrowed;
	if (d->tail)
		d->tail->next = c;
	else
		d->head = c;
	d->tail = c;
	d->held += size;
}

static void doc_use_chunk(struct ak_jdoc *d, struct chunk *c)
{
	d->cur = c;
	d->pos = (char *)c + CHUNK_HDR;
	d->end = d->pos + c->size;
}

static void doc_release(struct ak_jdoc *d)
{
	struct chunk *c = d->head, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		if (!c->borrowed)
			free(c);
	}
	if (!d->slots_borrowed)
		free(d->slots);
}

/* Out-of-line part of arena_alloc(): move to a later chunk with room for
 * need bytes, or add one. NULL with d->fail set. */
static void *arena_grow(struct ak_jdoc *d, size_t need)
{
	struct chunk *c = d->cur ? d->cur->next : d->head;
	size_t size;

	while (c != NULL && c->size < need)
		c = c->next; /* too small for this request; used again after the next reset */
	if (c == NULL) {
		if (d->held >= d->max || d->max - d->held < need)
			goto too_big;
		/* Each new chunk at least doubles what the document holds, so a
		 * document grows in a logarithmic number of steps. */
		size = d->held > FIRST_CHUNK ? d->held : FIRST_CHUNK;
		if (size < need)
			size = need;
		if (size > d->max - d->held)
			size = d->max - d->held;
		c = malloc(CHUNK_HDR + size);
		if (c == NULL) {
			d->fail = AK_ENOMEM;
			return NULL;
		}
		doc_add_chunk(d, c, size, 0);
	}
	doc_use_chunk(d, c);
	return d->pos;
too_big:
	d->fail = AK_ETOOBIG;
	return NULL;
}

/* n bytes aligned for any DOM struct, or NULL with d->fail set. Every
 * allocation is rounded up to 8 bytes, so the free space always starts
 * aligned and the fast path is a compare and an add. */
static inline void *arena_alloc(struct ak_jdoc *d, size_t n)
{
	size_t r = (n + 7) & ~(size_t)7;
	char *p;

	if (r < n) {
		d->fail = AK_ETOOBIG;
		return NULL;
	}
	if ((size_t)(d->end - d->pos) < r && arena_grow(d, r) == NULL)
		return NULL;
	p = d->pos;
	d->pos += r;
	return p;
}

/* Room for `more` slots above nslots. 0, or -1 with d->fail set. */
static int slots_grow(struct ak_jdoc *d, size_t more)
{
	size_t cap = d->slots_cap, want = cap ? cap : FIRST_SLOTS;
	struct slot *s;

	while (want - d->nslots < more) {
		if (want > ((size_t)-1) / 2 / sizeof(*s))
			goto too_big;
		want *= 2;
	}
	if (d->held >= d->max || (want - cap) > (d->max - d->held) / sizeof(*s)) {
		/* Doubling overshoots the limit: take just what is needed. */
		want = d->nslots + more;
		if (d->held >= d->max || (want - cap) > (d->max - d->held) / sizeof(*s))
			goto too_big;
	}
	s = malloc(want * sizeof(*s));
	if (s == NULL) {
		d->fail = AK_ENOMEM;
		return -1;
	}
	if (d->nslots)
		memcpy(s, d->slots, d->nslots * sizeof(*s));
	if (!d->slots_borrowed)
		free(d->slots);
	d->slots = s;
	d->slots_borrowed = 0;
	d->held += (want - cap) * sizeof(*s);
	d->slots_cap = want;
	return 0;
too_big:
	d->fail = AK_ETOOBIG;
	return -1;
}

int ak_jdoc_new(struct ak_jdoc **out, size_t max_bytes)
{
	struct ak_jdoc *d = malloc(sizeof(*d));
	size_t first;
	struct chunk *c;

	*out = NULL;
	if (d == NULL)
		return ak_error_oom();
	doc_init(d, max_bytes);
	/* Leave a small limit room for the slots too. */
	first = d->max / 2 < FIRST_CHUNK ? d->max / 2 : FIRST_CHUNK;
	c = malloc(CHUNK_HDR + first);
	if (c == NULL) {
		free(d);
		return ak_error_oom();
	}
	doc_add_chunk(d, c, first, 0);
	doc_use_chunk(d, c);
	*out = d;
	return 0;
}

void ak_jdoc_free(struct ak_jdoc *doc)
{
	if (doc == NULL)
		return;
	doc_release(doc);
	free(doc);
}

/* ---------------------------------------------------------------------- */
/* Bytes and characters */

/* 1 for the bytes a string holds as they are: printable ASCII but '"' and
 * '\\'. Everything else needs a closer look. */
static const unsigned char plain[256] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
        1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x70 */
};

#define ONES  UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* Eight bytes at p with the first in the least significant position, so
 * that borrows in the tests below run from earlier bytes to later ones. */
static inline uint64_t load64(const unsigned char *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* Eight bytes at p with the first in the most significant position, so
 * that comparing two such numbers compares the bytes in order. */
static inline uint64_t load_be64(const unsigned char *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* Position (0..7) of the first flagged byte of a nonzero mask. */
static inline size_t first_flagged(uint64_t mask)
{
	return (size_t)__builtin_ctzll(mask) >> 3;
}

/* Copy n bytes with a few fixed-size moves where n is small: strings here
 * are mostly short, and a call to memcpy costs more than the copy. */
static inline void copy_bytes(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (n >= 32) {
		memcpy(d, s, n);
	} else if (n >= 16) {
		memcpy(d, s, 16);
		memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, s, 4);
		memcpy(d + n - 4, s + n - 4, 4);
	} else if (n >= 2) {
		memcpy(d, s, 2);
		memcpy(d + n - 2, s + n - 2, 2);
	} else if (n == 1) {
		d[0] = s[0];
	}
}

/* Nonzero when one of the eight bytes in x is a quote, a backslash or below
 * 0x20. Bytes above a hit may be flagged falsely (a borrow runs on into
 * them), but the first flagged byte is always a true hit, which is all the
 * callers look at. */
static inline uint64_t swar_escapable(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');

	return (((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) | ((b - ONES) & ~b)) & HIGHS;
}

/* Like swar_escapable(), and also any byte >= 0x80. */
static inline uint64_t swar_special(uint64_t x)
{
	return (x & HIGHS) | swar_escapable(x);
}

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) starting with the byte p[0] >= 0x80,
 * or 0 when there is none within [p, end). */
static inline size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	size_t avail = (size_t)(end - p);
	unsigned c = p[0], lo = 0x80, hi = 0xBF;

	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c < 0xF0) {
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		return avail >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
	}
	if (c < 0xF5) {
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		return avail >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 &&
		                       (p[3] & 0xC0) == 0x80
		               ? 4
		               : 0;
	}
	return 0;
}

/* Offset of the first byte of s[0..len) that is not well-formed UTF-8, or
 * len when all of it is. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq(s + i, s + len);
		if (n == 0)
			return i;
		i += n;
	}
	return len;
}

size_t ak_utf8_valid_prefix(const char *s, size_t len)
{
	return utf8_check((const unsigned char *)s, len);
}

size_t ak_utf8_clean(char *out, size_t cap, const char *s, size_t len)
{
	static const char fffd[] = "\xEF\xBF\xBD";
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t o = 0;

	while (p < end) {
		size_t n = *p == 0 ? 0 : *p < 0x80 ? 1 : utf8_seq(p, end);
		const char *from = n ? (const char *)p : fffd;
		size_t w = n ? n : 3;

		if (o + w > cap - 1)
			break;
		memcpy(out + o, from, w);
		o += w;
		p += n ? n : 1;
	}
	out[o] = '\0';
	return o;
}

/* Decode the sequence at p, already known to be well-formed. */
static unsigned utf8_decode(const unsigned char *p, size_t *n)
{
	if (p[0] < 0x80) {
		*n = 1;
		return p[0];
	}
	if (p[0] < 0xE0) {
		*n = 2;
		return (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu);
	}
	if (p[0] < 0xF0) {
		*n = 3;
		return (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
	}
	*n = 4;
	return (p[0] & 0x07u) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 | (p[3] & 0x3Fu);
}

static size_t utf8_encode(unsigned char *d, unsigned cp)
{
	if (cp < 0x80) {
		d[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (unsigned char)(0xC0 | cp >> 6);
		d[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (unsigned char)(0xE0 | cp >> 12);
		d[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		d[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	d[0] = (unsigned char)(0xF0 | cp >> 18);
	d[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	d[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	d[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

static int hexval(unsigned c)
{
	if (c - '0' < 10)
		return (int)(c - '0');
	c |= 0x20;
	if (c - 'a' < 6)
		return (int)(c - 'a' + 10);
	return -1;
}

/* The four hex digits at p as a number, or -1. The caller checked that
 * four bytes are there. */
static long hex4(const unsigned char *p)
{
	int a = hexval(p[0]), b = hexval(p[1]), c = hexval(p[2]), d = hexval(p[3]);

	if ((a | b | c | d) < 0)
		return -1;
	return (long)a << 12 | (long)b << 8 | (long)c << 4 | (long)d;
}

/*
 * Compare by UTF-16 code units. UTF-8 byte order is code point order, and
 * UTF-16 order differs from that in one case only: a character above
 * U+FFFF (a surrogate pair, D800..DBFF first) sorts before U+E000..U+FFFF.
 * Where two valid strings first differ, both have a character boundary
 * (the bytes before are equal), so the differing bytes are lead bytes
 * whenever either is >= 0xEE, and lead bytes tell the ranges apart: 0xEE,
 * 0xEF start U+E000..U+FFFF, 0xF0..0xF4 start the rest.
 */
static inline int first_diff_cmp(unsigned ca, unsigned cb)
{
	if ((ca | cb) >= 0xEE) {
		if (ca >= 0xF0 && (cb == 0xEE || cb == 0xEF))
			return -1;
		if (cb >= 0xF0 && (ca == 0xEE || ca == 0xEF))
			return 1;
	}
	return ca < cb ? -1 : 1;
}

static inline int keycmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen, i = 0;

	while (i < n && a[i] == b[i])
		i++;
	if (i == n)
		return alen < blen ? -1 : alen > blen;
	return first_diff_cmp(a[i], b[i]);
}

int ak_jcs_keycmp(const char *a, size_t alen, const char *b, size_t blen)
{
	return keycmp((const unsigned char *)a, alen, (const unsigned char *)b, blen);
}

/* Copy s[0..len) into out[size] for a message: at most SHOWN_KEY_MAX bytes
 * of it, "..." when cut, with control characters (C0, DEL, C1, line and
 * bidi controls), quote and backslash escaped and invalid UTF-8 shown as
 * \xNN, so that a message never carries raw control bytes. */
static void shown_key(char *out, size_t size, const char *key, size_t len, char quote)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)key, *e = s + len;
	size_t o = 0, n;
	unsigned cp;

	assert(size >= SHOWN_KEY_MAX + 16);
	while (s < e) {
		char esc[12];
		size_t k = 0;

		if (o >= SHOWN_KEY_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (*s >= 0x80 && (n = utf8_seq(s, e)) == 0) {
			esc[k++] = '\\';
			esc[k++] = 'x';
			esc[k++] = hex[*s >> 4];
			esc[k++] = hex[*s & 15];
			n = 1;
		} else {
			cp = utf8_decode(s, &n);
			if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) ||
			    (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) {
				esc[k++] = '\\';
				esc[k++] = 'u';
				esc[k++] = hex[cp >> 12 & 15];
				esc[k++] = hex[cp >> 8 & 15];
				esc[k++] = hex[cp >> 4 & 15];
				esc[k++] = hex[cp & 15];
			} else if (cp == (unsigned char)quote || cp == '\\') {
				esc[k++] = '\\';
				esc[k++] = (char)cp;
			} else {
				memcpy(esc, s, n);
				k = n;
			}
		}
		memcpy(out + o, esc, k);
		o += k;
		s += n;
	}
	out[o] = '\0';
}

/* ---------------------------------------------------------------------- */
/* Parser */

struct parser {
	const unsigned char *start, *p, *end;
	struct ak_jdoc *doc;
	int depth;
};

static int perr(const struct parser *ps, const unsigned char *at, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* AK_EINVALID with "column N: reason". */
static int perr(const struct parser *ps, const unsigned char *at, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return ak_error_code(AK_EINVALID, "column %zu: %s", (size_t)(at - ps->start) + 1, reason);
}

/* The error for a failed arena or slot allocation while at `at`. */
static int alloc_failed(const struct parser *ps, const unsigned char *at)
{
	size_t col = (size_t)(at - ps->start) + 1;

	if (ps->doc->fail == AK_ENOMEM)
		return ak_error_oom();
	return ak_error_code(AK_ETOOBIG,
	                     "column %zu: JSON value needs more than %zu bytes of memory", col,
	                     ps->doc->max);
}

/* "unexpected character 'x'" or, for bytes that would not print, the byte. */
static int unexpected(const struct parser *ps, const unsigned char *at)
{
	if (at == ps->end)
		return perr(ps, at, "unexpected end of input");
	if (*at > 0x20 && *at < 0x7F)
		return perr(ps, at, "unexpected character '%c'", *at);
	return perr(ps, at, "unexpected byte 0x%02X", *at);
}

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
	/* Compact input has no white space: one compare says so. */
	while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* Check the escape at *pp (a backslash) and move *pp past it. 0, or
 * AK_EINVALID with the error set. */
static int check_escape(const struct parser *ps, const unsigned char **pp)
{
	const unsigned char *p = *pp, *end = ps->end;
	long cp, lo;

	if (end - p < 2)
		return perr(ps, end, "unexpected end of input");
	switch (p[1]) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		*pp = p + 2;
		return 0;
	case 'u':
		break;
	default:
		if (p[1] > 0x20 && p[1] < 0x7F)
			return perr(ps, p, "invalid escape '\\%c'", p[1]);
		return perr(ps, p, "invalid escape (byte 0x%02X after '\\')", p[1]);
	}
	if (end - p < 6)
		return perr(ps, end, "unexpected end of input");
	cp = hex4(p + 2);
	if (cp < 0)
		return perr(ps, p, "invalid \\u escape (expected 4 hex digits)");
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return perr(ps, p, "unpaired surrogate \\u%04lx", cp);
	if (cp < 0xD800 || cp > 0xDBFF) {
		*pp = p + 6;
		return 0;
	}
	/* A high surrogate must be followed at once by a low one. */
	if (end - p >= 12 && p[6] == '\\' && p[7] == 'u') {
		lo = hex4(p + 8);
		if (lo >= 0xDC00 && lo <= 0xDFFF) {
			*pp = p + 12;
			return 0;
		}
	}
	return perr(ps, p, "unpaired surrogate \\u%04lx", cp);
}

/* Decode the escapes of s[0..e), already checked, into d; its length. No
 * escape is longer decoded than written, so d needs e - s bytes. */
static size_t decode_escapes(unsigned char *d, const unsigned char *s, const unsigned char *e)
{
	unsigned char *d0 = d;
	const unsigned char *bs;
	unsigned cp;

	while (s < e) {
		bs = memchr(s, '\\', (size_t)(e - s));
		if (bs == NULL)
			bs = e;
		memcpy(d, s, (size_t)(bs - s));
		d += bs - s;
		s = bs;
		if (s == e)
			break;
		switch (s[1]) {
		case 'b':
			*d++ = '\b';
			break;
		case 'f':
			*d++ = '\f';
			break;
		case 'n':
			*d++ = '\n';
			break;
		case 'r':
			*d++ = '\r';
			break;
		case 't':
			*d++ = '\t';
			break;
		case 'u':
			cp = (unsigned)hex4(s + 2);
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     ((unsigned)hex4(s + 8) - 0xDC00);
				s += 6;
			}
			d += utf8_encode(d, cp);
			s += 4;
			break;
		default: /* '"', '\\', '/' */
			*d++ = s[1];
			break;
		}
		s += 2;
	}
	return (size_t)(d - d0);
}

/* The bits of a load_be64() value that hold the first n bytes. */
static inline uint64_t prefix_mask(size_t n)
{
	if (n >= 8)
		return ~(uint64_t)0;
	return n ? ~(uint64_t)0 << (64 - 8 * n) : 0;
}

/* The first 8 bytes of s[0..n) as a big-endian number, zero-padded. */
static uint64_t name_prefix(const unsigned char *s, size_t n)
{
	unsigned char b[8] = {0};

	memcpy(b, s, n < 8 ? n : 8);
	return load_be64(b);
}

/* Parse the string whose opening quote is at ps->p into the arena. For a
 * member name, also its prefix for sorting (see struct slot). */
static int parse_string(struct parser *ps, const char **out, size_t *out_len, uint64_t *prefix)
{
	const unsigned char *s = ps->p + 1, *p = s, *end = ps->end;
	int escaped = 0;
	size_t n;
	char *d;

	for (;;) {
		uint64_t m = 0;

		while (end - p >= 8 && (m = swar_special(load64(p))) == 0)
			p += 8;
		if (m)
			p += first_flagged(m);
		else
			while (p < end && plain[*p])
				p++;
		if (p == end)
			return perr(ps, p, "unexpected end of input (unterminated string)");
		if (*p == '"')
			break;
		if (*p == '\\') {
			if (check_escape(ps, &p) != 0)
				return AK_EINVALID;
			escaped = 1;
		} else if (*p < 0x20) {
			return perr(ps, p, "control character U+%04X in string (escape it)", *p);
		} else {
			n = utf8_seq(p, end);
			if (n == 0)
				return perr(ps, p, "invalid UTF-8 (byte 0x%02X)", *p);
			p += n;
		}
	}
	n = (size_t)(p - s);
	d = arena_alloc(ps->doc, n + 1);
	if (d == NULL)
		return alloc_failed(ps, ps->p);
	if (escaped) {
		n = decode_escapes((unsigned char *)d, s, p);
		if (prefix)
			*prefix = name_prefix((const unsigned char *)d, n);
	} else {
		copy_bytes(d, s, n);
		/* Read from the input rather than from the copy just stored,
		 * which would stall on store forwarding. */
		if (prefix && end - s >= 8)
			*prefix = load_be64(s) & prefix_mask(n);
		else if (prefix)
			*prefix = name_prefix(s, n);
	}
	d[n] = '\0';
	*out = d;
	*out_len = n;
	ps->p = p + 1;
	return 0;
}

static int parse_number(struct parser *ps, struct ak_jv *v)
{
	const unsigned char *s = ps->p, *p = s, *end = ps->end;
	uint64_t u = 0;
	size_t digits = 0;
	int neg = 0;

	if (*p == '-') {
		neg = 1;
		p++;
		if (p == end)
			return perr(ps, p, "unexpected end of input");
		if ((unsigned)(*p - '0') > 9)
			return perr(ps, p, "expected a digit after '-'");
	}
	if (*p == '0') {
		p++;
		digits = 1;
		if (p < end && (unsigned)(*p - '0') <= 9)
			return perr(ps, s, "leading zeros not allowed");
	} else {
		/* 17 digits cannot overflow 64 bits; longer is out of range anyway. */
		for (; p < end && (unsigned)(*p - '0') <= 9; p++, digits++)
			if (digits < 17)
				u = u * 10 + (unsigned)(*p - '0');
	}
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
		return perr(ps, s, "floating-point number not allowed (write it as a string)");
	if (digits > 16 || u > (uint64_t)AK_JSON_SAFE_INT_MAX)
		return perr(ps, s, "integer out of range (beyond \u00b1(2^53-1))");
	v->type = AK_JINT;
	v->u.i = neg ? -(int64_t)u : (int64_t)u;
	ps->p = p;
	return 0;
}

static int parse_literal(struct parser *ps, struct ak_jv *v, const char *word, size_t n,
                         enum ak_jtype type)
{
	const unsigned char *p = ps->p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p + i == ps->end)
			return perr(ps, p + i, "unexpected end of input");
		if (p[i] != (unsigned char)word[i])
			return perr(ps, p, "invalid literal (expected '%s')", word);
	}
	v->type = type;
	ps->p = p + n;
	return 0;
}

static int parse_value(struct parser *ps, struct ak_jv **out);

static inline int slot_cmp(const struct slot *a, const struct slot *b)
{
	int c;

	/* Where the prefixes differ, their first differing byte is the
	 * names' first differing byte (or a pad byte standing for the end of
	 * the shorter name, which sorts first like it should). */
	if (a->prefix != b->prefix) {
		unsigned k = (unsigned)__builtin_clzll(a->prefix ^ b->prefix) & ~7u;

		return first_diff_cmp((unsigned)(a->prefix << k >> 56),
		                      (unsigned)(b->prefix << k >> 56));
	}
	c = keycmp((const unsigned char *)a->key, a->key_len, (const unsigned char *)b->key,
	           b->key_len);

	/* Equal names keep their input order, so the later one is reported. */
	if (c == 0)
		c = a->offset < b->offset ? -1 : 1;
	return c;
}

/* Sort s[0..n) with tmp[0..n) as scratch; stable. Members usually come
 * sorted already (canonical input), which the first pass notices. */
static void sort_slots(struct slot *s, struct slot *tmp, size_t n)
{
	struct slot *src = s, *dst = tmp, *t;
	size_t i, j, width, lo, mid, hi, k;

	for (i = 1; i < n && slot_cmp(&s[i - 1], &s[i]) < 0; i++)
		;
	if (i >= n)
		return;
	if (n <= INSERTION_SORT_MAX) {
		for (i = 1; i < n; i++) {
			struct slot x = s[i];

			for (j = i; j > 0 && slot_cmp(&s[j - 1], &x) > 0; j--)
				s[j] = s[j - 1];
			s[j] = x;
		}
		return;
	}
	/* Bottom-up merge sort, ping-ponging between s and tmp. */
	for (width = 1; width < n; width *= 2) {
		for (lo = 0; lo < n; lo += 2 * width) {
			mid = lo + width < n ? lo + width : n;
			hi = mid + width < n ? mid + width : n;
			i = lo;
			j = mid;
			for (k = lo; k < hi; k++) {
				if (i < mid && (j >= hi || slot_cmp(&src[i], &src[j]) <= 0))
					dst[k] = src[i++];
				else
					dst[k] = src[j++];
			}
		}
		t = src;
		src = dst;
		dst = t;
	}
	if (src != s)
		memcpy(s, src, n * sizeof(*s));
}

static inline int push_slot(struct parser *ps, const char *key, size_t key_len, uint64_t prefix,
                            struct ak_jv *value, size_t offset)
{
	struct ak_jdoc *d = ps->doc;
	struct slot *s;

	if (d->nslots == d->slots_cap && slots_grow(d, 1) != 0)
		return alloc_failed(ps, ps->p);
	s = &d->slots[d->nslots++];
	s->key = key;
	s->key_len = key_len;
	s->prefix = prefix;
	s->value = value;
	s->offset = offset;
	return 0;
}

/* Step into the object or array opening at ps->p, whose closing character
 * is close: 1 when it is empty (and then already closed), 0 with *pp at its
 * first member, or an error when nesting is too deep. */
static int enter(struct parser *ps, unsigned char close, const unsigned char **pp)
{
	const unsigned char *p;

	if (ps->depth >= AK_JSON_MAX_DEPTH)
		return perr(ps, ps->p, "nesting deeper than %d", AK_JSON_MAX_DEPTH);
	ps->depth++;
	p = skip_ws(ps->p + 1, ps->end);
	*pp = p;
	if (p < ps->end && *p == close) {
		ps->p = p + 1;
		ps->depth--;
		return 1;
	}
	return 0;
}

static int parse_object(struct parser *ps, struct ak_jv *v)
{
	struct ak_jdoc *d = ps->doc;
	const unsigned char *open = ps->p, *p, *end = ps->end;
	size_t base = d->nslots, n, i, offset, key_len;
	uint64_t prefix;
	struct ak_jmember *m;
	struct ak_jv *value;
	struct slot *s;
	const char *key;
	int rc;

	if ((rc = enter(ps, '}', &p)) != 0) {
		v->type = AK_JOBJECT;
		v->u.o.members = NULL;
		v->u.o.n = 0;
		return rc < 0 ? rc : 0;
	}
	for (;;) {
		if (p == end || *p != '"') {
			if (p == end)
				return unexpected(ps, p);
			return perr(ps, p,
			            d->nslots == base ? "expected a string key or '}'"
			                              : "expected a string key");
		}
		offset = (size_t)(p - ps->start);
		ps->p = p;
		rc = parse_string(ps, &key, &key_len, &prefix);
		if (rc != 0)
			return rc;
		p = skip_ws(ps->p, end);
		if (p == end || *p != ':')
			return p == end ? unexpected(ps, p) : perr(ps, p, "expected ':'");
		ps->p = skip_ws(p + 1, end);
		rc = parse_value(ps, &value);
		if (rc != 0)
			return rc;
		rc = push_slot(ps, key, key_len, prefix, value, offset);
		if (rc != 0)
			return rc;
		p = skip_ws(ps->p, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			break;
		return p == end ? unexpected(ps, p) : perr(ps, p, "expected ',' or '}'");
	}
	ps->p = p + 1;
	n = d->nslots - base;
	if (n > INSERTION_SORT_MAX && d->slots_cap - d->nslots < n && slots_grow(d, n) != 0)
		return alloc_failed(ps, ps->p);
	s = d->slots + base;
	sort_slots(s, n > INSERTION_SORT_MAX ? s + n : NULL, n);
	for (i = 1; i < n; i++) {
		if (s[i - 1].prefix == s[i].prefix && s[i - 1].key_len == s[i].key_len &&
		    memcmp(s[i - 1].key, s[i].key, s[i].key_len) == 0) {
			char shown[SHOWN_KEY_MAX + 16];

			shown_key(shown, sizeof(shown), s[i].key, s[i].key_len, '\'');
			return perr(ps, ps->start + s[i].offset, "duplicate key '%s'", shown);
		}
	}
	m = arena_alloc(d, n * sizeof(*m));
	if (m == NULL)
		return alloc_failed(ps, open);
	for (i = 0; i < n; i++) {
		m[i].key = s[i].key;
		m[i].key_len = s[i].key_len;
		m[i].value = s[i].value;
		m[i].key_offset = s[i].offset;
	}
	d->nslots = base;
	ps->depth--;
	v->type = AK_JOBJECT;
	v->u.o.members = m;
	v->u.o.n = n;
	return 0;
}

static int parse_array(struct parser *ps, struct ak_jv *v)
{
	struct ak_jdoc *d = ps->doc;
	const unsigned char *open = ps->p, *p, *end = ps->end;
	size_t base = d->nslots, n, i;
	struct ak_jv **items, *item;
	int rc;

	if ((rc = enter(ps, ']', &p)) != 0) {
		v->type = AK_JARRAY;
		v->u.a.items = NULL;
		v->u.a.n = 0;
		return rc < 0 ? rc : 0;
	}
	for (;;) {
		ps->p = p;
		rc = parse_value(ps, &item);
		if (rc != 0)
			return rc;
		rc = push_slot(ps, NULL, 0, 0, item, 0);
		if (rc != 0)
			return rc;
		p = skip_ws(ps->p, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == ']')
			break;
		return p == end ? unexpected(ps, p) : perr(ps, p, "expected ',' or ']'");
	}
	ps->p = p + 1;
	n = d->nslots - base;
	items = arena_alloc(d, n * sizeof(*items));
	if (items == NULL)
		return alloc_failed(ps, open);
	for (i = 0; i < n; i++)
		items[i] = d->slots[base + i].value;
	d->nslots = base;
	ps->depth--;
	v->type = AK_JARRAY;
	v->u.a.items = items;
	v->u.a.n = n;
	return 0;
}

/* Parse the value at ps->p (white space already skipped). */
static int parse_value(struct parser *ps, struct ak_jv **out)
{
	const unsigned char *p = ps->p;
	struct ak_jv *v;

	if (p == ps->end)
		return unexpected(ps, p);
	v = arena_alloc(ps->doc, sizeof(*v));
	if (v == NULL)
		return alloc_failed(ps, p);
	*out = v;
	v->offset = (size_t)(p - ps->start);
	switch (*p) {
	case '"':
		v->type = AK_JSTRING;
		return parse_string(ps, &v->u.s.ptr, &v->u.s.len, NULL);
	case '{':
		return parse_object(ps, v);
	case '[':
		return parse_array(ps, v);
	case 't':
		return parse_literal(ps, v, "true", 4, AK_JTRUE);
	case 'f':
		return parse_literal(ps, v, "false", 5, AK_JFALSE);
	case 'n':
		return parse_literal(ps, v, "null", 4, AK_JNULL);
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		return parse_number(ps, v);
	default:
		return unexpected(ps, p);
	}
}

int ak_json_parse(struct ak_jdoc *doc, const char *text, size_t len, const struct ak_jv **out)
{
	struct parser ps;
	struct ak_jv *root = NULL;
	int rc;

	assert(doc != NULL && out != NULL && (text != NULL || len == 0));
	*out = NULL;
	if (text == NULL)
		text = "";
	doc_use_chunk(doc, doc->head);
	doc->nslots = 0;
	doc->fail = 0;
	ps.start = (const unsigned char *)text;
	ps.end = ps.start + len;
	ps.p = skip_ws(ps.start, ps.end);
	ps.doc = doc;
	ps.depth = 0;
	rc = parse_value(&ps, &root);
	if (rc != 0)
		return rc;
	ps.p = skip_ws(ps.p, ps.end);
	if (ps.p != ps.end)
		return perr(&ps, ps.p, "trailing data after the value");
	*out = root;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Reading the DOM */

const struct ak_jv *ak_jv_get(const struct ak_jv *v, const char *key)
{
	size_t lo = 0, hi, mid, len;
	int c;

	if (v == NULL || v->type != AK_JOBJECT || key == NULL)
		return NULL;
	len = strlen(key);
	hi = v->u.o.n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = keycmp((const unsigned char *)key, len,
		           (const unsigned char *)v->u.o.members[mid].key,
		           v->u.o.members[mid].key_len);
		if (c == 0)
			return v->u.o.members[mid].value;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *ak_jv_type_name(const struct ak_jv *v)
{
	if (v == NULL)
		return "null"; /* what a missing value reads as in a message */
	switch (v->type) {
	case AK_JNULL:
		return "null";
	case AK_JFALSE:
	case AK_JTRUE:
		return "boolean";
	case AK_JINT:
		return "integer";
	case AK_JSTRING:
		return "string";
	case AK_JARRAY:
		return "array";
	case AK_JOBJECT:
		return "object";
	}
	return "null";
}

json_t *ak_jv_to_jansson(const struct ak_jv *v)
{
	json_t *j = NULL, *child;
	size_t i;

	switch (v->type) {
	case AK_JNULL:
		return json_null();
	case AK_JFALSE:
		return json_false();
	case AK_JTRUE:
		return json_true();
	case AK_JINT:
		return json_integer(v->u.i);
	case AK_JSTRING:
		/* Already checked UTF-8; "nocheck" also keeps embedded NULs. */
		return json_stringn_nocheck(v->u.s.ptr, v->u.s.len);
	case AK_JARRAY:
		j = json_array();
		if (j == NULL)
			return NULL;
		for (i = 0; i < v->u.a.n; i++) {
			child = ak_jv_to_jansson(v->u.a.items[i]);
			if (child == NULL || json_array_append_new(j, child) != 0)
				goto fail;
		}
		return j;
	case AK_JOBJECT:
		j = json_object();
		if (j == NULL)
			return NULL;
		for (i = 0; i < v->u.o.n; i++) {
			const struct ak_jmember *m = &v->u.o.members[i];

			child = ak_jv_to_jansson(m->value);
			/* setn_new steals child, also when it fails */
			if (child == NULL ||
			    json_object_setn_new_nocheck(j, m->key, m->key_len, child) != 0)
				goto fail;
		}
		return j;
	}
fail:
	json_decref(j);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Writer */

/* Writes straight into the reserved tail of an ak_buf; p..end is the room
 * the buffer has (within its limit), committed when it runs out and at the
 * end, so the hot path is a pointer compare per token. */
struct writer {
	struct ak_buf *b;
	char *base, *p, *end; /* base: b->data + b->len when reserved */
	size_t start_len;     /* b->len before writing, restored on error */
};

static size_t buf_limit(const struct ak_buf *b)
{
	return b->max ? b->max : AK_BUF_DEFAULT_MAX;
}

/* Commit what was written and make room for n more bytes. */
static int w_grow(struct writer *w, size_t n)
{
	struct ak_buf *b = w->b;
	size_t lim = buf_limit(b), want, room;
	char *d;

	if (w->p != NULL)
		ak_buf_commit(b, (size_t)(w->p - w->base));
	if (b->len > lim || lim - b->len < n)
		return ak_error_code(AK_ETOOBIG, "canonical JSON exceeds the limit of %zu bytes",
		                     lim);
	/* A small request still leaves all of the capacity the buffer has
	 * (it doubles when it grows) to write into. */
	want = n < 256 ? 256 : n;
	if (want > lim - b->len)
		want = lim - b->len;
	d = ak_buf_reserve(b, want);
	if (d == NULL)
		return AK_ENOMEM; /* the limit was checked, so this is memory */
	room = b->cap - b->len - 1;
	if (room > lim - b->len)
		room = lim - b->len;
	w->base = w->p = d;
	w->end = d + room;
	return 0;
}

static int w_begin(struct writer *w, struct ak_buf *b)
{
	w->b = b;
	w->base = w->p = w->end = NULL;
	w->start_len = b->len;
	return w_grow(w, 0);
}

static int w_end(struct writer *w, int rc)
{
	if (rc == 0)
		ak_buf_commit(w->b, (size_t)(w->p - w->base));
	else if (w->p != NULL) {
		/* Uncommitted bytes went over the terminating NUL: put it back. */
		ak_buf_truncate(w->b, w->start_len);
		w->b->data[w->b->len] = '\0';
	}
	return rc;
}

#define W_ENSURE(w, n)                                                                             \
	do {                                                                                       \
		if ((size_t)((w)->end - (w)->p) < (n)) {                                           \
			int rc_ = w_grow((w), (n));                                                \
			if (rc_ != 0)                                                              \
				return rc_;                                                        \
		}                                                                                  \
	} while (0)

static int w_bytes(struct writer *w, const char *s, size_t n)
{
	W_ENSURE(w, n);
	memcpy(w->p, s, n);
	w->p += n;
	return 0;
}

static inline int w_char(struct writer *w, char c)
{
	W_ENSURE(w, 1);
	*w->p++ = c;
	return 0;
}

/* Whether some byte of s[0..n) must be escaped. Short strings are read as
 * one word made of (possibly overlapping) pieces of them; only whether
 * there is a hit matters here, not where. */
static inline int has_escapable(const unsigned char *s, size_t n)
{
	uint64_t x;
	uint32_t a, b;
	size_t i;

	if (n >= 8) {
		for (i = 0; n - i > 8; i += 8)
			if (swar_escapable(load64(s + i)))
				return 1;
		return swar_escapable(load64(s + n - 8)) != 0;
	}
	if (n >= 4) {
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		x = (uint64_t)a << 32 | b;
	} else if (n > 0) {
		x = ONES * 'a' << 24 | (uint64_t)s[0] << 16 | (uint64_t)s[n / 2] << 8 | s[n - 1];
	} else {
		return 0;
	}
	return swar_escapable(x) != 0;
}

/* Bytes at the start of s[0..n) that are written as they are. */
static inline size_t safe_run(const unsigned char *s, size_t n)
{
	size_t i = 0;
	uint64_t m;

	if (n < 8) {
		while (i < n && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
			i++;
		return i;
	}
	for (; n - i >= 8; i += 8)
		if ((m = swar_escapable(load64(s + i))) != 0)
			return i + first_flagged(m);
	if (i == n)
		return n;
	/* The last few bytes, read as an overlapping word: the bytes before i
	 * are known clean, so the first hit in it is at or after i. */
	m = swar_escapable(load64(s + n - 8));
	return m ? n - 8 + first_flagged(m) : n;
}

/* s[0..n) as a string literal, RFC 8785 section 3.2.2.2: only '"', '\\'
 * and U+0000..U+001F are escaped, the short forms where JSON has them and
 * \u00xx in lower case otherwise. The caller vouches for the UTF-8. */
static int w_string_escaped(struct writer *w, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run;
	char *p;

	W_ENSURE(w, 1);
	*w->p++ = '"';
	for (;;) {
		run = safe_run(s, n);
		W_ENSURE(w, run + 7); /* the run, one escape (6) or the closing quote */
		copy_bytes(w->p, s, run);
		w->p += run;
		s += run;
		n -= run;
		if (n == 0)
			break;
		p = w->p;
		*p++ = '\\';
		switch (*s) {
		case '"':
		case '\\':
			*p++ = (char)*s;
			break;
		case '\b':
			*p++ = 'b';
			break;
		case '\t':
			*p++ = 't';
			break;
		case '\n':
			*p++ = 'n';
			break;
		case '\f':
			*p++ = 'f';
			break;
		case '\r':
			*p++ = 'r';
			break;
		default:
			memcpy(p, "u00", 3);
			p[3] = hex[*s >> 4];
			p[4] = hex[*s & 15];
			p += 5;
			break;
		}
		w->p = p;
		s++;
		n--;
	}
	*w->p++ = '"';
	return 0;
}

/* s[0..n) as a string literal; see w_string_escaped() for the rules. Most
 * strings need no escape and are copied in one piece. */
static inline int w_string(struct writer *w, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	if (has_escapable(s, n))
		return w_string_escaped(w, s, n);
	W_ENSURE(w, n + 2);
	w->p[0] = '"';
	copy_bytes(w->p + 1, s, n);
	w->p[n + 1] = '"';
	w->p += n + 2;
	return 0;
}

static int w_int(struct writer *w, int64_t i)
{
	char tmp[24], *e = tmp + sizeof(tmp), *p = e;
	uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (i < 0)
		*--p = '-';
	return w_bytes(w, p, (size_t)(e - p));
}

static int w_value(struct writer *w, const struct ak_jv *v, int depth)
{
	size_t i;
	int rc;

	assert(depth <= AK_JSON_MAX_DEPTH + 1);
	switch (v->type) {
	case AK_JNULL:
		return w_bytes(w, "null", 4);
	case AK_JFALSE:
		return w_bytes(w, "false", 5);
	case AK_JTRUE:
		return w_bytes(w, "true", 4);
	case AK_JINT:
		return w_int(w, v->u.i);
	case AK_JSTRING:
		return w_string(w, v->u.s.ptr, v->u.s.len);
	case AK_JARRAY:
		if ((rc = w_char(w, '[')) != 0)
			return rc;
		for (i = 0; i < v->u.a.n; i++) {
			if (i && (rc = w_char(w, ',')) != 0)
				return rc;
			if ((rc = w_value(w, v->u.a.items[i], depth + 1)) != 0)
				return rc;
		}
		return w_char(w, ']');
	case AK_JOBJECT:
		if ((rc = w_char(w, '{')) != 0)
			return rc;
		for (i = 0; i < v->u.o.n; i++) {
			const struct ak_jmember *m = &v->u.o.members[i];

			if (i && (rc = w_char(w, ',')) != 0)
				return rc;
			if ((rc = w_string(w, m->key, m->key_len)) != 0 ||
			    (rc = w_char(w, ':')) != 0)
				return rc;
			/* Most values are strings: no need to go round w_value(). */
			if (m->value->type == AK_JSTRING)
				rc = w_string(w, m->value->u.s.ptr, m->value->u.s.len);
			else
				rc = w_value(w, m->value, depth + 1);
			if (rc != 0)
				return rc;
		}
		return w_char(w, '}');
	}
	return 0;
}

int ak_jcs_write(struct ak_buf *out, const struct ak_jv *v)
{
	struct writer w;
	int rc;

	assert(v != NULL);
	rc = w_begin(&w, out);
	if (rc == 0)
		rc = w_value(&w, v, 0);
	return w_end(&w, rc);
}

int ak_jcs_write_string(struct ak_buf *out, const char *s, size_t len)
{
	struct writer w;
	size_t bad;
	int rc;

	bad = utf8_check((const unsigned char *)s, len);
	if (bad != len)
		return ak_error_code(AK_EINVALID, "invalid UTF-8 at byte %zu of the string",
		                     bad + 1);
	rc = w_begin(&w, out);
	if (rc == 0)
		rc = w_string(&w, s, len);
	return w_end(&w, rc);
}

int ak_jcs_canonicalize(struct ak_buf *out, const char *text, size_t len)
{
	/* A private document whose first chunk and slots live on the stack:
	 * a typical line is canonicalized without malloc. */
	union {
		struct chunk c;
		max_align_t align;
		unsigned char bytes[8192];
	} first;
	struct slot slots[FIRST_SLOTS];
	struct ak_jdoc doc;
	const struct ak_jv *v;
	int rc;

	doc_init(&doc, 0);
	doc_add_chunk(&doc, &first.c, sizeof(first) - CHUNK_HDR, 1);
	doc.slots = slots;
	doc.slots_cap = FIRST_SLOTS;
	doc.slots_borrowed = 1;
	doc.held += sizeof(slots);
	rc = ak_json_parse(&doc, text, len, &v);
	if (rc == 0)
		rc = ak_jcs_write(out, v);
	doc_release(&doc);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Writer for jansson values */

/* One step of the path to the value being written, for messages. */
struct path_step {
	const char *key; /* NULL for an array index */
	size_t key_len;
	size_t index;
};

struct jwriter {
	struct writer w;
	struct path_step path[AK_JSON_MAX_DEPTH + 1];
	int depth;
};

struct jmember {
	const char *key;
	size_t key_len;
	json_t *value;
};

static int jmember_cmp(const void *a, const void *b)
{
	const struct jmember *x = a, *y = b;

	return keycmp((const unsigned char *)x->key, x->key_len, (const unsigned char *)y->key,
	              y->key_len);
}

/* A name that reads as a path step without quotes: [A-Za-z_][A-Za-z0-9_]*. */
static int is_identifier(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > SHOWN_KEY_MAX || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(c == '_' || (c >= '0' && c <= '9') ||
		      ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
			return 0;
	}
	return 1;
}

/* AK_EINVALID with "PATH: reason", PATH like rows[3].count or
 * attrs["a b"], for the first `steps` steps of the current path. */
static int jerr(const struct jwriter *jw, int steps, const char *reason)
{
	char path[1024], shown[SHOWN_KEY_MAX + 16];
	size_t o = 0;
	int i, n;

	path[0] = '\0';
	for (i = 0; i < steps && o < sizeof(path) - 1; i++) {
		const struct path_step *st = &jw->path[i];

		if (st->key == NULL) {
			n = snprintf(path + o, sizeof(path) - o, "[%zu]", st->index);
		} else if (is_identifier(st->key, st->key_len)) {
			n = snprintf(path + o, sizeof(path) - o, "%s%.*s", o ? "." : "",
			             (int)st->key_len, st->key);
		} else {
			shown_key(shown, sizeof(shown), st->key, st->key_len, '"');
			n = snprintf(path + o, sizeof(path) - o, "[\"%s\"]", shown);
		}
		if (n < 0)
			break;
		o += (size_t)n < sizeof(path) - o ? (size_t)n : sizeof(path) - 1 - o;
	}
	return ak_error_code(AK_EINVALID, "%s: %s", o ? path : "top-level value", reason);
}

static int jw_value(struct jwriter *jw, const json_t *v);

static int jw_object(struct jwriter *jw, const json_t *v)
{
	struct jmember small[INSERTION_SORT_MAX], *m = small;
	size_t n = json_object_size(v), i = 0, j;
	void *it;
	int rc = 0;

	if (n > INSERTION_SORT_MAX) {
		m = malloc(n * sizeof(*m));
		if (m == NULL)
			return ak_error_oom();
	}
	/* jansson's iterator API takes a non-const object but does not change it. */
	for (it = json_object_iter((json_t *)v); it != NULL && i < n;
	     it = json_object_iter_next((json_t *)v, it), i++) {
		m[i].key = json_object_iter_key(it);
		m[i].key_len = json_object_iter_key_len(it);
		m[i].value = json_object_iter_value(it);
		jw->path[jw->depth].key = m[i].key;
		jw->path[jw->depth].key_len = m[i].key_len;
		if (utf8_check((const unsigned char *)m[i].key, m[i].key_len) != m[i].key_len) {
			rc = jerr(jw, jw->depth + 1, "member name is not valid UTF-8");
			goto done;
		}
	}
	n = i;
	if (n <= INSERTION_SORT_MAX) {
		for (i = 1; i < n; i++) {
			struct jmember x = m[i];

			for (j = i; j > 0 && jmember_cmp(&m[j - 1], &x) > 0; j--)
				m[j] = m[j - 1];
			m[j] = x;
		}
	} else {
		qsort(m, n, sizeof(*m), jmember_cmp);
	}
	if ((rc = w_char(&jw->w, '{')) != 0)
		goto done;
	for (i = 0; i < n; i++) {
		if (i && (rc = w_char(&jw->w, ',')) != 0)
			goto done;
		if ((rc = w_string(&jw->w, m[i].key, m[i].key_len)) != 0 ||
		    (rc = w_char(&jw->w, ':')) != 0)
			goto done;
		jw->path[jw->depth].key = m[i].key;
		jw->path[jw->depth].key_len = m[i].key_len;
		jw->depth++;
		rc = jw_value(jw, m[i].value);
		jw->depth--;
		if (rc != 0)
			goto done;
	}
	rc = w_char(&jw->w, '}');
done:
	if (m != small)
		free(m);
	return rc;
}

static int jw_value(struct jwriter *jw, const json_t *v)
{
	size_t i, n;
	json_int_t iv;
	int rc;

	switch (json_typeof(v)) {
	case JSON_NULL:
		return w_bytes(&jw->w, "null", 4);
	case JSON_FALSE:
		return w_bytes(&jw->w, "false", 5);
	case JSON_TRUE:
		return w_bytes(&jw->w, "true", 4);
	case JSON_REAL:
		return jerr(jw, jw->depth,
		            "floating-point number not allowed (write it as a string)");
	case JSON_INTEGER:
		iv = json_integer_value(v);
		if (iv > AK_JSON_SAFE_INT_MAX || iv < -AK_JSON_SAFE_INT_MAX)
			return jerr(jw, jw->depth, "integer out of range (beyond \u00b1(2^53-1))");
		return w_int(&jw->w, iv);
	case JSON_STRING:
		n = json_string_length(v);
		if (utf8_check((const unsigned char *)json_string_value(v), n) != n)
			return jerr(jw, jw->depth, "string is not valid UTF-8");
		return w_string(&jw->w, json_string_value(v), n);
	case JSON_ARRAY:
	case JSON_OBJECT:
		break;
	}
	if (jw->depth >= AK_JSON_MAX_DEPTH)
		return jerr(jw, jw->depth, "nesting deeper than 64");
	if (json_is_object(v))
		return jw_object(jw, v);
	if ((rc = w_char(&jw->w, '[')) != 0)
		return rc;
	n = json_array_size(v);
	for (i = 0; i < n; i++) {
		if (i && (rc = w_char(&jw->w, ',')) != 0)
			return rc;
		jw->path[jw->depth].key = NULL;
		jw->path[jw->depth].index = i;
		jw->depth++;
		rc = jw_value(jw, json_array_get(v, i));
		jw->depth--;
		if (rc != 0)
			return rc;
	}
	return w_char(&jw->w, ']');
}

int ak_jcs_write_jansson(struct ak_buf *out, const json_t *v)
{
	struct jwriter jw;
	int rc;

	if (v == NULL)
		return ak_error_code(AK_EINVALID, "no JSON value");
	jw.depth = 0;
	rc = w_begin(&jw.w, out);
	if (rc == 0)
		rc = jw_value(&jw, v);
	return w_end(&jw.w, rc);
}

/* ---- ak_jcs_fields ---- */

#if defined(__SSE2__)
#include <emmintrin.h>
#include <stdint.h>

/* The first '"' or '\\' in [p, end), or end. Sixteen bytes at a time with
 * aligned loads, which never cross a page; the bytes of a block outside
 * [p, end) are masked off before they are looked at. Not instrumented by
 * AddressSanitizer, which would count those block bytes as accesses. */
__attribute__((no_sanitize_address)) static const char *find_special(const char *p,
								     const char *end)
{
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
	const char *blk = (const char *)((uintptr_t)p & ~(uintptr_t)15);
	unsigned mask = 0xffffu << (unsigned)(p - blk);

	if (p >= end)
		return end;
	for (;;) {
		__m128i v = _mm_load_si128((const __m128i *)(const void *)blk);

		mask &= (unsigned)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
		if (end - blk < 16)
			mask &= (1u << (unsigned)(end - blk)) - 1;
		if (mask != 0)
			return blk + __builtin_ctz(mask);
		blk += 16;
		if (blk >= end)
			return end;
		mask = 0xffffu;
	}
}
#else
static const char *find_special(const char *p, const char *end)
{
	while (p < end && *p != '"' && *p != '\\')
		p++;
	return p;
}
#endif

/* The end of the JSON string whose opening quote is at p (just past the
 * closing quote), or NULL; *esc says whether it holds escapes. */
static const char *span_string(const char *p, const char *end, int *esc)
{
	*esc = 0;
	for (p++;;) {
		p = find_special(p, end);
		if (p == end)
			return NULL;
		if (*p == '"')
			return p + 1;
		*esc = 1;
		if (end - p < 2)
			return NULL;
		p += 2;
	}
}

/* The end of the value starting at p, or NULL; *esc as span_string's
 * for a string value. */
static const char *span_value(const char *p, const char *end, int *esc)
{
	int depth = 0;

	*esc = 0;
	if (p >= end)
		return NULL;
	if (*p == '"')
		return span_string(p, end, esc);
	if (*p != '{' && *p != '[') {
		while (p < end && *p != ',' && *p != '}' && *p != ']')
			p++;
		return p;
	}
	for (; p < end; p++) {
		if (*p == '"') {
			p = span_string(p, end, esc);
			if (p == NULL)
				return NULL;
			p--;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (--depth == 0)
				return p + 1;
		}
	}
	return NULL;
}

int ak_jcs_fields(const char *text, size_t len, const char *const *keys, size_t n,
		  struct ak_jspan *out)
{
	const char *p = text, *end = text + len;
	size_t i, k = 0;
	int c;

	for (i = 0; i < n; i++)
		out[i].type = -1;
	if (len < 2 || *p != '{' || end[-1] != '}')
		return ak_error_code(AK_EINVALID, "not a canonical JSON object");
	c = 0;
	p++;
	if (*p == '}')
		return 0;
	while (p < end && k < n) {
		const char *kb, *ke, *vb, *ve;
		int esc, vesc;
		size_t kl;

		if (*p != '"')
			return ak_error_code(AK_EINVALID, "not a canonical JSON object");
		kb = p + 1;
		ke = span_string(p, end, &esc);
		if (ke == NULL || ke >= end || *ke != ':')
			return ak_error_code(AK_EINVALID, "not a canonical JSON object");
		kl = (size_t)(ke - 1 - kb);
		vb = ke + 1;
		ve = span_value(vb, end, &vesc);
		if (ve == NULL || ve >= end)
			return ak_error_code(AK_EINVALID, "not a canonical JSON object");
		/* Members come in canonical order, and so do the keys asked for:
		 * one merge walk. */
		/* Plain ASCII names compare as bytes, as RFC 8785 orders them. */
		while (k < n) {
			size_t ql = strlen(keys[k]), m = ql < kl ? ql : kl;

			c = memcmp(keys[k], kb, m);
			if (c == 0)
				c = ql < kl ? -1 : ql > kl;
			if (c >= 0)
				break;
			k++;
		}
		if (k < n && c == 0) {
			struct ak_jspan *o = &out[k];

			if (*vb == '"') {
				o->ptr = vb + 1;
				o->len = (size_t)(ve - vb - 2);
				o->type = AK_JSTRING;
				o->escaped = vesc;
			} else {
				o->ptr = vb;
				o->len = (size_t)(ve - vb);
				o->escaped = 0;
				o->type = *vb == '{'   ? AK_JOBJECT
					  : *vb == '[' ? AK_JARRAY
					  : *vb == 't' ? AK_JTRUE
					  : *vb == 'f' ? AK_JFALSE
					  : *vb == 'n' ? AK_JNULL
						       : AK_JINT;
			}
			k++;
		}
		p = ve;
		if (*p == ',')
			p++;
		else if (*p == '}')
			break;
		else
			return ak_error_code(AK_EINVALID, "not a canonical JSON object");
	}
	return 0;
}

const char *ak_json_type_name(const json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a floating-point number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}
