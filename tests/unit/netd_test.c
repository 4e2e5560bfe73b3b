/*
 * netd through a socketpair, as the monitor talks to it: it takes its
 * table of VIPs, answers a drop and goes on; a request of the wrong size,
 * or a VIP whose interface name has no end within its field, ends it.
 * Needs root (netd drops privileges like in production).
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failoverd.h"
#include "imsg.h"
#include "timer.h"
#include "tap.h"

static struct imsgbuf	 ib;
static char		*failoverd;

/* the next message, or -1 after 3 s */
static int
next(struct imsg *imsg)
{
	struct pollfd	 pfd = { ib.fd, POLLIN, 0 };
	ssize_t		 n;

	for (;;) {
		if ((n = imsg_get(&ib, imsg)) > 0)
			return (0);
		if (n == -1 || poll(&pfd, 1, 3000) != 1 ||
		    imsgbuf_read(&ib) != 1)
			return (-1);
	}
}

/* skip IMSG_VIP_STATE and the like until type, or -1 */
static int
expect(uint32_t type, struct imsg *imsg)
{
	while (next(imsg) == 0) {
		if (imsg_get_type(imsg) == type)
			return (0);
		imsg_free(imsg);
	}
	return (-1);
}

/* netd on the other end of ib; its pid */
static pid_t
start_netd(void)
{
	char	*cargv[] = { "failoverd", "-P", "netd", "-d", NULL };
	char	*cenv[] = { NULL };
	int	 sp[2];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		exit(2);
	if ((pid = fork()) == 0) {
		dup2(sp[1], CHILD_FD);
		closefrom(CHILD_FD + 1);
		execve(failoverd, cargv, cenv);
		_exit(127);
	}
	close(sp[1]);
	imsgbuf_init(&ib, sp[0]);
	return (pid);
}

static void
stop_netd(pid_t pid, int *status)
{
	waitpid(pid, status, 0);
	close(ib.fd);
	imsgbuf_clear(&ib);
}

static void
send_conf(const struct conf_vip_msg *vm)
{
	struct conf_net	 cn;

	memset(&cn, 0, sizeof(cn));
	cn.timing.interval = 100;
	cn.timing.dead = 3000;
	cn.timing.margin = 1000;
	cn.timing.slack = 100;
	cn.timing.timeout = 250;
	cn.garp_count = 0;
	cn.nvips = 1;
	imsg_compose(&ib, IMSG_CONF_NET, 0, 0, -1, &cn, sizeof(cn));
	imsg_compose(&ib, IMSG_CONF_VIP, 0, 0, -1, vm, sizeof(*vm));
	imsg_compose(&ib, IMSG_CONF_END, 0, 0, -1, NULL, 0);
	imsgbuf_flush(&ib);
}

int
main(int argc, char *argv[])
{
	struct conf_vip_msg	 vm;
	struct vip_drop_msg	 vd;
	struct vip_bind_msg	 vb;
	struct vip_dropped_msg	 o;
	struct imsg		 imsg;
	int			 status, got;
	pid_t			 pid;

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root: netd drops privileges\n");
		return (0);
	}
	if (argc != 2) {
		fprintf(stderr, "usage: netd_test path/to/failoverd\n");
		return (2);
	}
	failoverd = argv[1];
	/* netd's chroot, as the monitor makes it (a fresh machine has none) */
	mkdir(RUN_DIR, 0755);
	mkdir(EMPTY_DIR, 0555);

	memset(&vm, 0, sizeof(vm));
	vm.index = 0;
	vm.addr.af = AF_INET;
	inet_pton(AF_INET, "192.0.2.99", &vm.addr.a.v4);
	vm.prefixlen = 32;
	strlcpy(vm.ifname, "fotest0", sizeof(vm.ifname));
	pid = start_netd();
	send_conf(&vm);
	ok(expect(IMSG_READY, &imsg) == 0, "netd takes a table of one VIP "
	    "and is ready");
	imsg_free(&imsg);

	memset(&vd, 0, sizeof(vd));
	vd.epoch = 1;
	imsg_compose(&ib, IMSG_VIP_DROP, 0, 0, -1, &vd, sizeof(vd));
	imsgbuf_flush(&ib);
	got = expect(IMSG_VIP_DROPPED, &imsg) == 0 &&
	    imsg_get_data(&imsg, &o, sizeof(o)) == 0;
	ok(got && o.ok && o.epoch == 1, "a drop of every VIP is answered, "
	    "for its epoch");
	if (got)
		imsg_free(&imsg);
	ok(waitpid(pid, &status, WNOHANG) == 0, "netd is still running");

	/* a request of the wrong size is a bug of the sender: fatal */
	memset(&vb, 0, sizeof(vb));
	imsg_compose(&ib, IMSG_VIP_BIND, 0, 0, -1, &vb, 4);
	imsgbuf_flush(&ib);
	ok(next(&imsg) == -1, "a bind of 4 bytes: netd closes the socket");
	stop_netd(pid, &status);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "and exits 1 (fatal)");

	/* a string field without its NUL is refused, not cut short */
	memset(vm.ifname, 'x', sizeof(vm.ifname));
	pid = start_netd();
	send_conf(&vm);
	ok(next(&imsg) == -1, "an interface name of %zu bytes and no NUL: "
	    "netd closes the socket", sizeof(vm.ifname));
	stop_netd(pid, &status);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "and exits 1 (fatal)");
	return (tap_done());
}
