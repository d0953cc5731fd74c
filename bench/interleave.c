// Interleaved timing of short commands (docs/benchmarks.md, "Passthrough dispatch", issue 23):
// `gcc -O2 -o /tmp/interleave bench/interleave.c`, then
// `/tmp/interleave N CMD... -- CMD... [-- ...]`: runs each command once per round, N rounds,
// stdout and stderr to /dev/null; leading @VAR=value words add to that command's environment.
// Prints the median, mean and 10th percentile wall time of each, in ms. On a loaded machine the
// load drifts alike for all the commands, which separate hyperfine blocks do not give.
// INTERLEAVE_PREPARE, when set, is run with `sh -c` (untimed) before every run of every command
// (warm-up runs included): what hyperfine's --prepare does, e.g. removing the environment a
// command creates.
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
extern char **environ;
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    char **cmds[16]; int nc = 0; cmds[nc++] = &argv[2];
    for (int i = 2; i < argc; i++) if (!strcmp(argv[i], "--")) { argv[i] = NULL; cmds[nc++] = &argv[i + 1]; }
    // Leading @VAR=value words: that command's extra environment.
    char **envs[16];
    int ne = 0; while (environ[ne]) ne++;
    for (int c = 0; c < nc; c++) {
        char **e = calloc(ne + 16, sizeof(char *)); int k = 0;
        while (cmds[c][0] && cmds[c][0][0] == '@') { e[k++] = cmds[c][0] + 1; cmds[c]++; }
        for (int i = 0; i < ne; i++) e[k++] = environ[i];
        envs[c] = e;
    }
    double *t = calloc((size_t)n * nc, sizeof(double));
    posix_spawn_file_actions_t fa; posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *prep = getenv("INTERLEAVE_PREPARE");
    char *prep_argv[] = {"/bin/sh", "-c", prep, NULL};
#define PREPARE() do { if (prep) { pid_t q; posix_spawn(&q, "/bin/sh", &fa, NULL, prep_argv, environ); waitpid(q, NULL, 0); } } while (0)
    int warm = prep ? 5 : 50;
    for (int w = 0; w < warm; w++) for (int c = 0; c < nc; c++) { pid_t p; PREPARE(); posix_spawn(&p, cmds[c][0], &fa, NULL, cmds[c], envs[c]); waitpid(p, NULL, 0); }
    for (int i = 0; i < n; i++) for (int c = 0; c < nc; c++) {
        struct timespec a, b; pid_t p;
        PREPARE();
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (posix_spawn(&p, cmds[c][0], &fa, NULL, cmds[c], envs[c])) { perror("spawn"); return 1; }
        waitpid(p, NULL, 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[c * n + i] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
    }
    for (int c = 0; c < nc; c++) {
        double *x = &t[c * n], s = 0; for (int i = 0; i < n; i++) s += x[i];
        qsort(x, n, sizeof(double), cmp);
        char buf[200] = ""; for (char **a = cmds[c]; *a; a++) { strncat(buf, *a, 190 - strlen(buf)); strcat(buf, " "); }
        printf("%-50s median %.3f  mean %.3f  p10 %.3f\n", buf, x[n / 2], s / n, x[n / 10]);
    }
    return 0;
}
