/*
 * standalone.h - the few Criterion macros the threaded suites use, without
 * Criterion, for the TSan build: Criterion's runner cannot start under
 * ThreadSanitizer (Snaipe/Criterion#274).  Each test runs in a child
 * process of its own, as under Criterion; results are printed as TAP.
 */
#ifndef ML_STANDALONE_H
#define ML_STANDALONE_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct sa_suite {
	void (*init)(void);
	void (*fini)(void);
	int   timeout;
};

struct sa_test {
	const char     *suite, *name;
	void          (*fn)(void);
	struct sa_suite opts;
	struct sa_test *next;
};

extern struct sa_test  *sa_tests;
extern struct sa_suite  sa_suite_opts;

#define TestSuite(s, ...) \
	struct sa_suite sa_suite_opts = { __VA_ARGS__ }

#define Test(s, n, ...)                                                    \
	static void s##_##n(void);                                         \
	__attribute__((constructor)) static void s##_##n##_reg(void)       \
	{                                                                  \
		static struct sa_test t = { #s, #n, s##_##n,               \
		    { __VA_ARGS__ }, NULL };                               \
		t.next = sa_tests;                                         \
		sa_tests = &t;                                             \
	}                                                                  \
	static void s##_##n(void)

#define sa_fail(cond, ...) do {                                            \
	fprintf(stderr, "%s:%d: assertion failed: %s;", __FILE__,          \
	    __LINE__, cond);                                               \
	fprintf(stderr, " " __VA_ARGS__);                                  \
	fputc('\n', stderr);                                               \
	_exit(1);                                                          \
} while (0)

#define cr_assert(c, ...) do { if (!(c)) sa_fail(#c, __VA_ARGS__); } while (0)
#define cr_assert_not(c, ...)    cr_assert(!(c), __VA_ARGS__)
#define cr_assert_eq(a, b, ...)  cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...)  cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...)  cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_null(p, ...)     cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)

struct sa_test *sa_tests;

static int
sa_run(struct sa_test *t)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return 0;
	if (pid == 0) {
		alarm(t->opts.timeout ? t->opts.timeout :
		    sa_suite_opts.timeout ? sa_suite_opts.timeout : 120);
		if (sa_suite_opts.init != NULL)
			sa_suite_opts.init();
		t->fn();
		if (sa_suite_opts.fini != NULL)
			sa_suite_opts.fini();
		exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 0;
	if (WIFSIGNALED(status))
		printf("# killed by signal %d\n", WTERMSIG(status));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int
main(void)
{
	int n = 0, failed = 0;

	for (struct sa_test *t = sa_tests; t != NULL; t = t->next)
		n++;
	printf("1..%d\n", n);
	fflush(stdout);
	n = 0;
	for (struct sa_test *t = sa_tests; t != NULL; t = t->next) {
		int ok = sa_run(t);
		printf("%sok %d - %s::%s\n", ok ? "" : "not ", ++n, t->suite,
		    t->name);
		fflush(stdout);
		failed += !ok;
	}
	return failed != 0;
}

#endif /* ML_STANDALONE_H */
