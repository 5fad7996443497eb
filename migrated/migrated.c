/* migrated's own state files: connections.json, written whole and atomically after
 * every change, read back at start; and the transfer history's log. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "log.h"
#include "migrated.h"
#include "statefile.h"
#include "util.h"
#include "xalloc.h"

static char *connections_text(struct migrated *md)
{
	json_object *state = connections_to_state(md->conns);
	char *text = xstrdup(jv_to_string(state));
	json_object_put(state);
	return text;
}

void migrated_save_connections(struct migrated *md)
{
	char *text = connections_text(md);
	state_writer_submit(md->conn_writer, text, strlen(text));
}

void migrated_save_connections_then(struct migrated *md, void (*done)(void *), void *arg)
{
	char *text = connections_text(md);
	state_writer_submit_then(md->conn_writer, text, strlen(text), done, arg);
}

static int decode_connections(void *arg, json_object *o, struct json_err *e)
{
	return connections_from_state(arg, o, e);
}

void migrated_load_connections(struct migrated *md)
{
	char moved[CONF_PATH + 64];
	struct json_err e;
	int r = state_file_load(md->conn_path, 64u << 20, decode_connections, md->conns, moved,
				sizeof moved, &e);
	if (r > 0)
		log_info("loaded %zu connection(s) from %s", connections_count(md->conns),
			 md->conn_path);
	if (r >= 0)
		return;
	/* Connections are the operator's configuration: keep the file that cannot be used
	 * (damaged, or written under another server_id) for them, say so loudly (log and
	 * /health), and start with none rather than not at all. */
	snprintf(md->conn_file_error, sizeof md->conn_file_error,
		 "%s cannot be used (%s); kept as %s; started without connections", md->conn_path,
		 e.msg, moved);
	log_err("%s", md->conn_file_error);
}

void migrated_open_history(struct migrated *md, const char *dir)
{
	struct history_load_stats hs;
	int herr = 0;
	md->history = history_new(&(struct history_opts){.dir = dir}, &hs, &herr);
	if (!md->history)
		fatal("cannot open the transfer log in %s: %s", dir, strerror(-herr));
	if (hs.lines)
		log_info("transfer history: %zu line(s) from %zu file(s), %zu transfer(s) in memory%s",
			 hs.lines, hs.files, history_count(md->history),
			 hs.bad_lines ? " (some damaged lines skipped)" : "");
	if (hs.bad_lines)
		log_warn("transfer history: %zu damaged line(s) skipped (a crash can cut the last "
			 "line short)",
			 hs.bad_lines);
}
