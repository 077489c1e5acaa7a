/*
 * auditd/alerts/settings.c - the rules and settings the detectors are made
 * from, taken from the policies in force and the configuration in one
 * place, so that `akashi alerts replay` judges history by what the daemon
 * judges the live stream by (see alerts.h).
 */
#include "auditd/alerts/alerts_int.h"

#include "lib/error.h"
#include "policies/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A NULL-terminated copy of the strings of a policy's array parameter;
 * NULL when it has none. *oom is set when memory ran out. */
static char **strings_of(const struct policy_set *set, const char *control, const char *param,
                         int *oom)
{
	const struct policy *p = policy_find_control(set, control);
	json_t *a;
	char **out = NULL;

	if (p == NULL || (a = policy_param_array(p, param)) == NULL || json_array_size(a) == 0)
		return NULL;
	if (alerts_strv_of(a, &out) != 0)
		*oom = 1;
	return out;
}

static json_t *strings_json(char *const *s)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && s && s[i]; i++)
		json_array_append_new(a, json_string(s[i]));
	return a;
}

int alerts_settings_of(struct alerts_settings *out, const json_t *rules, const char *zone,
                       const char *hours, const struct policy_set *set)
{
	const struct policy *mass = policy_find_control(set, "send.mass_approval");
	int oom = 0;

	memset(out, 0, sizeof(*out));
	if (rules && (out->rules = json_deep_copy(rules)) == NULL)
		oom = 1;
	snprintf(out->zone, sizeof(out->zone), "%s", zone ? zone : "");
	snprintf(out->hours, sizeof(out->hours), "%s", hours ? hours : "");
	if (mass)
		out->mass_threshold = policy_param_int(mass, "threshold");
	/* Who is privileged and which domains are ours: as the policies say. */
	out->roles = strings_of(set, "access.review", "privileged_roles", &oom);
	out->domains = strings_of(set, "dmarc.alignment", "domains", &oom);
	if (oom) {
		alerts_settings_free(out);
		return ak_error_oom();
	}
	return 0;
}

void alerts_settings_config(const struct alerts_settings *s, struct alerts_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	/* Empty: the rules' own defaults (Asia/Tokyo, 08:30-18:00 Mon-Fri). */
	cfg->timezone = s->zone[0] ? s->zone : NULL;
	cfg->business_hours = s->hours[0] ? s->hours : NULL;
	cfg->mass_threshold = s->mass_threshold;
	cfg->privileged_roles = (const char *const *)s->roles;
	cfg->own_domains = (const char *const *)s->domains;
}

json_t *alerts_settings_json(const struct alerts_settings *s)
{
	return json_pack("{s:O?,s:s,s:s,s:I,s:o,s:o}", "rules", s->rules, "zone", s->zone, "hours",
	                 s->hours, "mass", (json_int_t)s->mass_threshold, "roles",
	                 strings_json(s->roles), "domains", strings_json(s->domains));
}

void alerts_settings_free(struct alerts_settings *s)
{
	json_decref(s->rules);
	alerts_strv_free(s->roles);
	alerts_strv_free(s->domains);
	memset(s, 0, sizeof(*s));
}
