/* migrated's counters in the Prometheus text format (served by api.c). */
#include "config.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "migrated.h"

static const double latency_bounds[LATENCY_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1,
						       0.25,  0.5,  1,	   5,	 30};

void metrics_observe_latency(struct migrated *md, double seconds)
{
	md->m.latency_sum += seconds;
	md->m.latency_count++;
	for (int i = 0; i < LATENCY_BUCKETS; i++)
		if (seconds <= latency_bounds[i])
			md->m.latency_le[i]++;
}

static void metric(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, v);
}

/* The plain counters of struct migrated_metrics, in the order /metrics lists them. */
struct counter {
	const char *name;
	size_t offset;
	const char *help;
};
#define COUNTER(field) offsetof(struct migrated_metrics, field)

static const struct counter counters_before_gauges[] = {
	{"tankworld_migration_passes_total", COUNTER(passes), "Scheduler passes run."},
	{"tankworld_migration_passes_skipped_total", COUNTER(passes_skipped),
	 "Ticks skipped because the previous pass was still running."},
	{"tankworld_migration_rolls_total", COUNTER(rolls), "Connections rolled."},
	{"tankworld_migration_hits_total", COUNTER(hits), "Rolls that started a migration."},
	{"tankworld_migration_rate_limited_total", COUNTER(rate_limited),
	 "Hits skipped by the global or per-connection rate limit."},
	{"tankworld_migration_refusals_total", COUNTER(connection_refusals),
	 "Definitive refusals by a connection's destination (each pauses it)."},
	{"tankworld_migration_connections_broken_total", COUNTER(connections_broken),
	 "Connections found broken: their destination tank was gone."},
	{"tankworld_migration_reservations_total", COUNTER(reserves),
	 "Fish reserved in simd's outbox for a remote destination."},
	{"tankworld_migration_reservation_refusals_total", COUNTER(reserve_refusals),
	 "Reservations simd refused (no fish, transfers disabled)."},
	{"tankworld_migration_local_moves_total", COUNTER(local_moves),
	 "Atomic moves between two tanks of this server."},
	{"tankworld_migration_local_move_refusals_total", COUNTER(local_move_refusals),
	 "Local moves refused (destination full, transfers disabled)."},
	{"tankworld_migration_cooldown_aborts_total", COUNTER(cooldown_aborts),
	 "Reservations aborted because the fish had moved in the same pass."},
	{"tankworld_migration_attempts_total", COUNTER(attempts),
	 "Delivery attempts announced to simd."},
	{"tankworld_migration_commits_total", COUNTER(commits),
	 "Transfers committed (remote deliveries and local moves)."},
	{"tankworld_migration_aborts_total", COUNTER(aborts),
	 "Transfers refused for good; the fish went back to its tank."},
	{"tankworld_migration_retries_total", COUNTER(retries),
	 "Steps retried after an unknown outcome or an unreachable daemon."},
	{"tankworld_migration_resumed_total", COUNTER(resumed),
	 "Outbox records taken up from simd's outbox listing."},
	{"tankworld_migration_unknown_destination_total", COUNTER(unknown_destination),
	 "Delivery attempts whose server discoveryd did not know."},
};

static const struct counter counters_after_gauges[] = {
	{"tankworld_migration_cascades_total", COUNTER(cascades),
	 "Connections removed because their tank was deleted."},
	{"tankworld_migration_exits_pushed_total", COUNTER(exits_pushes),
	 "Exit updates simd accepted."},
	{"tankworld_migration_sim_errors_total", COUNTER(sim_errors),
	 "Requests to simd without a usable answer."},
};

static void counters(FILE *f, const struct migrated_metrics *m, const struct counter *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		metric(f, c[i].name, "counter", c[i].help,
		       *(const uint64_t *)((const char *)m + c[i].offset));
}

#define COUNTERS(f, m, table) counters(f, m, table, sizeof table / sizeof table[0])

void metrics_write(struct migrated *md, size_t in_flight, FILE *f)
{
	const struct migrated_metrics *m = &md->m;
	COUNTERS(f, m, counters_before_gauges);
	metric(f, "tankworld_migration_in_flight", "gauge", "Transfers in flight.", in_flight);
	metric(f, "tankworld_migration_connections", "gauge", "Connections stored.",
	       connections_count(md->conns));
	COUNTERS(f, m, counters_after_gauges);
	fprintf(f, "# HELP tankworld_migration_delivery_seconds Reservation to commit, remote "
		   "transfers.\n# TYPE tankworld_migration_delivery_seconds histogram\n");
	for (int i = 0; i < LATENCY_BUCKETS; i++)
		fprintf(f, "tankworld_migration_delivery_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			latency_bounds[i], m->latency_le[i]);
	fprintf(f,
		"tankworld_migration_delivery_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
		"tankworld_migration_delivery_seconds_sum %.6f\n"
		"tankworld_migration_delivery_seconds_count %" PRIu64 "\n",
		m->latency_count, m->latency_sum, m->latency_count);
	struct history_io_stats hio;
	history_io_stats(md->history, &hio);
	metric(f, "tankworld_migration_history_lines_total", "counter",
	       "Lines appended to transfers.log.", hio.lines);
	metric(f, "tankworld_migration_history_write_errors_total", "counter",
	       "Failed appends to transfers.log.", hio.write_errors);
}
