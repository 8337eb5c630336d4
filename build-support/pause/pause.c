/*
 * The pod sandbox's "pause" process for the local cluster (containerd's sandbox_image):
 * it holds the pod's namespaces open, reaps the zombies of a shared PID namespace and
 * exits on SIGINT or SIGTERM. Built static with gcc (build-support/pause, see
 * todo.cluster.builds), so its image needs nothing but this file.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signo) {
    (void)signo;
    _exit(0);
}

static void reap(int signo) {
    (void)signo;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts("pause (todo-cloud)");
        return 0;
    }
    if (getpid() != 1) {
        fputs("pause: expected to run as PID 1 of a pod sandbox\n", stderr);
    }
    struct sigaction on_stop = {.sa_handler = stop};
    struct sigaction on_child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
    if (sigaction(SIGINT, &on_stop, NULL) < 0 || sigaction(SIGTERM, &on_stop, NULL) < 0 ||
        sigaction(SIGCHLD, &on_child, NULL) < 0) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;) {
        pause();
    }
}
