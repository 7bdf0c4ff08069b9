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
#define MAX_PORTS	8

static u16 ports[MAX_PORTS];
static unsigned int ports_c;
module_param_array(ports, ushort, &ports_c, 0400);
MODULE_PARM_DESC(ports, "TCP ports of SMTP servers (default 25; up to 8)");

static struct nf_conntrack_helper smtp_helpers[MAX_PORTS * 2] __read_mostly;
static char smtp_names[MAX_PORTS][NF_CT_HELPER_NAME_LEN];

/* The helper creates no expectations. */
static const struct nf_conntrack_expect_policy smtp_exp_policy = {
	.max_expected	= 0,
	.timeout	= 0,
};

static void smtp_helpers_setup(void)
{
	unsigned int i, j;

	for (i = 0; i < ports_c; i++) {
		/* As ftp: "smtp" on the default port, "smtp-PORT" elsewhere. */
		if (ports[i] == SMTP_PORT)
			strscpy(smtp_names[i], "smtp", sizeof(smtp_names[i]));
		else
			snprintf(smtp_names[i], sizeof(smtp_names[i]), "smtp-%u",
				 ports[i]);
		for (j = 0; j < 2; j++) {
			struct nf_conntrack_helper *h = &smtp_helpers[2 * i + j];

			smtpguard_helper_init(h, j ? AF_INET6 : AF_INET,
					      smtp_names[i], ports[i], ports[i],
					      &smtp_exp_policy, smtp_help,
					      smtp_from_nlattr, THIS_MODULE);
			h->destroy = smtp_conn_destroy;
			h->to_nlattr = smtp_to_nlattr;
		}
	}
}

static int __init nf_conntrack_smtp_init(void)
{
	int ret;

	if (ports_c == 0)
		ports[ports_c++] = SMTP_PORT;

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
	ret = nf_conntrack_helpers_register(smtp_helpers, ports_c * 2);
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
	nf_conntrack_helpers_unregister(smtp_helpers, ports_c * 2);
	smtp_nl_exit();
	smtp_pernet_exit();
	smtp_conn_cache_exit();
}

module_init(nf_conntrack_smtp_init);
module_exit(nf_conntrack_smtp_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("smtpguard developers");
MODULE_DESCRIPTION("SMTP inspection conntrack helper");
MODULE_ALIAS_NFCT_HELPER("smtp");
