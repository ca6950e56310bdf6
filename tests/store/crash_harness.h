/*
 * crash_harness.h — the kill -9 harness the crash tests share: fork a child
 * that works on a store and reports each acknowledged operation as one line
 * on a pipe, SIGKILL it at a chosen moment, and hand every complete line it
 * wrote to the parent, which then reopens the store and checks that
 * everything acknowledged survived.
 *
 * The kill moments come from a xorshift generator seeded from the clock, or
 * from KV_TEST_SEED=N to replay a run (ch_seed prints the seed).
 *
 * Header-only (static functions): each tests/<area>/test_*.c is its own
 * executable. Include after cmocka.h.
 */
#ifndef KV_TESTS_CRASH_HARNESS_H
#define KV_TESTS_CRASH_HARNESS_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CH_LINE_MAX 128

static uint64_t ch_rng_state;

/* Seeds the generator from KV_TEST_SEED or the clock and prints the seed. */
static inline void ch_seed(void)
{
    const char *env = getenv("KV_TEST_SEED");
    uint64_t seed =
        env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    ch_rng_state = seed ? seed : 1;
    printf("# seed %llu (KV_TEST_SEED=%llu to replay)\n", (unsigned long long)seed,
           (unsigned long long)seed);
}

static inline uint64_t ch_rng(void)
{
    ch_rng_state ^= ch_rng_state << 13;
    ch_rng_state ^= ch_rng_state >> 7;
    ch_rng_state ^= ch_rng_state << 17;
    return ch_rng_state;
}

static inline double ch_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* In the child: reports one line (ending in '\n'). One write of less than
 * PIPE_BUF bytes is atomic, so lines of several threads never interleave. */
static inline void ch_say(int fd, const char *line)
{
    size_t n = strlen(line);
    if (write(fd, line, n) != (ssize_t)n)
        _exit(4);
}

/* The child's body: works on the store in `dir` and reports on `fd`; must
 * not return (it is killed). */
typedef void ch_child_fn(const char *dir, int round, int fd);

/* Receives one complete line (without its '\n') in the parent. */
typedef void ch_line_fn(const char *line, void *ctx);

/*
 * Forks a child running child(dir, round, fd), kills it with SIGKILL
 * delay_ms after the fork, and passes every complete line it wrote to
 * on_line. Fails the test if the child ended on its own or left a torn line.
 */
static inline void ch_run_child(const char *dir, int round, int delay_ms, ch_child_fn *child,
                                ch_line_fn *on_line, void *ctx)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child(dir, round, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    double deadline = ch_now_ms() + delay_ms;
    bool eof = false, killed = false;
    while (!eof) {
        double left = deadline - ch_now_ms();
        if (!killed && left <= 0) {
            kill(pid, SIGKILL);
            killed = true;
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        int pr = poll(&p, 1, killed ? -1 : (int)left + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        assert_true(pr >= 0);
        if (pr == 0)
            continue;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t r = read(fds[0], buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        assert_true(r >= 0);
        if (r == 0)
            eof = true; /* the child is gone: everything it said is in buf */
        len += (size_t)r;
        size_t used = 0;
        for (;;) {
            char *nl = memchr(buf + used, '\n', len - used);
            if (!nl)
                break;
            size_t n = (size_t)(nl - (buf + used));
            char line[CH_LINE_MAX];
            assert_true(n < sizeof line);
            memcpy(line, buf + used, n);
            line[n] = '\0';
            on_line(line, ctx);
            used += n + 1;
        }
        memmove(buf, buf + used, len - used);
        len -= used;
    }
    close(fds[0]);
    free(buf);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        fail_msg("child of round %d ended on its own (status 0x%x)", round, status);
    assert_int_equal(len, 0); /* no torn line */
}

#endif
