// SPDX-License-Identifier: GPL-2.0
/*
 * nf_conntrack_smtp: a conntrack helper that inspects SMTP and rewrites
 * it in place, same length, per a per-netns policy (see README).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <net/netfilter/nf_conntrack_helper.h>
#include "compat.h"
#include "conn.h"
#include "helper.h"
#include "netlink.h"
#include "pernet.h"

#define SMTP_PORT	25

/*
 * One helper name, "smtp", for every port: nftables and iptables attach a
 * helper by name to whatever ports their rule matches (tcp dport { 25, 587 }
 * ct helper set "smtp"), and since Linux 6.0 nothing assigns helpers by
 * port, so the port in the helper's tuple only has to be unique. "ports="
 * used to register "smtp-PORT" helpers, which nothing could autoload; it is
 * still accepted so that old modprobe.d lines keep working, and ignored.
 */
static u16 ports[8];
static unsigned int ports_c;
module_param_array(ports, ushort, &ports_c, 0400);
MODULE_PARM_DESC(ports, "ignored: attach helper \"smtp\" to any port with nftables");

static struct nf_conntrack_helper smtp_helpers[2] __read_mostly;
/* What the core registered: smtp_helpers itself, or its copies (compat.h). */
static struct nf_conntrack_helper *smtp_helpers_reg[2] __read_mostly;

/* The helper creates no expectations. */
static const struct nf_conntrack_expect_policy smtp_exp_policy = {
	.max_expected	= 0,
	.timeout	= 0,
};

static void smtp_helpers_setup(void)
{
	unsigned int j;

	for (j = 0; j < ARRAY_SIZE(smtp_helpers); j++) {
		struct nf_conntrack_helper *h = &smtp_helpers[j];

		smtpguard_helper_init(h, j ? AF_INET6 : AF_INET, "smtp",
				      SMTP_PORT, SMTP_PORT, &smtp_exp_policy,
				      smtp_help, smtp_from_nlattr, THIS_MODULE);
		h->destroy = smtp_conn_destroy;
		h->to_nlattr = smtp_to_nlattr;
	}
}

static int __init nf_conntrack_smtp_init(void)
{
	int ret;

	if (ports_c)
		pr_notice("nf_conntrack_smtp: ports= is ignored; attach helper \"smtp\" to any port with nftables\n");

	ret = smtp_conn_cache_init();
	if (ret)
		return ret;
	ret = smtp_pernet_init();
	if (ret)
		goto err_cache;
	ret = smtp_nl_init();
	if (ret)
		goto err_pernet;

	smtp_helpers_setup();
	ret = smtpguard_helpers_register(smtp_helpers, smtp_helpers_reg,
					 ARRAY_SIZE(smtp_helpers));
	if (ret) {
		pr_err("nf_conntrack_smtp: failed to register helpers: %d\n", ret);
		goto err_nl;
	}
	return 0;

err_nl:
	smtp_nl_exit();
err_pernet:
	smtp_pernet_exit();
err_cache:
	smtp_conn_cache_exit();
	return ret;
}

static void __exit nf_conntrack_smtp_exit(void)
{
	smtp_conn_release_all();
	smtpguard_helpers_unregister(smtp_helpers_reg, ARRAY_SIZE(smtp_helpers));
	smtp_nl_exit();
	smtp_pernet_exit();
	smtp_conn_cache_exit();
}

module_init(nf_conntrack_smtp_init);
module_exit(nf_conntrack_smtp_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("smtpguard developers");
MODULE_DESCRIPTION("SMTP inspection conntrack helper");
MODULE_VERSION(SMTPGUARD_VERSION);
MODULE_ALIAS_NFCT_HELPER("smtp");
