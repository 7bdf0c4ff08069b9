// SPDX-License-Identifier: GPL-2.0
/* NL_SET_ERR_MSG_FMT(): extack messages that are not literals (6.2+). */
#include <linux/netlink.h>

void probe(struct netlink_ext_ack *extack, const char *msg);
void probe(struct netlink_ext_ack *extack, const char *msg)
{
	NL_SET_ERR_MSG_FMT(extack, "%s", msg);
}
