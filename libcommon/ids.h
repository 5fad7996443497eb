/* The ids of DESIGN §3 and how long they may be, once for every program. A _MAX counts
 * characters; a _LEN also counts the NUL, to size a buffer. */
#ifndef TW_IDS_H
#define TW_IDS_H

/* Fish and transfer ids (and tank ids made here): a UUID in text, 36 characters. */
#define UUID_STR_LEN 37
/* Tank ids: the server-id alphabet plus ">" and ":" (object_id_valid). */
#define TANK_ID_MAX 64
/* Server ids: [A-Za-z0-9][A-Za-z0-9._-]{0,63}. */
#define SERVER_ID_MAX 64
/* Connection ids: "<uuid>-><uuid>" fits. */
#define CONN_ID_MAX 128
/* The fish ids a reservation or a local move may be told not to take ("except"): those
 * that arrived in the tank during one migration pass, one per connection into it. */
#define PICK_EXCEPT_MAX 1024

#endif
