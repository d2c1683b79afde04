// Asterisk's side of FastAGI as res_agi plays it: a thread per channel, blocking sockets,
// the 22-line environment block of Asterisk 22, "200 result=1" to every command line, until
// the server closes. Far cheaper per call than a Python stand-in, as Asterisk is.
//
// usage: agi_client PORT CALLS CONCURRENCY [BURST] < caller-ids
// call i comes from line i of stdin (agi_callerid as sent, e.g. 0612345678; an empty
// stdin makes up numbers). Prints each call's latency in seconds, one per line, in call
// order; with BURST=1 the threads start each round of calls together (CALLS must then
// be a multiple of CONCURRENCY).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, calls, conc, burst;
static atomic_int next_call;
static double *lat;
static pthread_barrier_t barrier;
static char **caller_ids;
static int caller_count;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static void one(int i) {
    char env[1024], made_up[16];
    snprintf(made_up, sizeof made_up, "061%07d", (i * 7919) % 10000000);
    int n = snprintf(env, sizeof env,
        "agi_network: yes\nagi_network_script: recognize\nagi_request: agi://127.0.0.1:4573/recognize\n"
        "agi_channel: PJSIP/trunk-00000001\nagi_language: nl\nagi_type: PJSIP\nagi_uniqueid: %d.%d\n"
        "agi_version: 22.0.0\nagi_callerid: %s\nagi_calleridname: Caller\nagi_callingpres: 0\n"
        "agi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\nagi_dnid: 0201234567\n"
        "agi_rdnis: unknown\nagi_context: from-trunk\nagi_extension: 0201234567\nagi_priority: 2\n"
        "agi_enhanced: 0.0\nagi_accountcode: \nagi_threadid: 140245091038912\n\n", i, i,
        caller_count ? caller_ids[i % caller_count] : made_up);
    double t0 = now();
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one_ = 1; setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one_, sizeof one_);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); exit(1); }
    if (write(s, env, n) != n) { perror("write"); exit(1); }
    char buf[4096]; int have = 0;
    for (;;) {
        int r = read(s, buf + have, sizeof buf - have);
        if (r <= 0) break;
        have += r;
        char *nl;
        while ((nl = memchr(buf, '\n', have))) {
            if (write(s, "200 result=1\n", 13) != 13) break;  // the server hung up
            int used = nl - buf + 1; memmove(buf, nl + 1, have - used); have -= used;
        }
    }
    close(s);
    lat[i] = now() - t0;
}

static void *worker(void *arg) {
    (void)arg;
    for (;;) {
        if (burst) pthread_barrier_wait(&barrier);
        int i = atomic_fetch_add(&next_call, 1);
        if (i >= calls) return NULL;
        one(i);
    }
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s PORT CALLS CONCURRENCY [BURST]\n", argv[0]); return 2; }
    port = atoi(argv[1]); calls = atoi(argv[2]); conc = atoi(argv[3]); burst = argc > 4 && atoi(argv[4]);
    if (port < 1 || port > 65535) { fprintf(stderr, "PORT must be 1-65535\n"); return 2; }
    if (calls < 0) { fprintf(stderr, "CALLS must be 0 or more\n"); return 2; }
    if (conc < 1 || conc > 1024) { fprintf(stderr, "CONCURRENCY must be 1-1024\n"); return 2; }
    if (burst && calls % conc) {  // the last round would wait at the barrier for good
        fprintf(stderr, "with BURST, CALLS must be a multiple of CONCURRENCY\n");
        return 2;
    }
    lat = calloc(calls + 1, sizeof *lat);
    caller_ids = calloc(calls + 1, sizeof *caller_ids);
    char line[64];
    while (caller_count < calls && fgets(line, sizeof line, stdin)) {
        size_t end = strcspn(line, "\r\n");
        if (line[end] == 0 && !feof(stdin)) {
            fprintf(stderr, "caller id on line %d is longer than %zu characters\n",
                    caller_count + 1, sizeof line - 2);
            return 2;
        }
        line[end] = 0;
        caller_ids[caller_count++] = strdup(line);
    }
    pthread_barrier_init(&barrier, NULL, conc);
    pthread_t th[1024];
    for (int i = 0; i < conc; i++) pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < conc; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < calls; i++) printf("%.9f\n", lat[i]);
    return 0;
}
