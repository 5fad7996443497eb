/* What the daemon benchmarks (bench-discovery, bench-simd) share: starting the daemon
 * under test the way systemd would (its own NOTIFY_SOCKET to learn readiness and the
 * bound port), pinning it and the client to different CPUs, reading /proc for its CPU
 * time and memory, a keep-alive HTTP load generator on libevent, and latency
 * percentiles. Each benchmark keeps its workload and its checks; this is the harness.
 *
 * One daemon at a time: the time-limit alarm kills the one that runs now. Messages go to
 * stderr prefixed with bench_prog; "bench:" result lines are the benchmarks' own. */
#ifndef TW_BENCHLIB_H
#define TW_BENCHLIB_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "util.h" /* now_mono() */

/* ---- the program ------------------------------------------------------------------ */

/* The benchmark's name ("bench-simd"): the prefix of its messages and temporary folder.
 * Set by bench_init. */
extern const char *bench_prog;
/* The cluster token every benchmarked daemon gets (TCP is read-only without one);
 * loadgen_send and the benchmarks' own requests send it. */
extern const char bench_token[];

/* First thing in main(): names the program, line-buffers stdout, ignores SIGPIPE and
 * finds the daemon binary: $exe_env, else <build dir>/<exe_rel_path> where the build
 * directory is argv[1], else $abs_top_builddir, else ".". False (with a message) unless
 * that is executable. */
bool bench_init(const char *prog, int argc, char **argv, const char *exe_env,
		const char *exe_rel_path, char *exe, size_t exe_len);

/* "<bench_prog>: <message>\n" on stderr. */
void bench_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A tunable from the environment, clamped to [min, max]; def when unset or empty. */
double bench_env_double(const char *name, double def, double min, double max);

/* Exit 2 after `seconds` whatever happens, killing the daemon that runs then: a wedged
 * benchmark must not hang `make bench` nor leave a daemon behind. */
void bench_set_time_limit(unsigned seconds);

/* ---- /proc readings --------------------------------------------------------------- */

/* CPU seconds (user + system, all threads) process pid has used so far, or -1. */
double bench_cpu_seconds(pid_t pid);
/* CPU seconds of the daemon's main thread (its event loop) alone, from schedstat: a
 * cost per answer that other work on the machine and the tick threads do not blur. */
double bench_loop_cpu_s(pid_t pid);
/* The same for this process. */
double bench_self_cpu_seconds(void);
/* A "Key:   123 kB" field of /proc/PID/status ("VmRSS", "RssAnon"...) in MiB, or -1. */
double bench_status_mb(pid_t pid, const char *key);
/* Resident memory of pid in MiB, or -1. */
double bench_rss_mb(pid_t pid);
/* Seconds the main thread of pid (pid 0: the calling thread) has waited for a CPU while
 * runnable: how much other work on the machine took the CPU it is pinned to. */
double bench_run_delay_s(pid_t pid);

/* ---- latencies -------------------------------------------------------------------- */

struct latencies {
	double *s; /* seconds, one per answer */
	size_t n, cap;
};

void latencies_add(struct latencies *l, double seconds);
/* Sorts them; the two readers below need it. */
void latencies_sort(struct latencies *l);
/* The q-quantile (0.5, 0.99...) by nearest rank, in seconds; 0 when there are none. */
double latencies_quantile(const struct latencies *l, double q);
double latencies_max(const struct latencies *l);
void latencies_free(struct latencies *l);

/* ---- the daemon under test -------------------------------------------------------- */

struct bench_daemon {
	const char *name; /* "simd": for messages */
	const char *exe;
	char tmpdir[4096]; /* removed with everything below it by bench_daemon_cleanup() */
	char conf[4200];   /* an empty config file in tmpdir: settings come as --set */
	int notify_fd;
	char notify_path[sizeof((struct sockaddr_un *)0)->sun_path];
	int cpu, client_cpu; /* -1: not pinned (fewer than two CPUs) */
	pid_t pid;	     /* the instance running now, or -1 */
	int port;	     /* the port it announced with READY=1 */
	double ready_s;	     /* from just before fork to READY=1 */
	double ready_cpu_s;  /* CPU seconds it had used by READY=1 */
};

/* Makes the temporary folder (<tmp_parent>/tw-<bench_prog>.XXXXXX) with its empty
 * config file, binds the notify socket in it, picks a CPU for the daemon and one for
 * this process and pins this process to its own. False (cleaned up, with a message) on
 * failure. */
bool bench_daemon_setup(struct bench_daemon *d, const char *name, const char *exe,
			const char *tmp_parent);

/* Forks and execs argv (argv[0] the exe; its settings point into d->tmpdir) on the
 * daemon's CPU with a scrubbed environment, and waits up to timeout_s for READY=1 with
 * ", port N" in its STATUS. Returns the port, or -1 with a message; on -1 the process
 * may still run (d->pid > 0) for the caller to stop. */
int bench_daemon_start(struct bench_daemon *d, char *const argv[], double timeout_s);

/* bench_daemon_start with the usual command line: -c d->conf, state and runtime folders
 * in d->tmpdir, log level warning, advertised on 127.0.0.1, then each "section.key=value"
 * of the NULL-terminated sets (a later setting wins over an earlier one). */
int bench_daemon_start_sets(struct bench_daemon *d, const char *const sets[], double timeout_s);

/* Whether it still runs; says why when it has just exited. */
bool bench_daemon_alive(struct bench_daemon *d);

/* SIGTERM, then waits up to timeout_s for it to exit; true for exit status 0. *took (if
 * not NULL) is the time it needed. After timeout_s it is killed and false returned. */
bool bench_daemon_stop(struct bench_daemon *d, double timeout_s, double *took);

/* kill -9, and reap it. Nothing when none runs. */
void bench_daemon_kill(struct bench_daemon *d);

/* Reads and drops what the daemon sent to the notify socket: its sd_notify() blocks once
 * the socket's queue is full, so a long run must keep it empty. */
void bench_daemon_drain_notify(struct bench_daemon *d);

/* Sleeps for seconds while keeping the notify socket drained. */
void bench_daemon_idle(struct bench_daemon *d, double seconds);

/* Kills the daemon if it still runs, closes the notify socket, removes the folder. */
void bench_daemon_cleanup(struct bench_daemon *d);

/* ---- the load generator: keep-alive connections, one request in flight on each ----- */

#define LOADGEN_MAX_CONNS 256

struct bufferevent;
struct loadgen;

struct loadgen_conn {
	struct loadgen *lg;
	struct bufferevent *bev;
	bool busy, in_body;
	int status; /* of the answer handed to the job */
	size_t content_length;
	double sent_at; /* now_mono() when the request was written */
	long tag;	/* the job's own note about the request in flight */
};

struct loadgen {
	struct event_base *base;
	struct bench_daemon *daemon; /* watched every 100 ms, its notify socket drained */
	int n_conns, n_connected;
	struct loadgen_conn conns[LOADGEN_MAX_CONNS];
	bool failed, done, timed_out;
	/* The job. next: write the next request on c with loadgen_send (it may also write
	 * on other idle connections); false when c has nothing more to send. The run ends
	 * when next says false and every connection is idle. answer: the answer to c's
	 * request (status in c->status), received at t; a job that fails calls
	 * loadgen_fail. */
	bool (*next)(struct loadgen *lg, struct loadgen_conn *c);
	void (*answer)(struct loadgen *lg, struct loadgen_conn *c, const char *body, size_t len,
		       double t);
	void *job;
	struct event *child_timer, *deadline, *notify_ev;
};

/* n_conns connections to d's port; the run fails after deadline_s. Set next, answer and
 * job before loadgen_run. */
struct loadgen *loadgen_new(struct bench_daemon *d, int n_conns, double deadline_s);

/* Connects every connection; when all are up, asks next for a request on each and runs
 * until the job is done (true) or something failed (false). */
bool loadgen_run(struct loadgen *lg);

/* Closes the connections and frees the loop; timers made with loadgen_after first. */
void loadgen_free(struct loadgen *lg);

/* Writes a request (body: JSON, or NULL) on idle connection c. */
void loadgen_send(struct loadgen_conn *c, const char *method, const char *path, const char *body,
		  size_t body_len);

/* Says what went wrong and stops the run. */
void loadgen_fail(struct loadgen *lg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bool loadgen_all_idle(const struct loadgen *lg);

static inline int loadgen_conn_index(const struct loadgen_conn *c)
{
	return (int)(c - c->lg->conns);
}

/* Runs fn(arg) after s seconds on the run's loop; *ev is made on first use and reused,
 * the caller frees it (event_free) before loadgen_free. */
void loadgen_after(struct loadgen *lg, struct event **ev, double s, event_callback_fn fn, void *arg);

/* A blocking request on a connection of its own, for set-up and checks (not for the
 * measured load). token NULL sends none. Returns the status or -1 (with a message); on
 * success the body is in *ret (NUL-terminated, caller frees) and its length in *ret_len
 * (may be NULL). */
int bench_http(int port, const char *token, const char *method, const char *path, const char *body,
	       char **ret, size_t *ret_len);

#endif
