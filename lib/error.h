/*
 * lib/error.h - return codes and the thread-local error message.
 *
 * Every fallible function in akashi returns an int: 0 on success, a negative
 * code on failure. The code says what kind of failure it is (so callers can
 * branch on "not found" or "busy"); the human sentence that goes with it is
 * kept in a thread-local buffer set with ak_error_set() and read with
 * ak_error_last(). Callers that add context (a file name, a line number) use
 * ak_error_prefix() so the message reads outermost-first:
 *
 *     ingest: consent.csv:17: column 'subject': not an e-mail address
 *
 * The pattern follows libgit2's git_error_set()/git_error_last().
 */
#ifndef AK_ERROR_H
#define AK_ERROR_H

enum {
	AK_OK = 0,
	AK_ERROR = -1,     /* anything else; see the message */
	AK_ENOTFOUND = -2, /* the thing asked for does not exist */
	AK_EINVALID = -3,  /* bad input: the message names where and why */
	AK_ETAMPERED = -4, /* stored evidence does not match its hashes or signatures */
	AK_EBUSY = -5,     /* a lock could not be taken in time */
	AK_EEXISTS = -6,   /* refusing to overwrite */
	AK_ETOOBIG = -7,   /* a configured size limit was reached */
	AK_ENOMEM = -8,    /* out of memory */
};

/* Set the message for the current thread (printf-style); returns AK_ERROR
 * so that "return ak_error_set(...)" reads naturally. */
int ak_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like ak_error_set() but returns the given code. */
int ak_error_code(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepend "<context>: " to the current message. */
void ak_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current thread's message; never NULL (empty when none was set).
 * Borrowed: valid until the next ak_error_* call on this thread. */
const char *ak_error_last(void);

/* Forget the current message. */
void ak_error_clear(void);

/* Set the message to "out of memory" and return AK_ENOMEM. */
int ak_error_oom(void);

#endif
