/* runner.h: scripted multi-thread tests. A runner is a real thread that
 * executes one function at a time on request, so a test can say "thread B
 * frees p now" and then assert exact counters, with no timing involved. */
#ifndef HAK_TEST_RUNNER_H
#define HAK_TEST_RUNNER_H

typedef struct hak_runner hak_runner;

hak_runner *runner_start(void);
/* Runs fn(arg) on the runner's thread and waits for it to return. */
void runner_call(hak_runner *r, void (*fn)(void *arg), void *arg);
/* Makes the thread exit (running pthread key destructors) and joins it. */
void runner_exit(hak_runner *r);

#endif
