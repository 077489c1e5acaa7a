/*
 * auditd/delivery/options.c - the engine's options from the configuration
 * keys (docs/OPERATIONS.md "Delivery"), shared by `akashi send` and
 * `akashi serve` so that both deliver the same way: same relay, TLS, DKIM
 * keys, unsubscribe secret, queue and limits.
 */
#include "auditd/delivery/delivery.h"

#include "auditd/config.h"
#include "auditd/unsubscribe.h"
#include "lib/buf.h"
#include "lib/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int delivery_slurp(const char *path, size_t max, char **out, size_t *len)
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

/* The secret the daemon checks unsubscribe tokens with: the file
 * unsubscribe.secret names, else <store>/unsubscribe.key (made now when
 * the store predates it, as the daemon does). */
static int unsub_secret(const struct config *cfg, const char *store_dir, unsigned char **out,
                        size_t *len)
{
	const char *given = config_get(cfg, "unsubscribe.secret");
	char path[4200];
	int rc;

	if (*given)
		snprintf(path, sizeof(path), "%s", given);
	else
		snprintf(path, sizeof(path), "%s/%s", store_dir, UNSUB_SECRET_FILE);
	rc = unsub_secret_load(path, out, len);
	if (rc == AK_ENOTFOUND && *given == '\0' && (rc = unsub_secret_create(path)) == 0)
		rc = unsub_secret_load(path, out, len);
	return rc;
}

void delivery_owned_free(struct delivery_owned *own)
{
	if (own->password)
		explicit_bzero(own->password, own->password_len);
	free(own->password);
	if (own->secret)
		unsub_secret_free(own->secret, own->secret_len);
	memset(own, 0, sizeof(*own));
}

int delivery_options_from_config(const struct config *cfg, const char *store_dir,
                                 struct delivery_options *o, struct delivery_owned *own)
{
	const char *tls = config_get(cfg, "smtp.tls"), *engine = config_get(cfg, "dkim.engine");
	int rc;

	memset(own, 0, sizeof(*own));
	delivery_options_default(o);
	snprintf(own->queue, sizeof(own->queue), "%s/%s", store_dir, DELIVERY_QUEUE_FILE);
	o->queue_path = own->queue;
	o->relay = config_get(cfg, "relay");
	o->relay_user = config_get(cfg, "relay.user");
	if (*config_get(cfg, "relay.password_file")) {
		if ((rc = delivery_slurp(config_get(cfg, "relay.password_file"), 4096,
		                         &own->password, &own->password_len)) != 0)
			goto fail;
		while (own->password_len && (own->password[own->password_len - 1] == '\n' ||
		                             own->password[own->password_len - 1] == '\r'))
			own->password[--own->password_len] = '\0';
		o->relay_password = own->password;
	}
	if (strcmp(tls, "required") == 0)
		o->tls = DELIVERY_TLS_REQUIRED;
	else if (strcmp(tls, "opportunistic") == 0)
		o->tls = DELIVERY_TLS_OPPORTUNISTIC;
	else if (strcmp(tls, "off") == 0)
		o->tls = DELIVERY_TLS_OFF;
	else {
		rc = ak_error_code(AK_EINVALID,
		                   "smtp.tls: required, opportunistic or off, not '%s'", tls);
		goto fail;
	}
	o->ca_file = config_get(cfg, "tls.ca_file");
	o->helo = config_get(cfg, "smtp.helo");
	o->mx_port = (int)config_int(cfg, "smtp.port");
	o->timeout_s = (int)config_seconds(cfg, "smtp.timeout");
	o->dns_server = config_get(cfg, "smtp.dns_server");
	o->dkim_domain = config_get(cfg, "dkim.domain");
	o->dkim_selector = config_get(cfg, "dkim.selector");
	o->dkim_key = config_get(cfg, "dkim.key");
	o->dkim_ed25519_selector = config_get(cfg, "dkim.ed25519_selector");
	o->dkim_ed25519_key = config_get(cfg, "dkim.ed25519_key");
	if (strcmp(engine, "libopendkim") == 0)
		o->dkim_libopendkim = 1;
	else if (strcmp(engine, "builtin") != 0) {
		rc = ak_error_code(AK_EINVALID, "dkim.engine: builtin or libopendkim, not '%s'",
		                   engine);
		goto fail;
	}
	o->unsub_base_url = config_get(cfg, "unsubscribe.base_url");
	if (*o->unsub_base_url) {
		if (strncmp(o->unsub_base_url, "https://", 8) != 0) {
			rc = ak_error_code(AK_EINVALID, "unsubscribe.base_url must be https:// "
			                                "(RFC 8058)");
			goto fail;
		}
		if ((rc = unsub_secret(cfg, store_dir, &own->secret, &own->secret_len)) != 0)
			goto fail;
		o->unsub_secret = own->secret;
		o->unsub_secret_len = own->secret_len;
	}
	o->max_age_s = config_seconds(cfg, "queue.max_age");
	o->retry_min_s = config_seconds(cfg, "queue.retry_min");
	o->retry_max_s = config_seconds(cfg, "queue.retry_max");
	o->connections = (int)config_int(cfg, "delivery.connections");
	o->rate = (int)config_int(cfg, "delivery.rate");
	o->max_inflight = (int)config_int(cfg, "delivery.max_inflight");
	o->signers = (int)config_int(cfg, "delivery.signers");
	o->batch = (int)config_int(cfg, "delivery.batch");
	return 0;
fail:
	delivery_owned_free(own);
	return rc;
}
