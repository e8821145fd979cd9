/* pthreads: mutex-protected and atomic counters under preemption, a
 * condition-variable ping-pong, thread-local storage, sleeping threads,
 * pthread_join results, and a signal sent to one thread. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define ITERS 20000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter, atomic_counter;
static int turn, rounds;
static __thread int tls_value;
static volatile sig_atomic_t usr1_hits;

static void *worker(void *arg)
{
    long id = (long)arg;
    tls_value = (int)id * 10;
    for (int i = 0; i < ITERS; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
        __atomic_fetch_add(&atomic_counter, 1, __ATOMIC_SEQ_CST);
    }
    struct timespec ts = {0, 1000000 * id};
    nanosleep(&ts, NULL);
    return (void *)(long)(tls_value + 1);
}

static void *pingpong(void *arg)
{
    int me = (int)(long)arg;
    for (int i = 0; i < 50; i++) {
        pthread_mutex_lock(&lock);
        while (turn != me) pthread_cond_wait(&cond, &lock);
        rounds++;
        turn = !me;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void on_usr1(int sig) { usr1_hits++; }

static void *waiter(void *arg)
{
    while (!usr1_hits) { struct timespec ts = {0, 1000000}; nanosleep(&ts, NULL); }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    long sum = 0;
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("counter %ld atomic %ld join-sum %ld main-tls %d\n", counter, atomic_counter, sum, tls_value);
    pthread_t a, b;
    pthread_create(&a, NULL, pingpong, (void *)0);
    pthread_create(&b, NULL, pingpong, (void *)1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("pingpong rounds %d\n", rounds);
    signal(SIGUSR1, on_usr1);
    pthread_t w;
    pthread_create(&w, NULL, waiter, NULL);
    pthread_kill(w, SIGUSR1);
    pthread_join(w, NULL);
    printf("usr1 hits %d\n", (int)usr1_hits);
    return 0;
}
