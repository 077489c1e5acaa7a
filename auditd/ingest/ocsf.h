/*
 * auditd/ingest/ocsf.h - admin records (logins, account changes) from OCSF
 * 1.x events, as identity providers and SIEM pipelines export them.
 *
 * Input: JSON Lines, one OCSF event per line, or one JSON array of events;
 * the first byte that is not white space decides ('[' for an array).
 * Blank lines are ignored. A UTF-8 byte-order mark at the start is dropped.
 *
 * Each event becomes one record of kind "admin" with the native body
 * {actor, action, target?, role?, ip?, result?, details}:
 *
 *   class_uid 3002 Authentication (user required)
 *     activity 1 Logon:  status_id 1 -> login_success, 2 -> login_failure
 *     activity 2 Logoff: logout
 *     actor = user.name (else user.uid)
 *   class_uid 3001 Account Change (user required: the changed account)
 *     1 Create -> account_create       7 Attach Policy -> role_grant
 *     2 Enable -> account_enable       8 Detach Policy -> role_revoke
 *     3 Password Change -> password_change         (role = policy.name)
 *     4 Password Reset  -> password_change, details.reset true
 *     5 Disable -> account_disable     9 Lock -> account_lock
 *     6 Delete  -> account_delete     10 MFA Factor Enable  -> mfa_enable
 *                                     11 MFA Factor Disable -> mfa_disable
 *     target = user.name (else user.uid); actor = actor.user.name (else
 *     actor.user.uid, else the target)
 *   anything else (other activities, other classes such as 3005 or 3006):
 *     action "other", never dropped; actor = actor.user (name, else uid)
 *     with target = user, or else actor = user
 *
 * For every class: ip = src_endpoint.ip; result "success" / "failure" from
 * status_id 1 / 2; details.mfa = is_mfa and details.status_detail when
 * present; details.ocsf = {class_uid, activity_id, type_uid, category_uid,
 * status_id} (those present), so an "other" record still says what it was.
 *
 * Record: time_us from OCSF "time" (integer milliseconds since the epoch);
 * event_id = metadata.uid; source = opt->source, else "ocsf:" +
 * metadata.product.name, else "ocsf"; where "NAME:LINE" (the line an
 * array element starts on).
 *
 * Rejected, with where "NAME:LINE" and a reason naming the field (and
 * "event N: " first inside an array): a line that is not JSON or not an
 * object; a missing or non-integer class_uid, activity_id or time; a time
 * outside years 0000-9999; a missing user for 3002/3001, or one with
 * neither name nor uid; a field of the wrong type; a line longer than
 * opt->max_line (0: 1 MiB). Reading goes on with the next line. Inside an
 * array a JSON syntax error ends the input (nothing after it can be
 * delimited), with a reject that says so.
 *
 * Returns 0 when the input was read to its end (or to an array syntax
 * error, rejected), or a negative code with the input named: a read error,
 * an array input larger than opt->max_bytes (0: 64 MiB; JSON Lines input
 * has no total limit), out of memory, or a sink that asked to stop.
 */
#ifndef AUDITD_INGEST_OCSF_H
#define AUDITD_INGEST_OCSF_H

#include "auditd/ingest/ingest.h"

#include <stdio.h>

int ingest_admin_ocsf(FILE *in, const struct ingest_options *opt, const struct ingest_sink *sink);

#endif
