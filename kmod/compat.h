/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel API difference smtpguard meets, in one place. The
 * SMTPGUARD_HAVE_* symbols come from compile probes (kmod/probes/NAME.c, run
 * by kmod/probe-compat.sh against the target kernel's headers), not from
 * version numbers, so distribution backports are handled as they are.
 */
#ifndef SMTPGUARD_COMPAT_H
#define SMTPGUARD_COMPAT_H

#include <linux/skbuff.h>
#include <net/checksum.h>
#include <net/netfilter/nf_conntrack_helper.h>
#include "compat-probed.h"

#if !defined(SMTPGUARD_HAVE_NF_CT_HELPER_DESTROY_MEMBER)
#error "smtpguard: struct nf_conntrack_helper lacks .destroy/.to_nlattr; kernel not supported"
#endif
#if !defined(SMTPGUARD_HAVE_NF_CT_ITERATE_DESTROY)
#error "smtpguard: nf_ct_iterate_destroy() missing; kernel not supported"
#endif
#if !defined(SMTPGUARD_HAVE_INET_PROTO_CSUM_REPLACE4)
#error "smtpguard: inet_proto_csum_replace4() missing; kernel not supported"
#endif

/*
 * Helper set-up. nf_ct_helper_init() is the registration API that the
 * netfilter maintainers are reworking; where it is gone, fill the fields
 * it filled ourselves.
 */
static inline void
smtpguard_helper_init(struct nf_conntrack_helper *h, u16 l3num,
		      const char *name, u16 port, u32 id,
		      const struct nf_conntrack_expect_policy *exp_pol,
		      int (*help)(struct sk_buff *, unsigned int,
				  struct nf_conn *, enum ip_conntrack_info),
		      int (*from_nlattr)(struct nlattr *, struct nf_conn *),
		      struct module *me)
{
#if defined(SMTPGUARD_HAVE_NF_CT_HELPER_INIT_PORTLESS)
	/* 7.3+: no port tuple; rules attach the helper by @name */
	nf_ct_helper_init(h, l3num, IPPROTO_TCP, name, exp_pol, 0, help,
			  from_nlattr, me);
#elif defined(SMTPGUARD_HAVE_NF_CT_HELPER_INIT)
	/* default_port == spec_port keeps @name exactly as given */
	nf_ct_helper_init(h, l3num, IPPROTO_TCP, name, port, port, id,
			  exp_pol, 0, help, from_nlattr, me);
#else
	memset(h, 0, sizeof(*h));
	strscpy(h->name, name, sizeof(h->name));
	h->tuple.src.l3num = l3num;
	h->tuple.dst.protonum = IPPROTO_TCP;
	h->tuple.src.u.all = htons(port);
	h->expect_policy = exp_pol;
	h->help = help;
	h->from_nlattr = from_nlattr;
	h->me = me;
#endif
}

/*
 * Helper registration. Since 7.x the core registers a refcounted copy of
 * each template and hands back its address; connections keep that copy
 * alive after unregistration, and the core still calls its ->destroy then
 * (unlike ->help, ->to_nlattr and ->from_nlattr, which it checks first).
 * So ->destroy is cleared before the copies are unregistered, whose
 * synchronize_rcu() then waits out every call already under way. The
 * caller has freed every connection's state before (smtp_conn_release_all),
 * so nothing is lost. @reg receives the registered helpers.
 */
static inline int
smtpguard_helpers_register(struct nf_conntrack_helper *tmpl,
			   struct nf_conntrack_helper **reg, unsigned int n)
{
#ifdef SMTPGUARD_HAVE_NF_CT_HELPERS_REGISTER_COPY
	return nf_conntrack_helpers_register(tmpl, n, reg);
#else
	unsigned int i;

	for (i = 0; i < n; i++)
		reg[i] = &tmpl[i];
	return nf_conntrack_helpers_register(tmpl, n);
#endif
}

static inline void
smtpguard_helpers_unregister(struct nf_conntrack_helper **reg, unsigned int n)
{
#ifdef SMTPGUARD_HAVE_NF_CT_HELPERS_REGISTER_COPY
	unsigned int i;

	for (i = 0; i < n; i++)
		WRITE_ONCE(reg[i]->destroy, NULL);
	nf_conntrack_helpers_unregister(reg, n);
#else
	/* unregistration unhelps every connection itself */
	nf_conntrack_helpers_unregister(reg[0], n);
#endif
}

/*
 * Event multicast group: it carries addresses and verbs, so only
 * CAP_NET_ADMIN may listen. No kernel without the flag is supported: there
 * any user could join.
 */
#if !defined(SMTPGUARD_HAVE_GENL_MCAST_CAP_NET_ADMIN)
#error "smtpguard: GENL_MCAST_CAP_NET_ADMIN missing; kernel not supported"
#endif

/*
 * An extack message that is not a literal (the policy compiler's static
 * strings). Without NL_SET_ERR_MSG_FMT the message is generic: never
 * assign extack->_msg behind the API's back.
 */
#include <linux/netlink.h>
static inline void smtpguard_extack_msg(struct netlink_ext_ack *extack,
					const char *msg)
{
#ifdef SMTPGUARD_HAVE_NL_SET_ERR_MSG_FMT
	NL_SET_ERR_MSG_FMT(extack, "%s", msg);
#else
	NL_SET_ERR_MSG(extack, "policy rejected by the compiler");
#endif
}

#endif /* SMTPGUARD_COMPAT_H */
