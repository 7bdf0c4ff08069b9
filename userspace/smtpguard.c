// SPDX-License-Identifier: GPL-2.0
/*
 * smtpguard - configure and watch the nf_conntrack_smtp helper over the
 * "smtpguard" generic netlink family (kmod/uapi/smtpguard.h).
 *
 *	smtpguard [-j] [-n NETNS] load FILE|PRESET
 *	smtpguard check FILE|PRESET
 *	smtpguard [-j] show
 *	smtpguard [-j] stats [reset]
 *	smtpguard [-j] monitor
 *	smtpguard monitor --syslog
 *	smtpguard preset list|show NAME
 *
 * Exit codes are ABI (scripts test them) and listed in smtpguard(8).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "../kmod/uapi/smtpguard.h"
#include "../kmod/engine/policy.h"
#include "policy_file.h"
#include "policy_preset.h"
#include "json_str.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* Exit codes; keep in sync with doc/smtpguard.8 "EXIT STATUS". */
enum {
	EX_OK_		= 0,
	EX_FAIL		= 1,	/* other failure: netlink I/O, out of memory */
	EX_USAGE_	= 2,	/* bad command line */
	EX_NOMODULE	= 3,	/* family "smtpguard" not found: module not loaded */
	EX_PERM		= 4,	/* EPERM/EACCES from the kernel */
	EX_NOFILE	= 5,	/* policy file or preset not found / unreadable */
	EX_SYNTAX	= 6,	/* policy file syntax or semantic error */
	EX_UNKNOWN_WORD	= 7,	/* unknown verb or EHLO keyword in the file */
	EX_RANGE	= 8,	/* limit out of range in the file */
	EX_KERNEL	= 9,	/* kernel rejected the request (extack message) */
};


static const char *prog = "smtpguard";
static bool json;
static bool use_syslog;
static volatile sig_atomic_t stop;
static uint16_t mon_family;

static void __attribute__((format(printf, 1, 2))) errmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---------------------------------------------------------------- names */

static const char *const kind_names[] = {
	[SMTPGUARD_EVENT_VIOLATION]	 = "violation",
	[SMTPGUARD_EVENT_BANNER_MASKED]	 = "banner-masked",
	[SMTPGUARD_EVENT_KEYWORD_MASKED] = "keyword-masked",
	[SMTPGUARD_EVENT_TLS_STARTED]	 = "tls-started",
	[SMTPGUARD_EVENT_PICKUP]	 = "pickup",
};

static const char *kind_name(unsigned int k)
{
	if (k < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[k])
		return kind_names[k];
	return "unknown";
}

static const char *class_name(unsigned int c)
{
	const char *n = c < SG_C_MAX ? sg_class_name(c) : NULL;

	return n ? n : "unknown";
}

static const char *action_name(unsigned int a)
{
	const char *n = a < SG_A_MAX ? sg_action_name(a) : NULL;

	return n ? n : "unknown";
}

static const char *limit_name(unsigned int l)
{
	const char *n = l < SG_L_MAX ? sg_limit_name(l) : NULL;

	return n ? n : "unknown";
}

static const char *vclass_name(unsigned int v)
{
	const char *n = v < SG_VC_MAX ? sg_verb_class_name(v) : NULL;

	return n ? n : "unknown";
}

/* -------------------------------------------------------------- netlink */

struct nl {
	struct mnl_socket *sk;
	unsigned int portid;
	unsigned int seq;
	uint16_t family;
	uint32_t mcgrp_events;
	char *buf;
	size_t bufsz;
};

/* extack of the last failed request */
static char nl_errmsg[512];

static void nl_close(struct nl *nl)
{
	if (nl->sk)
		mnl_socket_close(nl->sk);
	free(nl->buf);
	memset(nl, 0, sizeof(*nl));
}

static int nl_open_raw(struct nl *nl)
{
	int one = 1;

	memset(nl, 0, sizeof(*nl));
	nl->bufsz = 65536;
	nl->buf = malloc(nl->bufsz);
	if (!nl->buf)
		return -ENOMEM;
	nl->sk = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sk)
		return -errno;
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (unsigned int)time(NULL);
	/* extended ACK: error strings; capped: no echo of our request */
	setsockopt(mnl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(mnl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));
	return 0;
}

static struct nlmsghdr *nl_req(struct nl *nl, uint16_t type, uint8_t cmd,
			       uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = type == GENL_ID_CTRL ? 1 : SMTPGUARD_GENL_VERSION;
	return nlh;
}

/* Parse the extended ACK of an NLMSG_ERROR (as ethtool's nlsock.c). */
static int nl_parse_error(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	unsigned int off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return -EBADMSG;
	nl_errmsg[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return e->error;
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += mnl_nlmsg_get_payload_len(&e->msg);
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			snprintf(nl_errmsg, sizeof(nl_errmsg), "%s",
				 mnl_attr_get_str(a));
	}
	return e->error;
}

/*
 * Send @nlh, call @cb for every reply data message, stop at the ACK.
 * Returns 0 or a negative errno (with nl_errmsg set from extack).
 */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh,
		   int (*cb)(const struct nlmsghdr *, void *), void *data)
{
	unsigned int seq = nlh->nlmsg_seq;

	nl_errmsg[0] = '\0';
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sk, nl->buf, nl->bufsz);
		const struct nlmsghdr *m;
		int len;

		if (n < 0)
			return -errno;
		len = (int)n;
		for (m = (const struct nlmsghdr *)nl->buf; mnl_nlmsg_ok(m, len);
		     m = mnl_nlmsg_next(m, &len)) {
			int ret;

			if (m->nlmsg_seq != seq || m->nlmsg_pid != nl->portid)
				continue;
			if (m->nlmsg_type == NLMSG_ERROR)
				return nl_parse_error(m);
			if (m->nlmsg_type == NLMSG_DONE)
				return 0;
			if (m->nlmsg_type < NLMSG_MIN_TYPE)
				continue;
			if (cb) {
				ret = cb(m, data);
				if (ret < 0)
					return ret;
			}
		}
	}
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl *nl = data;
	const struct nlattr *a, *grp, *ga;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case CTRL_ATTR_FAMILY_ID:
			if (mnl_attr_validate(a, MNL_TYPE_U16) == 0)
				nl->family = mnl_attr_get_u16(a);
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			mnl_attr_for_each_nested(grp, a) {
				const char *name = NULL;
				uint32_t id = 0;

				mnl_attr_for_each_nested(ga, grp) {
					if (mnl_attr_get_type(ga) == CTRL_ATTR_MCAST_GRP_NAME &&
					    mnl_attr_validate(ga, MNL_TYPE_NUL_STRING) == 0)
						name = mnl_attr_get_str(ga);
					else if (mnl_attr_get_type(ga) == CTRL_ATTR_MCAST_GRP_ID &&
						 mnl_attr_validate(ga, MNL_TYPE_U32) == 0)
						id = mnl_attr_get_u32(ga);
				}
				if (name && !strcmp(name, SMTPGUARD_MCGRP_EVENTS))
					nl->mcgrp_events = id;
			}
			break;
		}
	}
	return 0;
}

/* Open a socket and resolve the family; exits with EX_NOMODULE if absent. */
static int nl_open(struct nl *nl)
{
	struct nlmsghdr *nlh;
	int ret;

	ret = nl_open_raw(nl);
	if (ret) {
		errmsg("cannot open generic netlink socket: %s", strerror(-ret));
		return EX_FAIL;
	}
	nlh = nl_req(nl, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, SMTPGUARD_GENL_NAME);
	ret = nl_talk(nl, nlh, family_cb, nl);
	if (ret == -ENOENT || (!ret && !nl->family)) {
		errmsg("generic netlink family \"%s\" not found: is the module loaded? "
		       "Try: modprobe nf_conntrack_smtp", SMTPGUARD_GENL_NAME);
		return EX_NOMODULE;
	}
	if (ret) {
		errmsg("cannot resolve family \"%s\": %s", SMTPGUARD_GENL_NAME,
		       strerror(-ret));
		return EX_FAIL;
	}
	return 0;
}

/* Map a failed request to a message and an exit code. */
static int nl_fail(const char *what, int err)
{
	if (err == -EPERM || err == -EACCES) {
		errmsg("%s: permission denied (needs CAP_NET_ADMIN in the network "
		       "namespace's user namespace)", what);
		return EX_PERM;
	}
	if (nl_errmsg[0])
		errmsg("%s: kernel rejected the request: %s (%s)", what, nl_errmsg,
		       strerror(-err));
	else
		errmsg("%s: %s", what, strerror(-err));
	return err == -EINVAL || err == -ERANGE || err == -E2BIG ? EX_KERNEL : EX_FAIL;
}

/* --------------------------------------------------------------- policy */

static void put_words(struct nlmsghdr *nlh, int type,
		      const char (*w)[SG_NAME_MAX + 1], unsigned int n)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type);
	unsigned int i;

	for (i = 0; i < n; i++)
		mnl_attr_put_strz(nlh, SMTPGUARD_A_WORD, w[i]);
	mnl_attr_nest_end(nlh, nest);
}

static void policy_put(struct nlmsghdr *nlh, const struct sg_policy *p)
{
	struct nlattr *nest;
	unsigned int i;

	put_words(nlh, SMTPGUARD_A_POLICY_VERBS, p->verbs, p->n_verbs);
	put_words(nlh, SMTPGUARD_A_POLICY_KEYWORDS, p->keywords, p->n_keywords);
	mnl_attr_put_u8(nlh, SMTPGUARD_A_POLICY_BANNER, p->banner);
	mnl_attr_put_u8(nlh, SMTPGUARD_A_POLICY_STARTTLS, p->starttls);
	mnl_attr_put_u8(nlh, SMTPGUARD_A_POLICY_BDAT, p->bdat);
	mnl_attr_put_u8(nlh, SMTPGUARD_A_POLICY_PICKUP, p->pickup);
	mnl_attr_put_u8(nlh, SMTPGUARD_A_POLICY_MASK_CHAR, p->mask_char);
	mnl_attr_put_u8(nlh, SMTPGUARD_A_POLICY_BANNER_CHAR, p->banner_char);
	nest = mnl_attr_nest_start(nlh, SMTPGUARD_A_POLICY_LIMITS);
	for (i = 0; i < SG_L_MAX; i++)
		mnl_attr_put_u32(nlh, SMTPGUARD_A_LIMIT_COMMAND_LINE + i, p->limit[i]);
	mnl_attr_nest_end(nlh, nest);
	nest = mnl_attr_nest_start(nlh, SMTPGUARD_A_POLICY_ACTIONS);
	for (i = 0; i < SG_C_MAX; i++)
		mnl_attr_put_u8(nlh, SMTPGUARD_A_CLASS_FIRST + i, p->action[i]);
	mnl_attr_nest_end(nlh, nest);
}

static void get_words(const struct nlattr *nest, char (*w)[SG_NAME_MAX + 1],
		      u8 *n, unsigned int max)
{
	const struct nlattr *a;

	*n = 0;
	mnl_attr_for_each_nested(a, nest) {
		if (mnl_attr_get_type(a) != SMTPGUARD_A_WORD ||
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) || *n >= max)
			continue;
		snprintf(w[*n], SG_NAME_MAX + 1, "%s", mnl_attr_get_str(a));
		(*n)++;
	}
}

static int policy_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sg_policy *p = data;
	const struct nlattr *a, *n;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		unsigned int t = mnl_attr_get_type(a);
		bool u8ok = mnl_attr_validate(a, MNL_TYPE_U8) == 0;

		switch (t) {
		case SMTPGUARD_A_POLICY_VERBS:
			get_words(a, p->verbs, &p->n_verbs, SG_VERBS_MAX);
			break;
		case SMTPGUARD_A_POLICY_KEYWORDS:
			get_words(a, p->keywords, &p->n_keywords, SG_KEYWORDS_MAX);
			break;
		case SMTPGUARD_A_POLICY_BANNER:
			if (u8ok)
				p->banner = mnl_attr_get_u8(a);
			break;
		case SMTPGUARD_A_POLICY_STARTTLS:
			if (u8ok)
				p->starttls = mnl_attr_get_u8(a);
			break;
		case SMTPGUARD_A_POLICY_BDAT:
			if (u8ok)
				p->bdat = mnl_attr_get_u8(a);
			break;
		case SMTPGUARD_A_POLICY_PICKUP:
			if (u8ok)
				p->pickup = mnl_attr_get_u8(a);
			break;
		case SMTPGUARD_A_POLICY_MASK_CHAR:
			if (u8ok)
				p->mask_char = mnl_attr_get_u8(a);
			break;
		case SMTPGUARD_A_POLICY_BANNER_CHAR:
			if (u8ok)
				p->banner_char = mnl_attr_get_u8(a);
			break;
		case SMTPGUARD_A_POLICY_LIMITS:
			mnl_attr_for_each_nested(n, a) {
				unsigned int i = mnl_attr_get_type(n) -
						 SMTPGUARD_A_LIMIT_COMMAND_LINE;

				if (i < SG_L_MAX && !mnl_attr_validate(n, MNL_TYPE_U32))
					p->limit[i] = mnl_attr_get_u32(n);
			}
			break;
		case SMTPGUARD_A_POLICY_ACTIONS:
			mnl_attr_for_each_nested(n, a) {
				unsigned int i = mnl_attr_get_type(n) -
						 SMTPGUARD_A_CLASS_FIRST;

				if (i < SG_C_MAX && !mnl_attr_validate(n, MNL_TYPE_U8))
					p->action[i] = mnl_attr_get_u8(n);
			}
			break;
		}
	}
	return 0;
}

static int policy_get(struct nl *nl, struct sg_policy *p)
{
	struct nlmsghdr *nlh;

	memset(p, 0, sizeof(*p));
	nlh = nl_req(nl, nl->family, SMTPGUARD_CMD_POLICY_GET, 0);
	return nl_talk(nl, nlh, policy_cb, p);
}

static void policy_json(FILE *f, const struct sg_policy *p)
{
	unsigned int i;

	fputs("{\"verbs\":[", f);
	for (i = 0; i < p->n_verbs; i++) {
		if (i)
			fputc(',', f);
		json_str(f, p->verbs[i]);
	}
	fputs("],\"keywords\":[", f);
	for (i = 0; i < p->n_keywords; i++) {
		if (i)
			fputc(',', f);
		json_str(f, p->keywords[i]);
	}
	fprintf(f, "],\"banner\":\"%s\",\"starttls\":%s,\"bdat\":%s,\"pickup\":\"%s\","
		"\"mask_char\":\"%c\",\"banner_char\":\"%c\",\"limits\":{",
		p->banner == SG_BANNER_MASK ? "mask" : "pass",
		p->starttls ? "true" : "false", p->bdat ? "true" : "false",
		p->pickup == SG_PICKUP_RESET ? "reset" : "open",
		p->mask_char == '"' || p->mask_char == '\\' ? '?' : p->mask_char,
		p->banner_char == '"' || p->banner_char == '\\' ? '?' : p->banner_char);
	for (i = 0; i < SG_L_MAX; i++)
		fprintf(f, "%s\"%s\":%u", i ? "," : "", limit_name(i), p->limit[i]);
	fputs("},\"actions\":{", f);
	for (i = 0; i < SG_C_MAX; i++)
		fprintf(f, "%s\"%s\":\"%s\"", i ? "," : "", class_name(i),
			action_name(p->action[i]));
	fputs("}}\n", f);
}

/* ---------------------------------------------------- policy files */

/*
 * Parse and compile @arg (file or preset) into @p, printing
 * "file:line:col: message" on error. Returns 0 or an exit code.
 */
static int pf_exit_code(enum sg_pf_err e)
{
	switch (e) {
	case SG_PF_OK:
		return 0;
	case SG_PF_NOFILE:
		return EX_NOFILE;
	case SG_PF_WORD:
		return EX_UNKNOWN_WORD;
	case SG_PF_RANGE:
		return EX_RANGE;
	default:	/* syntax, invalid action, contradiction */
		return EX_SYNTAX;
	}
}

/* The whole of @f into a malloc()ed NUL-terminated string, or NULL. */
static char *read_all(FILE *f)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;

	while (buf) {
		len += fread(buf + len, 1, cap - len - 1, f);
		if (ferror(f))
			break;
		if (feof(f)) {
			buf[len] = '\0';
			return buf;
		}
		if (cap - len - 1 == 0) {
			if (cap >= (1u << 24))	/* 16 MiB: no policy is that big */
				break;
			nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	free(buf);
	return NULL;
}

/* Whether @text holds nothing but comments and white space. */
static bool policy_text_empty(const char *text)
{
	bool comment = false;

	for (; *text; text++) {
		if (*text == '\n')
			comment = false;
		else if (*text == '#')
			comment = true;
		else if (!comment && *text != ' ' && *text != '\t' && *text != '\r')
			return false;
	}
	return true;
}

/*
 * Parse ARG (a file, a preset name, or "-" for standard input) into @p.
 * Every error is printed, not only the first: after an error the parser
 * runs again with that line blanked (line numbers stay), up to 50 errors.
 * The exit code is the first error's. A policy that allows no verb at all
 * masks every command; it is accepted with a warning.
 */
static int load_file(const char *arg, struct sg_policy *p)
{
	char path[PATH_MAX], *text, *line;
	const char *name = arg;
	struct sg_pf_error e;
	int ret = 0, n_err = 0;
	unsigned int i;
	FILE *f;

	if (!strcmp(arg, "-")) {
		name = "<stdin>";
		f = stdin;
	} else {
		if (sg_policy_resolve(arg, path, sizeof(path))) {
			errmsg("%s: no such policy file or preset (see: %s preset list)",
			       arg, prog);
			return EX_NOFILE;
		}
		name = path;
		f = fopen(path, "r");
		if (!f) {
			errmsg("%s: %s", path, strerror(errno));
			return EX_NOFILE;
		}
	}
	errno = 0;
	text = read_all(f);
	if (f != stdin)
		fclose(f);
	if (!text) {
		errmsg("%s: cannot read: %s", name, errno ? strerror(errno) : "too large");
		return EX_NOFILE;
	}

	for (;;) {
		enum sg_pf_err r;

		memset(&e, 0, sizeof(e));
		r = sg_policy_parse_string(name, text, p, &e);
		if (r == SG_PF_OK)
			break;
		fprintf(stderr, "%s\n", e.msg);
		if (!ret)
			ret = pf_exit_code(r);
		if (!e.line || ++n_err >= 50)
			break;
		/* blank line e.line, keep its newline */
		for (line = text, i = 1; *line && i < e.line; line++)
			if (*line == '\n')
				i++;
		if (!*line)
			break;
		for (; *line && *line != '\n'; line++)
			*line = ' ';
	}
	if (!ret && p->n_verbs == 0)
		errmsg("warning: %s: %s: every SMTP command will be masked",
		       name, policy_text_empty(text) ? "the file is empty"
						     : "the policy allows no verbs");
	free(text);
	return ret;
}

/* ------------------------------------------------------------- commands */

static int cmd_check(const char *arg)
{
	struct sg_policy *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return EX_FAIL;
	ret = load_file(arg, p);
	free(p);
	return ret;
}

static int cmd_load(const char *arg)
{
	struct sg_policy *p = calloc(1, sizeof(*p));
	struct nlmsghdr *nlh;
	struct nl nl;
	int ret;

	if (!p)
		return EX_FAIL;
	ret = load_file(arg, p);
	if (ret) {
		free(p);
		return ret;
	}
	ret = nl_open(&nl);
	if (!ret) {
		nlh = nl_req(&nl, nl.family, SMTPGUARD_CMD_POLICY_SET, 0);
		policy_put(nlh, p);
		ret = nl_talk(&nl, nlh, NULL, NULL);
		if (ret)
			ret = nl_fail("load", ret);
	}
	nl_close(&nl);
	free(p);
	return ret;
}

static int cmd_show(void)
{
	struct sg_policy *p = calloc(1, sizeof(*p));
	struct nl nl;
	int ret;

	if (!p)
		return EX_FAIL;
	ret = nl_open(&nl);
	if (!ret) {
		ret = policy_get(&nl, p);
		if (ret)
			ret = nl_fail("show", ret);
	}
	if (!ret) {
		if (json)
			policy_json(stdout, p);
		else
			sg_policy_write(stdout, p);
	}
	nl_close(&nl);
	free(p);
	return ret;
}

struct stats {
	uint64_t v[SMTPGUARD_A_STATS_MAX + 1];
	uint64_t vclass[SG_VC_MAX];
	uint64_t viol[SG_C_MAX];
};

static const struct {
	int attr;
	const char *name;
} stat_names[] = {
	{ SMTPGUARD_A_STATS_SESSIONS,		"sessions" },
	{ SMTPGUARD_A_STATS_BYTES,		"bytes" },
	{ SMTPGUARD_A_STATS_BANNERS_MASKED,	"banners_masked" },
	{ SMTPGUARD_A_STATS_KEYWORDS_MASKED,	"keywords_masked" },
	{ SMTPGUARD_A_STATS_HOLDS,		"holds" },
	{ SMTPGUARD_A_STATS_DROPS,		"drops" },
	{ SMTPGUARD_A_STATS_RESETS,		"resets" },
	{ SMTPGUARD_A_STATS_EVENTS_DROPPED,	"events_dropped" },
};

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	struct stats *s = data;
	const struct nlattr *a, *n;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		unsigned int t = mnl_attr_get_type(a);

		if (t == SMTPGUARD_A_STATS_VERBS_MASKED) {
			mnl_attr_for_each_nested(n, a) {
				unsigned int i = mnl_attr_get_type(n) - SMTPGUARD_A_VCLASS_FIRST;

				if (i < SG_VC_MAX && !mnl_attr_validate(n, MNL_TYPE_U64))
					s->vclass[i] = mnl_attr_get_u64(n);
			}
		} else if (t == SMTPGUARD_A_STATS_VIOLATIONS) {
			mnl_attr_for_each_nested(n, a) {
				unsigned int i = mnl_attr_get_type(n) - SMTPGUARD_A_CLASS_FIRST;

				if (i < SG_C_MAX && !mnl_attr_validate(n, MNL_TYPE_U64))
					s->viol[i] = mnl_attr_get_u64(n);
			}
		} else if (t <= SMTPGUARD_A_STATS_MAX &&
			   !mnl_attr_validate(a, MNL_TYPE_U64)) {
			s->v[t] = mnl_attr_get_u64(a);
		}
	}
	return 0;
}

static void stats_print(const struct stats *s)
{
	unsigned int i;

	if (json) {
		fputc('{', stdout);
		for (i = 0; i < sizeof(stat_names) / sizeof(stat_names[0]); i++)
			printf("%s\"%s\":%llu", i ? "," : "", stat_names[i].name,
			       (unsigned long long)s->v[stat_names[i].attr]);
		fputs(",\"verbs_masked\":{", stdout);
		for (i = 0; i < SG_VC_MAX; i++)
			printf("%s\"%s\":%llu", i ? "," : "", vclass_name(i),
			       (unsigned long long)s->vclass[i]);
		fputs("},\"violations\":{", stdout);
		for (i = 0; i < SG_C_MAX; i++)
			printf("%s\"%s\":%llu", i ? "," : "", class_name(i),
			       (unsigned long long)s->viol[i]);
		fputs("}}\n", stdout);
		return;
	}
	for (i = 0; i < sizeof(stat_names) / sizeof(stat_names[0]); i++)
		printf("%-32s %llu\n", stat_names[i].name,
		       (unsigned long long)s->v[stat_names[i].attr]);
	for (i = 0; i < SG_VC_MAX; i++) {
		char name[64];

		snprintf(name, sizeof(name), "verbs_masked.%s", vclass_name(i));
		printf("%-32s %llu\n", name, (unsigned long long)s->vclass[i]);
	}
	for (i = 0; i < SG_C_MAX; i++) {
		char name[64];

		snprintf(name, sizeof(name), "violations.%s", class_name(i));
		printf("%-32s %llu\n", name, (unsigned long long)s->viol[i]);
	}
}

static int cmd_stats(bool reset)
{
	struct nlmsghdr *nlh;
	struct stats s;
	struct nl nl;
	int ret;

	memset(&s, 0, sizeof(s));
	ret = nl_open(&nl);
	if (!ret) {
		nlh = nl_req(&nl, nl.family, reset ? SMTPGUARD_CMD_STATS_RESET :
			     SMTPGUARD_CMD_STATS_GET, 0);
		ret = nl_talk(&nl, nlh, reset ? NULL : stats_cb, &s);
		if (ret)
			ret = nl_fail(reset ? "stats reset" : "stats", ret);
		else if (!reset)
			stats_print(&s);
	}
	nl_close(&nl);
	return ret;
}

struct event {
	int kind, klass, action, dir;
	bool has_class, has_action, has_dir, has_value, has_limit;
	uint32_t value, limit, ct_id;
	bool has_ct_id;
	char token[SMTPGUARD_TOKEN_MAX + 1];
	int l3;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int sport, dport;
};

static void addr_str(const struct nlattr *a, char *out)
{
	uint16_t len = mnl_attr_get_payload_len(a);

	out[0] = '\0';
	if (len == 4)
		inet_ntop(AF_INET, mnl_attr_get_payload(a), out, INET6_ADDRSTRLEN);
	else if (len == 16)
		inet_ntop(AF_INET6, mnl_attr_get_payload(a), out, INET6_ADDRSTRLEN);
}

#define EVENT_LINE_MAX 512

/* Append to an event line; output past its end is cut, not overrun. */
static size_t __attribute__((format(printf, 3, 4)))
lcat(char *line, size_t n, const char *fmt, ...)
{
	const size_t size = EVENT_LINE_MAX;
	va_list ap;
	int r;

	if (n >= size - 1)
		return n;
	va_start(ap, fmt);
	r = vsnprintf(line + n, size - n, fmt, ap);
	va_end(ap);
	if (r < 0)
		return n;
	return n + (size_t)r < size ? n + (size_t)r : size - 1;
}

/*
 * Journal priority of an event: enforced violations (drop, reset) are
 * warnings, logged-only ones notices, masking and TLS/pickup events info.
 */
static int event_priority(const struct event *ev)
{
	if (ev->kind != SMTPGUARD_EVENT_VIOLATION || !ev->has_action)
		return LOG_INFO;
	switch (ev->action) {
	case SMTPGUARD_ACTION_DROP:
	case SMTPGUARD_ACTION_RESET:
		return LOG_WARNING;
	case SMTPGUARD_ACTION_LOG:
		return LOG_NOTICE;
	default:
		return LOG_INFO;
	}
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	struct event ev;

	(void)data;
	if (nlh->nlmsg_type != mon_family || g->cmd != SMTPGUARD_CMD_EVENT)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.kind = -1;
	ev.sport = ev.dport = -1;
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		bool u8ok = !mnl_attr_validate(a, MNL_TYPE_U8);
		bool u16ok = !mnl_attr_validate(a, MNL_TYPE_U16);
		bool u32ok = !mnl_attr_validate(a, MNL_TYPE_U32);

		switch (mnl_attr_get_type(a)) {
		case SMTPGUARD_A_EVENT_KIND:
			if (u8ok)
				ev.kind = mnl_attr_get_u8(a);
			break;
		case SMTPGUARD_A_EVENT_CLASS:
			if (u8ok) {
				ev.klass = mnl_attr_get_u8(a);
				ev.has_class = true;
			}
			break;
		case SMTPGUARD_A_EVENT_ACTION:
			if (u8ok) {
				ev.action = mnl_attr_get_u8(a);
				ev.has_action = true;
			}
			break;
		case SMTPGUARD_A_EVENT_DIR:
			if (u8ok) {
				ev.dir = mnl_attr_get_u8(a);
				ev.has_dir = true;
			}
			break;
		case SMTPGUARD_A_EVENT_VALUE:
			if (u32ok) {
				ev.value = mnl_attr_get_u32(a);
				ev.has_value = true;
			}
			break;
		case SMTPGUARD_A_EVENT_LIMIT:
			if (u32ok) {
				ev.limit = mnl_attr_get_u32(a);
				ev.has_limit = true;
			}
			break;
		case SMTPGUARD_A_EVENT_TOKEN:
			if (!mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
				snprintf(ev.token, sizeof(ev.token), "%s",
					 mnl_attr_get_str(a));
			break;
		case SMTPGUARD_A_EVENT_L3PROTO:
			if (u8ok)
				ev.l3 = mnl_attr_get_u8(a);
			break;
		case SMTPGUARD_A_EVENT_SADDR:
			addr_str(a, ev.src);
			break;
		case SMTPGUARD_A_EVENT_DADDR:
			addr_str(a, ev.dst);
			break;
		case SMTPGUARD_A_EVENT_SPORT:
			if (u16ok)
				ev.sport = mnl_attr_get_u16(a);
			break;
		case SMTPGUARD_A_EVENT_DPORT:
			if (u16ok)
				ev.dport = mnl_attr_get_u16(a);
			break;
		case SMTPGUARD_A_EVENT_CT_ID:
			if (u32ok) {
				ev.ct_id = mnl_attr_get_u32(a);
				ev.has_ct_id = true;
			}
			break;
		}
	}

	if (json) {
		printf("{\"kind\":\"%s\"", kind_name(ev.kind));
		if (ev.kind == SMTPGUARD_EVENT_VIOLATION && ev.has_class)
			printf(",\"class\":\"%s\"", class_name(ev.klass));
		if (ev.has_action)
			printf(",\"action\":\"%s\"", action_name(ev.action));
		if (ev.has_dir)
			printf(",\"dir\":\"%s\"", ev.dir ? "server" : "client");
		if (ev.token[0]) {
			fputs(",\"token\":", stdout);
			json_str(stdout, ev.token);
		}
		if (ev.has_value)
			printf(",\"value\":%u", ev.value);
		if (ev.has_limit)
			printf(",\"limit\":%u", ev.limit);
		if (ev.src[0])
			printf(",\"family\":\"%s\",\"src\":\"%s\",\"sport\":%d,"
			       "\"dst\":\"%s\",\"dport\":%d",
			       ev.l3 == AF_INET6 ? "ipv6" : "ipv4",
			       ev.src, ev.sport, ev.dst, ev.dport);
		if (ev.has_ct_id)
			printf(",\"ct_id\":%u", ev.ct_id);
		fputs("}\n", stdout);
	} else {
		char line[EVENT_LINE_MAX];
		size_t n = 0;

		n = lcat(line, n, "%s", kind_name(ev.kind));
		if (ev.kind == SMTPGUARD_EVENT_VIOLATION && ev.has_class)
			n = lcat(line, n, " class %s", class_name(ev.klass));
		if (ev.has_action)
			n = lcat(line, n, " action %s", action_name(ev.action));
		if (ev.has_dir)
			n = lcat(line, n, " dir %s", ev.dir ? "server" : "client");
		if (ev.token[0])
			n = lcat(line, n, " token %s", ev.token);
		if (ev.has_limit && ev.limit)
			n = lcat(line, n, " value %u limit %u", ev.value, ev.limit);
		if (ev.src[0]) {
			if (ev.l3 == AF_INET6)
				n = lcat(line, n, " [%s]:%d -> [%s]:%d", ev.src,
					 ev.sport, ev.dst, ev.dport);
			else
				n = lcat(line, n, " %s:%d -> %s:%d", ev.src,
					 ev.sport, ev.dst, ev.dport);
		}
		if (ev.has_ct_id)
			n = lcat(line, n, " id %u", ev.ct_id);
		if (use_syslog)
			syslog(event_priority(&ev), "%s", line);
		else
			puts(line);
	}
	fflush(stdout);
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int cmd_monitor(void)
{
	struct sigaction sa;
	struct nl nl;
	int ret, grp;

	ret = nl_open(&nl);
	if (ret) {
		nl_close(&nl);
		return ret;
	}
	grp = (int)nl.mcgrp_events;
	if (!grp || setsockopt(mnl_socket_get_fd(nl.sk), SOL_NETLINK,
			       NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0) {
		ret = grp ? -errno : -ENOENT;
		nl_close(&nl);
		if (ret == -EPERM || ret == -EACCES)
			return nl_fail("monitor", ret);
		errmsg("monitor: cannot join group \"%s\": %s",
		       SMTPGUARD_MCGRP_EVENTS, strerror(-ret));
		return EX_FAIL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	mon_family = nl.family;
	if (use_syslog)
		openlog("smtpguard", LOG_PID, LOG_DAEMON);
	while (!stop) {
		ssize_t n = mnl_socket_recvfrom(nl.sk, nl.buf, nl.bufsz);
		const struct nlmsghdr *m;
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				errmsg("monitor: events lost (socket buffer overrun)");
				continue;
			}
			ret = nl_fail("monitor", -errno);
			break;
		}
		len = (int)n;
		for (m = (const struct nlmsghdr *)nl.buf; mnl_nlmsg_ok(m, len);
		     m = mnl_nlmsg_next(m, &len))
			event_cb(m, NULL);
	}
	nl_close(&nl);
	return ret;
}

static int cmd_preset(int argc, char **argv)
{
	char dirs[SG_PRESET_DIRS_MAX][PATH_MAX], seen[64][64];
	int nseen = 0, i, n;

	if (argc >= 1 && !strcmp(argv[0], "list") && argc == 1) {
		n = sg_preset_dirs(dirs, SG_PRESET_DIRS_MAX);
		for (i = 0; i < n; i++) {
			DIR *d = opendir(dirs[i]);
			struct dirent *de;

			if (!d)
				continue;
			while ((de = readdir(d))) {
				size_t l = strlen(de->d_name);
				int j;

				if (l < 6 || strcmp(de->d_name + l - 5, ".conf") || l - 5 >= 64)
					continue;
				for (j = 0; j < nseen; j++)
					if (!strncmp(seen[j], de->d_name, l - 5) &&
					    seen[j][l - 5] == '\0')
						break;
				if (j < nseen || nseen >= 64)
					continue;
				snprintf(seen[nseen++], 64, "%.*s", (int)(l - 5), de->d_name);
			}
			closedir(d);
		}
		qsort(seen, nseen, sizeof(seen[0]),
		      (int (*)(const void *, const void *))strcmp);
		for (i = 0; i < nseen; i++)
			printf("%s\n", seen[i]);
		return nseen ? 0 : EX_NOFILE;
	}
	if (argc == 2 && !strcmp(argv[0], "show")) {
		char path[PATH_MAX], line[1024];
		FILE *f;

		if (!sg_preset_name_ok(argv[1]) ||
		    sg_policy_resolve(argv[1], path, sizeof(path))) {
			errmsg("%s: no such preset (see: %s preset list)", argv[1], prog);
			return EX_NOFILE;
		}
		f = fopen(path, "r");
		if (!f) {
			errmsg("%s: %s", path, strerror(errno));
			return EX_NOFILE;
		}
		while (fgets(line, sizeof(line), f))
			fputs(line, stdout);
		fclose(f);
		return 0;
	}
	errmsg("usage: %s preset list | preset show NAME", prog);
	return EX_USAGE_;
}

static int enter_netns(const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errmsg("network namespace \"%s\": %s", name, strerror(errno));
		return errno == EACCES || errno == EPERM ? EX_PERM : EX_FAIL;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;

		close(fd);
		errmsg("setns \"%s\": %s", name, strerror(e));
		return e == EPERM ? EX_PERM : EX_FAIL;
	}
	close(fd);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [-j] [-n NETNS] COMMAND\n"
		"  load FILE|PRESET     compile a policy file and make it active\n"
		"  check FILE|PRESET    validate a policy file only\n"
		"  show                 print the active policy (policy file format)\n"
		"  stats [reset]        print (or zero) the counters\n"
		"  monitor [--syslog]   print events as they happen (or send them to syslog)\n"
		"  preset list          list the preset names\n"
		"  preset show NAME     print a preset\n"
		"options:\n"
		"  -j, --json           JSON output (show, stats, monitor)\n"
		"  -n, --netns NETNS    run in network namespace NETNS (ip netns name or path)\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n", prog);
}

int main(int argc, char **argv)
{
	const char *netns = NULL, *cmd;
	int i, ret;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i];

		if (!strcmp(o, "-j") || !strcmp(o, "--json")) {
			json = true;
		} else if ((!strcmp(o, "-n") || !strcmp(o, "--netns")) && i + 1 < argc) {
			netns = argv[++i];
		} else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(o, "-V") || !strcmp(o, "--version")) {
			printf("smtpguard %s\n", SMTPGUARD_VERSION);
			return 0;
		} else if (!strcmp(o, "--")) {
			i++;
			break;
		} else {
			errmsg("unknown option %s", o);
			usage(stderr);
			return EX_USAGE_;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE_;
	}
	cmd = argv[i++];
	argc -= i;
	argv += i;

	/* -j may also follow the command: "stats -j", "monitor -j" */
	if (argc >= 1 && (!strcmp(argv[argc - 1], "-j") ||
			  !strcmp(argv[argc - 1], "--json"))) {
		json = true;
		argc--;
	}

	if (netns) {
		ret = enter_netns(netns);
		if (ret)
			return ret;
	}

	if (!strcmp(cmd, "load") && argc == 1)
		return cmd_load(argv[0]);
	if (!strcmp(cmd, "check") && argc == 1)
		return cmd_check(argv[0]);
	if (!strcmp(cmd, "show") && argc == 0)
		return cmd_show();
	if (!strcmp(cmd, "stats") && argc == 0)
		return cmd_stats(false);
	if (!strcmp(cmd, "stats") && argc == 1 && !strcmp(argv[0], "reset"))
		return cmd_stats(true);
	if (!strcmp(cmd, "monitor") && argc == 0)
		return cmd_monitor();
	if (!strcmp(cmd, "monitor") && argc == 1 && !strcmp(argv[0], "--syslog") && !json) {
		use_syslog = true;
		return cmd_monitor();
	}
	if (!strcmp(cmd, "preset"))
		return cmd_preset(argc, argv);
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	errmsg("unknown command or wrong arguments: %s", cmd);
	usage(stderr);
	return EX_USAGE_;
}
