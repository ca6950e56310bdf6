/*
 * sqlite.c — the SQLite backend of the store (see store.h, docs/storage.md).
 *
 * One database file, DIR/kervan.db, in WAL mode with synchronous=FULL, so a
 * commit returns only after the WAL has been fsync'ed. The schema is
 * versioned with PRAGMA user_version and brought up to date at open by an
 * ordered list of migrations, each in its own transaction. A lock file
 * (DIR/kervan.lock, flock) keeps a second process out.
 *
 * Connections: one write connection, used only by store.c's writer thread
 * (the w_* entries), and a small pool of read connections (query_only),
 * each read running in one read transaction so it sees one snapshot. Every
 * connection caches its prepared statements; the list query has one cached
 * statement per combination of filters.
 *
 * Migration 2 adds the exchange: the outbox (messages to other nodes, in
 * streams per receiver and MRN, with the delivery state of each stream's
 * head) and the inbox (messages received, applied once and in order per
 * sender and MRN, early ones parked). Their write helpers run inside the
 * carrying operation's savepoint, so a state change and its messages commit
 * together.
 *
 * Migration 3 adds the corridor: each event's chain fields, replicas of
 * other nodes' movements (movement.replica; (holder, LRN) unique among own
 * movements only), pending events recorded at a replica before the owner
 * orders them, and the countries off the itinerary an owner recorded as
 * holders (movement_peer).
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ident.h"

/* ---------------------------------------------------------------------------
 * Schema and migrations. migrations[i] takes user_version i to i + 1. Never
 * edit a migration that has shipped; add the next one.
 */

static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE meta (\n"
    "  key TEXT PRIMARY KEY NOT NULL,\n"
    "  value TEXT NOT NULL\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE TABLE mrn_counter (\n"
    "  year INTEGER PRIMARY KEY NOT NULL,\n"
    "  last INTEGER NOT NULL CHECK (last >= 1)\n"
    ") STRICT;\n"
    "CREATE TABLE movement (\n"
    "  mrn TEXT PRIMARY KEY NOT NULL CHECK (length(mrn) = 18),\n"
    "  holder TEXT NOT NULL,\n"
    "  lrn TEXT NOT NULL,\n"
    "  declaration TEXT NOT NULL,\n"
    "  decl_hash BLOB NOT NULL CHECK (length(decl_hash) = 32),\n"
    "  lodged_hash BLOB NOT NULL CHECK (length(lodged_hash) = 32),\n"
    "  office_departure TEXT NOT NULL,\n"
    "  office_destination TEXT NOT NULL,\n"
    "  security INTEGER NOT NULL CHECK (security BETWEEN 0 AND 3),\n"
    "  state TEXT NOT NULL,\n"
    "  flags INTEGER NOT NULL DEFAULT 0,\n"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),\n"
    "  created INTEGER NOT NULL,\n"
    "  limit_date INTEGER NOT NULL DEFAULT 0,\n"
    "  gross_mass TEXT NOT NULL DEFAULT '',\n"
    "  UNIQUE (holder, lrn)\n"
    ") STRICT;\n"
    "CREATE INDEX movement_by_created ON movement (created, mrn);\n"
    "CREATE INDEX movement_by_state ON movement (state, created, mrn);\n"
    "CREATE INDEX movement_by_holder ON movement (holder, created, mrn);\n"
    "CREATE TABLE movement_office (\n"
    "  mrn TEXT NOT NULL REFERENCES movement (mrn),\n"
    "  pos INTEGER NOT NULL,\n"
    "  office TEXT NOT NULL,\n"
    "  PRIMARY KEY (mrn, pos)\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE INDEX movement_office_by_office ON movement_office (office, mrn);\n"
    "CREATE TABLE event (\n"
    "  mrn TEXT NOT NULL REFERENCES movement (mrn),\n"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),\n"
    "  type TEXT NOT NULL,\n"
    "  time TEXT NOT NULL,\n"
    "  epoch INTEGER NOT NULL,\n"
    "  office TEXT NOT NULL DEFAULT '',\n"
    "  actor_role TEXT NOT NULL,\n"
    "  actor_id TEXT NOT NULL DEFAULT '',\n"
    "  body TEXT NOT NULL,\n"
    "  PRIMARY KEY (mrn, seq)\n"
    ") STRICT;\n"
    "CREATE TABLE guarantee (\n"
    "  grn TEXT PRIMARY KEY NOT NULL,\n"
    "  guarantor TEXT NOT NULL,\n"
    "  reference INTEGER NOT NULL CHECK (reference >= 0),\n"
    "  currency TEXT NOT NULL CHECK (length(currency) = 3),\n"
    "  reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= reference),\n"
    "  created INTEGER NOT NULL\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE TABLE reservation (\n"
    "  mrn TEXT NOT NULL REFERENCES movement (mrn),\n"
    "  grn TEXT NOT NULL REFERENCES guarantee (grn),\n"
    "  amount INTEGER NOT NULL CHECK (amount > 0),\n"
    "  currency TEXT NOT NULL,\n"
    "  reserved_at INTEGER NOT NULL,\n"
    "  released INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY (mrn, grn)\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE INDEX reservation_by_grn ON reservation (grn, released);\n"
    "CREATE TABLE token (\n"
    "  hash BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),\n"
    "  role TEXT NOT NULL,\n"
    "  subject TEXT NOT NULL DEFAULT '',\n"
    "  label TEXT NOT NULL DEFAULT '',\n"
    "  created INTEGER NOT NULL\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE TABLE movement_count (\n"
    "  state TEXT PRIMARY KEY NOT NULL,\n"
    "  n INTEGER NOT NULL CHECK (n >= 0)\n"
    ") STRICT, WITHOUT ROWID;\n",

    /* 2: the exchange — outbox (with its streams and per-receiver backlog)
     * and inbox (with its streams). Times in epoch milliseconds. */
    "CREATE TABLE outbox (\n"
    "  id TEXT NOT NULL UNIQUE CHECK (length(id) = 32),\n"
    "  receiver TEXT NOT NULL CHECK (length(receiver) = 2),\n"
    "  mrn TEXT NOT NULL CHECK (length(mrn) = 18),\n"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),\n"
    "  kind TEXT NOT NULL,\n"
    "  envelope BLOB NOT NULL,\n"
    "  signature TEXT NOT NULL DEFAULT '',\n"
    "  created INTEGER NOT NULL,\n"
    "  delivered INTEGER NOT NULL DEFAULT 0,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0,\n"
    "  UNIQUE (receiver, mrn, seq)\n"
    ") STRICT;\n"
    "CREATE INDEX outbox_by_delivered ON outbox (delivered) WHERE delivered > 0;\n"
    "CREATE TABLE outbox_stream (\n"
    "  receiver TEXT NOT NULL,\n"
    "  mrn TEXT NOT NULL,\n"
    "  enqueued INTEGER NOT NULL CHECK (enqueued >= 1),\n"
    "  delivered INTEGER NOT NULL DEFAULT 0 CHECK (delivered >= 0 AND delivered <= enqueued),\n"
    "  next_attempt INTEGER NOT NULL DEFAULT 0,\n"
    "  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),\n"
    "  last_error TEXT NOT NULL DEFAULT '',\n"
    "  PRIMARY KEY (receiver, mrn)\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE INDEX outbox_stream_due ON outbox_stream (next_attempt) "
    "WHERE delivered < enqueued;\n"
    "CREATE INDEX outbox_stream_due_by_receiver ON outbox_stream (receiver, next_attempt) "
    "WHERE delivered < enqueued;\n"
    "CREATE TABLE outbox_peer (\n"
    "  receiver TEXT PRIMARY KEY NOT NULL,\n"
    "  pending INTEGER NOT NULL CHECK (pending >= 0)\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE TABLE inbox (\n"
    "  id TEXT NOT NULL UNIQUE CHECK (length(id) = 32),\n"
    "  sender TEXT NOT NULL CHECK (length(sender) = 2),\n"
    "  mrn TEXT NOT NULL CHECK (length(mrn) = 18),\n"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),\n"
    "  kind TEXT NOT NULL,\n"
    "  hash BLOB NOT NULL CHECK (length(hash) = 32),\n"
    "  envelope BLOB NOT NULL,\n"
    "  signature TEXT NOT NULL DEFAULT '',\n"
    "  received INTEGER NOT NULL,\n"
    "  applied INTEGER NOT NULL DEFAULT 0,\n"
    "  UNIQUE (sender, mrn, seq)\n"
    ") STRICT;\n"
    "CREATE TABLE inbox_stream (\n"
    "  sender TEXT NOT NULL,\n"
    "  mrn TEXT NOT NULL,\n"
    "  applied INTEGER NOT NULL DEFAULT 0 CHECK (applied >= 0),\n"
    "  parked INTEGER NOT NULL DEFAULT 0 CHECK (parked >= 0),\n"
    "  PRIMARY KEY (sender, mrn)\n"
    ") STRICT, WITHOUT ROWID;\n"
    "CREATE INDEX inbox_stream_parked ON inbox_stream (sender, mrn) WHERE parked > 0;\n",

    /* 3: the corridor — each event's chain fields (NULL / '' for events
     * stored before: unsealed), replicas of other nodes' movements (the
     * movement table is rebuilt: SQLite cannot drop the UNIQUE (holder,
     * lrn) constraint, which now holds for this node's own movements only),
     * events recorded here and not yet ordered by the owner, and the
     * countries off the itinerary that asked for a movement. Runs with
     * foreign keys off (migrate), checked before it commits. */
    "ALTER TABLE event ADD COLUMN node TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE event ADD COLUMN keyid TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE event ADD COLUMN sig BLOB CHECK (sig IS NULL OR length(sig) = 64);\n"
    "ALTER TABLE event ADD COLUMN link BLOB CHECK (link IS NULL OR length(link) = 32);\n"
    "ALTER TABLE event ADD COLUMN order_keyid TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE event ADD COLUMN order_sig BLOB "
    "CHECK (order_sig IS NULL OR length(order_sig) = 64);\n"
    "CREATE TABLE movement_v3 (\n"
    "  mrn TEXT PRIMARY KEY NOT NULL CHECK (length(mrn) = 18),\n"
    "  holder TEXT NOT NULL,\n"
    "  lrn TEXT NOT NULL,\n"
    "  declaration TEXT NOT NULL,\n"
    "  decl_hash BLOB NOT NULL CHECK (length(decl_hash) = 32),\n"
    "  lodged_hash BLOB NOT NULL CHECK (length(lodged_hash) = 32),\n"
    "  office_departure TEXT NOT NULL,\n"
    "  office_destination TEXT NOT NULL,\n"
    "  security INTEGER NOT NULL CHECK (security BETWEEN 0 AND 3),\n"
    "  state TEXT NOT NULL,\n"
    "  flags INTEGER NOT NULL DEFAULT 0,\n"
    "  seq INTEGER NOT NULL CHECK (seq >= 1),\n"
    "  created INTEGER NOT NULL,\n"
    "  limit_date INTEGER NOT NULL DEFAULT 0,\n"
    "  gross_mass TEXT NOT NULL DEFAULT '',\n"
    "  replica INTEGER NOT NULL DEFAULT 0 CHECK (replica IN (0, 1))\n"
    ") STRICT;\n"
    "INSERT INTO movement_v3 (rowid, mrn, holder, lrn, declaration, decl_hash, lodged_hash, "
    "office_departure, office_destination, security, state, flags, seq, created, limit_date, "
    "gross_mass, replica) SELECT rowid, mrn, holder, lrn, declaration, decl_hash, lodged_hash, "
    "office_departure, office_destination, security, state, flags, seq, created, limit_date, "
    "gross_mass, 0 FROM movement ORDER BY rowid;\n"
    "DROP TABLE movement;\n"
    "ALTER TABLE movement_v3 RENAME TO movement;\n"
    "CREATE INDEX movement_by_created ON movement (created, mrn);\n"
    "CREATE INDEX movement_by_state ON movement (state, created, mrn);\n"
    "CREATE INDEX movement_by_holder ON movement (holder, created, mrn);\n"
    "CREATE UNIQUE INDEX movement_own_lrn ON movement (holder, lrn) WHERE replica = 0;\n"
    "CREATE TABLE pending_event (\n"
    "  mrn TEXT NOT NULL REFERENCES movement (mrn),\n"
    "  n INTEGER NOT NULL CHECK (n >= 1),\n"
    "  type TEXT NOT NULL,\n"
    "  time TEXT NOT NULL,\n"
    "  epoch INTEGER NOT NULL,\n"
    "  office TEXT NOT NULL DEFAULT '',\n"
    "  actor_role TEXT NOT NULL,\n"
    "  actor_id TEXT NOT NULL DEFAULT '',\n"
    "  body TEXT NOT NULL,\n"
    "  node TEXT NOT NULL CHECK (length(node) = 2),\n"
    "  keyid TEXT NOT NULL,\n"
    "  sig BLOB NOT NULL CHECK (length(sig) = 64),\n"
    "  created INTEGER NOT NULL,\n"
    "  PRIMARY KEY (mrn, n)\n"
    ") STRICT;\n"
    "CREATE TABLE movement_peer (\n"
    "  mrn TEXT NOT NULL REFERENCES movement (mrn),\n"
    "  country TEXT NOT NULL CHECK (length(country) = 2),\n"
    "  office TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  since INTEGER NOT NULL,\n"
    "  PRIMARY KEY (mrn, country)\n"
    ") STRICT, WITHOUT ROWID;\n",
};

#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* ---------------------------------------------------------------------------
 * Cached statements
 */

#define SUMMARY_COLS                                                                               \
    "m.mrn, m.lrn, m.holder, m.state, m.flags, m.office_departure, m.office_destination, "         \
    "m.created, m.limit_date, m.gross_mass, m.seq"
#define N_SUMMARY_COLS 11

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_FIND_LRN,
    ST_GUARANTEE_W,
    ST_COUNTER_NEXT,
    ST_MOVEMENT_INSERT,
    ST_OFFICE_INSERT,
    ST_EVENT_INSERT,
    ST_RESERVE,
    ST_RESERVATION_INSERT,
    ST_COUNT_ADD,
    ST_COUNT_SUB,
    ST_MOVEMENT_SEQ,
    ST_MOVEMENT_UPDATE,
    ST_MOVEMENT_AMEND,
    ST_MOVEMENT_LIMIT,
    ST_MOVEMENT_MASS,
    ST_UNRESERVE,
    ST_RESERVATION_RELEASE,
    ST_GUARANTEE_INSERT,
    ST_TOKEN_INSERT,
    ST_R_BEGIN,
    ST_R_END,
    ST_R_MOVEMENT,
    ST_R_OFFICES,
    ST_R_EVENTS,
    ST_R_RESERVATIONS,
    ST_R_GUARANTEE,
    ST_R_TOKEN,
    ST_R_COUNTS,
    /* the exchange: writer */
    ST_OB_STREAM_W,
    ST_OB_ID_EXISTS,
    ST_OB_INSERT,
    ST_OB_STREAM_PUT,
    ST_OB_PEER_ADD,
    ST_OB_HEAD,
    ST_OB_MARK_DONE,
    ST_OB_STREAM_DONE,
    ST_OB_PEER_SUB,
    ST_OB_STREAM_RETRY,
    ST_OB_PRUNE,
    ST_IB_FIND_W,
    ST_IB_STREAM_W,
    ST_IB_SEQ_W,
    ST_IB_INSERT,
    ST_IB_MARK_APPLIED,
    ST_IB_STREAM_APPLY,
    ST_IB_STREAM_PARK,
    /* schema 3: replicas, pending events, peers */
    ST_REPLICA_INSERT,
    ST_REPLICA_LINKS,
    ST_REPLICA_UPDATE,
    ST_MOVEMENT_STATE,
    ST_PENDING_STAT,
    ST_PENDING_INSERT,
    ST_PENDING_DELETE,
    ST_PEER_INSERT,
    ST_R_PENDING,
    ST_R_PEERS,
    /* the exchange: readers */
    ST_R_OB_SEQ,
    ST_R_OB_DUE_ALL,
    ST_R_OB_DUE_PEER,
    ST_R_OB_NEXT_ALL,
    ST_R_OB_NEXT_PEER,
    ST_R_OB_GET,
    ST_R_OB_BACKLOG,
    ST_R_IB_FIND,
    ST_R_IB_LAST,
    ST_R_IB_NEXT,
    ST_R_IB_READY,
    ST_COUNT
};

/* The columns of an outbox message as read (read_outbox_item). A stream's
 * attempts, next attempt and error belong to its head only. */
#define OUTBOX_COLS                                                                                \
    "o.id, o.receiver, o.kind, o.mrn, o.seq, o.envelope, o.signature, o.created, o.delivered, "    \
    "CASE WHEN o.delivered > 0 THEN o.attempts WHEN o.seq = s.delivered + 1 THEN s.attempts "      \
    "ELSE 0 END, "                                                                                 \
    "CASE WHEN o.delivered = 0 AND o.seq = s.delivered + 1 THEN s.next_attempt ELSE 0 END, "       \
    "CASE WHEN o.delivered = 0 AND o.seq = s.delivered + 1 THEN s.last_error ELSE '' END"
#define OUTBOX_HEAD_JOIN                                                                           \
    "FROM outbox_stream s JOIN outbox o ON o.receiver = s.receiver AND o.mrn = s.mrn "             \
    "AND o.seq = s.delivered + 1 "
/* The columns of an inbox message as read (read_inbox_record), then its envelope or NULL. */
#define INBOX_COLS                                                                                 \
    "i.id, i.sender, i.kind, i.mrn, i.seq, i.hash, i.received, i.applied, i.signature"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_SAVEPOINT] = "SAVEPOINT op",
    [ST_RELEASE] = "RELEASE op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO op",
    /* Own movements only: replicas are not lodged here (movement_own_lrn). */
    [ST_FIND_LRN] = "SELECT mrn, lodged_hash FROM movement WHERE holder = ?1 AND lrn = ?2 "
                    "AND replica = 0",
    [ST_GUARANTEE_W] = "SELECT reference, reserved, currency FROM guarantee WHERE grn = ?1",
    [ST_COUNTER_NEXT] = "INSERT INTO mrn_counter (year, last) VALUES (?1, 1) "
                        "ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last",
    [ST_MOVEMENT_INSERT] =
        "INSERT INTO movement (mrn, holder, lrn, declaration, decl_hash, lodged_hash, "
        "office_departure, office_destination, security, state, flags, seq, created, "
        "limit_date, gross_mass) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, "
        "?12, ?13)",
    [ST_OFFICE_INSERT] = "INSERT INTO movement_office (mrn, pos, office) VALUES (?1, ?2, ?3)",
    [ST_EVENT_INSERT] = "INSERT INTO event (mrn, seq, type, time, epoch, office, actor_role, "
                        "actor_id, body, node, keyid, sig, link, order_keyid, order_sig) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                        "?15)",
    [ST_RESERVE] = "UPDATE guarantee SET reserved = reserved + ?2 WHERE grn = ?1",
    [ST_RESERVATION_INSERT] = "INSERT INTO reservation (mrn, grn, amount, currency, "
                              "reserved_at, released) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
    [ST_COUNT_ADD] = "INSERT INTO movement_count (state, n) VALUES (?1, 1) "
                     "ON CONFLICT (state) DO UPDATE SET n = n + 1",
    [ST_COUNT_SUB] = "UPDATE movement_count SET n = n - 1 WHERE state = ?1",
    [ST_MOVEMENT_SEQ] = "SELECT seq, state, replica, lodged_hash FROM movement WHERE mrn = ?1",
    [ST_MOVEMENT_UPDATE] = "UPDATE movement SET state = ?2, flags = ?3, seq = ?4 WHERE mrn = ?1",
    [ST_MOVEMENT_AMEND] = "UPDATE movement SET state = ?2, flags = ?3, seq = ?4, "
                          "declaration = ?5, decl_hash = ?6 WHERE mrn = ?1",
    [ST_MOVEMENT_LIMIT] = "UPDATE movement SET limit_date = ?2 WHERE mrn = ?1",
    [ST_MOVEMENT_MASS] = "UPDATE movement SET gross_mass = ?2 WHERE mrn = ?1",
    [ST_UNRESERVE] = "UPDATE guarantee SET reserved = reserved - (SELECT r.amount FROM "
                     "reservation r WHERE r.mrn = ?1 AND r.grn = guarantee.grn AND "
                     "r.released = 0) WHERE grn IN (SELECT grn FROM reservation WHERE mrn = ?1 "
                     "AND released = 0)",
    [ST_RESERVATION_RELEASE] =
        "UPDATE reservation SET released = ?2 WHERE mrn = ?1 AND released = 0",
    [ST_GUARANTEE_INSERT] = "INSERT INTO guarantee (grn, guarantor, reference, currency, "
                            "reserved, created) VALUES (?1, ?2, ?3, ?4, 0, ?5) "
                            "ON CONFLICT (grn) DO NOTHING",
    [ST_TOKEN_INSERT] = "INSERT INTO token (hash, role, subject, label, created) "
                        "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (hash) DO NOTHING",
    [ST_R_BEGIN] = "BEGIN",
    [ST_R_END] = "ROLLBACK",
    [ST_R_MOVEMENT] = "SELECT " SUMMARY_COLS ", m.declaration, m.decl_hash, m.lodged_hash, "
                      "m.replica FROM movement m WHERE m.mrn = ?1",
    [ST_R_OFFICES] = "SELECT office FROM movement_office WHERE mrn = ?1 ORDER BY pos",
    [ST_R_EVENTS] = "SELECT seq, type, time, epoch, office, actor_role, actor_id, body, node, "
                    "keyid, sig, link, order_keyid, order_sig FROM event WHERE mrn = ?1 "
                    "ORDER BY seq",
    [ST_R_RESERVATIONS] = "SELECT grn, amount, currency, released FROM reservation "
                          "WHERE mrn = ?1 ORDER BY grn",
    [ST_R_GUARANTEE] =
        "SELECT g.grn, g.guarantor, g.reference, g.reserved, g.currency, g.created, "
        "(SELECT count(*) FROM reservation r WHERE r.grn = g.grn AND r.released = 0), "
        "(SELECT count(*) FROM reservation r WHERE r.grn = g.grn) "
        "FROM guarantee g WHERE g.grn = ?1",
    [ST_R_TOKEN] = "SELECT role, subject, label, created FROM token WHERE hash = ?1",
    [ST_R_COUNTS] = "SELECT state, n FROM movement_count",
    [ST_OB_STREAM_W] = "SELECT enqueued FROM outbox_stream WHERE receiver = ?1 AND mrn = ?2",
    [ST_OB_ID_EXISTS] = "SELECT 1 FROM outbox WHERE id = ?1",
    [ST_OB_INSERT] = "INSERT INTO outbox (id, receiver, mrn, seq, kind, envelope, signature, "
                     "created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_OB_STREAM_PUT] = "INSERT INTO outbox_stream (receiver, mrn, enqueued) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT (receiver, mrn) DO UPDATE SET enqueued = excluded.enqueued",
    [ST_OB_PEER_ADD] = "INSERT INTO outbox_peer (receiver, pending) VALUES (?1, 1) "
                       "ON CONFLICT (receiver) DO UPDATE SET pending = pending + 1",
    [ST_OB_HEAD] = "SELECT o.receiver, o.mrn, o.seq, o.delivered, s.delivered, s.attempts "
                   "FROM outbox o JOIN outbox_stream s ON s.receiver = o.receiver "
                   "AND s.mrn = o.mrn WHERE o.id = ?1",
    [ST_OB_MARK_DONE] = "UPDATE outbox SET delivered = ?2, attempts = ?3 WHERE id = ?1",
    [ST_OB_STREAM_DONE] = "UPDATE outbox_stream SET delivered = ?3, attempts = 0, "
                          "next_attempt = 0, last_error = '' WHERE receiver = ?1 AND mrn = ?2",
    [ST_OB_PEER_SUB] = "UPDATE outbox_peer SET pending = pending - 1 WHERE receiver = ?1",
    [ST_OB_STREAM_RETRY] = "UPDATE outbox_stream SET attempts = attempts + 1, next_attempt = ?3, "
                           "last_error = ?4 WHERE receiver = ?1 AND mrn = ?2",
    [ST_OB_PRUNE] = "DELETE FROM outbox WHERE rowid IN (SELECT rowid FROM outbox "
                    "WHERE delivered > 0 AND delivered < ?1 LIMIT ?2)",
    [ST_IB_FIND_W] = "SELECT sender, hash, applied FROM inbox WHERE id = ?1",
    [ST_IB_STREAM_W] = "SELECT applied, parked FROM inbox_stream WHERE sender = ?1 AND mrn = ?2",
    [ST_IB_SEQ_W] = "SELECT id FROM inbox WHERE sender = ?1 AND mrn = ?2 AND seq = ?3",
    [ST_IB_INSERT] = "INSERT INTO inbox (id, sender, mrn, seq, kind, hash, envelope, signature, "
                     "received, applied) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_IB_MARK_APPLIED] = "UPDATE inbox SET applied = ?2 WHERE id = ?1",
    [ST_IB_STREAM_APPLY] = "INSERT INTO inbox_stream (sender, mrn, applied, parked) "
                           "VALUES (?1, ?2, ?3, 0) ON CONFLICT (sender, mrn) DO UPDATE "
                           "SET applied = excluded.applied, parked = parked - ?4",
    [ST_IB_STREAM_PARK] = "INSERT INTO inbox_stream (sender, mrn, applied, parked) "
                          "VALUES (?1, ?2, 0, 1) ON CONFLICT (sender, mrn) DO UPDATE "
                          "SET parked = parked + 1",
    [ST_REPLICA_INSERT] =
        "INSERT INTO movement (mrn, holder, lrn, declaration, decl_hash, lodged_hash, "
        "office_departure, office_destination, security, state, flags, seq, created, "
        "limit_date, gross_mass, replica) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
        "?12, ?13, ?14, ?15, 1)",
    [ST_REPLICA_LINKS] = "SELECT seq, link FROM event WHERE mrn = ?1 ORDER BY seq",
    [ST_REPLICA_UPDATE] = "UPDATE movement SET declaration = ?2, decl_hash = ?3, state = ?4, "
                          "flags = ?5, seq = ?6, limit_date = ?7, gross_mass = ?8 WHERE mrn = ?1",
    [ST_MOVEMENT_STATE] = "UPDATE movement SET state = ?2, flags = ?3 WHERE mrn = ?1",
    [ST_PENDING_STAT] = "SELECT count(*), coalesce(max(n), 0) FROM pending_event WHERE mrn = ?1",
    [ST_PENDING_INSERT] = "INSERT INTO pending_event (mrn, n, type, time, epoch, office, "
                          "actor_role, actor_id, body, node, keyid, sig, created) VALUES (?1, ?2, "
                          "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [ST_PENDING_DELETE] = "DELETE FROM pending_event WHERE mrn = ?1 AND node = ?2 AND sig = ?3",
    [ST_PEER_INSERT] = "INSERT INTO movement_peer (mrn, country, office, kind, since) "
                       "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (mrn, country) DO NOTHING",
    [ST_R_PENDING] = "SELECT n, type, time, epoch, office, actor_role, actor_id, body, node, "
                     "keyid, sig FROM pending_event WHERE mrn = ?1 ORDER BY n",
    [ST_R_PEERS] = "SELECT country, office, kind, since FROM movement_peer WHERE mrn = ?1 "
                   "ORDER BY since, country",
    [ST_R_OB_SEQ] = "SELECT enqueued FROM outbox_stream WHERE receiver = ?1 AND mrn = ?2",
    [ST_R_OB_DUE_ALL] = "SELECT " OUTBOX_COLS " " OUTBOX_HEAD_JOIN
                        "WHERE s.delivered < s.enqueued AND s.next_attempt <= ?1 "
                        "ORDER BY s.next_attempt LIMIT ?3",
    [ST_R_OB_DUE_PEER] = "SELECT " OUTBOX_COLS " " OUTBOX_HEAD_JOIN
                         "WHERE s.delivered < s.enqueued AND s.receiver = ?2 "
                         "AND s.next_attempt <= ?1 ORDER BY s.next_attempt LIMIT ?3",
    [ST_R_OB_NEXT_ALL] = "SELECT min(next_attempt) FROM outbox_stream "
                         "WHERE delivered < enqueued AND next_attempt > ?1",
    [ST_R_OB_NEXT_PEER] = "SELECT min(next_attempt) FROM outbox_stream "
                          "WHERE delivered < enqueued AND receiver = ?2 AND next_attempt > ?1",
    [ST_R_OB_GET] = "SELECT " OUTBOX_COLS " FROM outbox o JOIN outbox_stream s "
                    "ON s.receiver = o.receiver AND s.mrn = o.mrn WHERE o.id = ?1",
    [ST_R_OB_BACKLOG] = "SELECT receiver, pending FROM outbox_peer WHERE pending > 0 "
                        "ORDER BY receiver",
    [ST_R_IB_FIND] = "SELECT " INBOX_COLS ", CASE WHEN ?2 THEN i.envelope END "
                     "FROM inbox i WHERE i.id = ?1",
    [ST_R_IB_LAST] = "SELECT applied, parked FROM inbox_stream WHERE sender = ?1 AND mrn = ?2",
    [ST_R_IB_NEXT] = "SELECT " INBOX_COLS ", i.envelope FROM inbox_stream t JOIN inbox i "
                     "ON i.sender = t.sender AND i.mrn = t.mrn AND i.seq = t.applied + 1 "
                     "WHERE t.sender = ?1 AND t.mrn = ?2 AND i.applied = 0",
    [ST_R_IB_READY] = "SELECT t.sender, t.mrn FROM inbox_stream t JOIN inbox i "
                      "ON i.sender = t.sender AND i.mrn = t.mrn AND i.seq = t.applied + 1 "
                      "WHERE t.parked > 0 AND i.applied = 0 LIMIT ?1",
};

/* List filters: one cached statement per combination. */
enum {
    LF_STATE = 1 << 0,
    LF_HOLDER = 1 << 1,
    LF_OFFICE = 1 << 2,
    LF_SINCE = 1 << 3,
    LF_OVERDUE = 1 << 4,
    LF_CURSOR = 1 << 5,
    LF_COMBOS = 1 << 6
};

struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    sqlite3_stmt *list[LF_COMBOS];
    unsigned index; /* in the read pool */
};

struct sq {
    struct conn w; /* the writer's */
    struct conn *readers;
    unsigned n_readers;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    unsigned *free_list; /* indexes of idle readers */
    unsigned n_free;
    bool pool_init;
    char country[3];
    int lock_fd;
    char dir[KV_STORE_PATH_MAX];
    char db_path[KV_STORE_PATH_MAX];
};

/* ---------------------------------------------------------------------------
 * Statement helpers
 */

/* Maps an SQLite result code to a KV_E* and writes "what: message". */
static int fail(struct conn *c, int src, char *detail, const char *what)
{
    kv_store_detail(detail, "%s: %s (%d)", what, c->db ? sqlite3_errmsg(c->db) : "no database",
                    src);
    switch (src & 0xff) {
    case SQLITE_NOMEM:
        return KV_ENOMEM;
    case SQLITE_TOOBIG:
        return KV_ELIMIT;
    default:
        return KV_EIO;
    }
}

static sqlite3_stmt *prep(struct conn *c, enum stmt_id id, char *detail, int *rc)
{
    if (!c->st[id]) {
        int r = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
                                   NULL);
        if (r != SQLITE_OK) {
            *rc = fail(c, r, detail, "cannot prepare a statement");
            c->st[id] = NULL;
            return NULL;
        }
    }
    return c->st[id];
}

/* Steps st when the previous result r was fine (SQLITE_OK after binding or
 * SQLITE_ROW); passes an error on unchanged. */
static int step_if(sqlite3_stmt *st, int r)
{
    return r == SQLITE_OK || r == SQLITE_ROW ? sqlite3_step(st) : r;
}

static void finish(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Binding with a sticky error: check b.rc once after binding everything. */
struct binder {
    sqlite3_stmt *st;
    int rc;
};

static void b_text(struct binder *b, int i, const char *v)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_text(b->st, i, v ? v : "", -1, SQLITE_STATIC);
}

static void b_textn(struct binder *b, int i, const char *v, size_t n)
{
    if (b->rc == SQLITE_OK)
        b->rc = n > INT_MAX ? SQLITE_TOOBIG : sqlite3_bind_text(b->st, i, v, (int)n, SQLITE_STATIC);
}

static void b_blob(struct binder *b, int i, const void *v, size_t n)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_blob(b->st, i, v, (int)n, SQLITE_STATIC);
}

static void b_int(struct binder *b, int i, int64_t v)
{
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_int64(b->st, i, v);
}

/* Steps a statement that returns no row, then resets it. */
static int exec_done(struct conn *c, sqlite3_stmt *st, int bind_rc, char *detail, const char *what)
{
    int rc = 0;
    if (bind_rc != SQLITE_OK) {
        rc = fail(c, bind_rc, detail, what);
    } else {
        int r = sqlite3_step(st);
        if (r != SQLITE_DONE && r != SQLITE_ROW)
            rc = fail(c, r, detail, what);
    }
    finish(st);
    return rc;
}

/* Runs a cached statement without parameters. */
static int exec_id(struct conn *c, enum stmt_id id, char *detail, const char *what)
{
    int rc = 0;
    sqlite3_stmt *st = prep(c, id, detail, &rc);
    if (!st)
        return rc;
    return exec_done(c, st, SQLITE_OK, detail, what);
}

/* Copies a text column into dst (size max), truncating; NULL becomes "". */
static void col_copy(char *dst, size_t max, sqlite3_stmt *st, int col)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    size_t n = v ? (size_t)sqlite3_column_bytes(st, col) : 0;
    if (n >= max)
        n = max - 1;
    if (n)
        memcpy(dst, v, n);
    dst[n] = '\0';
}

/* A NUL-terminated heap copy of the n bytes at v (v may be NULL when n is 0),
 * its length in *len; NULL when out of memory. */
static char *bytes_dup(const void *v, size_t n, size_t *len)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, v, n);
    p[n] = '\0';
    *len = n;
    return p;
}

/* A heap copy of a text column (NUL-terminated), its length in *len. */
static char *col_dup(sqlite3_stmt *st, int col, size_t *len)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    return bytes_dup(v, v ? (size_t)sqlite3_column_bytes(st, col) : 0, len);
}

static void read_summary(sqlite3_stmt *st, struct kv_movement_summary *m)
{
    col_copy(m->mrn, sizeof m->mrn, st, 0);
    col_copy(m->lrn, sizeof m->lrn, st, 1);
    col_copy(m->holder, sizeof m->holder, st, 2);
    col_copy(m->state, sizeof m->state, st, 3);
    m->flags = (unsigned)sqlite3_column_int64(st, 4);
    col_copy(m->office_departure, sizeof m->office_departure, st, 5);
    col_copy(m->office_destination, sizeof m->office_destination, st, 6);
    m->created = sqlite3_column_int64(st, 7);
    m->limit_date = sqlite3_column_int64(st, 8);
    col_copy(m->gross_mass, sizeof m->gross_mass, st, 9);
    m->seq = (uint32_t)sqlite3_column_int64(st, 10);
}

/* ---------------------------------------------------------------------------
 * Connections
 */

static int conn_open(struct sq *b, struct conn *c, bool writer, char *detail)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    int r = sqlite3_open_v2(b->db_path, &c->db, flags, NULL);
    if (r != SQLITE_OK)
        return fail(c, r, detail, "cannot open the database");
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, 5000);
    const char *pragmas = writer ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
                                   "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; "
                                   "PRAGMA wal_autocheckpoint = 8192;"
                                 : "PRAGMA query_only = 1;";
    r = sqlite3_exec(c->db, pragmas, NULL, NULL, NULL);
    if (r != SQLITE_OK)
        return fail(c, r, detail, "cannot configure the connection");
    if (writer) {
        /* journal_mode answers with the mode it got; insist on WAL. */
        sqlite3_stmt *st = NULL;
        r = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode", -1, &st, NULL);
        bool wal = r == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
                   strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
        sqlite3_finalize(st);
        if (!wal) {
            kv_store_detail(detail, "the database refused WAL mode");
            return KV_EIO;
        }
    }
    return 0;
}

static void conn_close(struct conn *c)
{
    for (size_t i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    for (size_t i = 0; i < LF_COMBOS; i++)
        sqlite3_finalize(c->list[i]);
    memset(c->st, 0, sizeof c->st);
    memset(c->list, 0, sizeof c->list);
    if (c->db)
        sqlite3_close(c->db);
    c->db = NULL;
}

static struct conn *reader_take(struct sq *b)
{
    pthread_mutex_lock(&b->pool_mu);
    while (b->n_free == 0)
        pthread_cond_wait(&b->pool_cv, &b->pool_mu);
    struct conn *c = &b->readers[b->free_list[--b->n_free]];
    pthread_mutex_unlock(&b->pool_mu);
    return c;
}

static void reader_give(struct sq *b, struct conn *c)
{
    /* A read that failed half-way may leave its transaction open. */
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_lock(&b->pool_mu);
    b->free_list[b->n_free++] = c->index;
    pthread_cond_signal(&b->pool_cv);
    pthread_mutex_unlock(&b->pool_mu);
}

/* ---------------------------------------------------------------------------
 * Open, migrate, close
 */

/* SQLITE_OK when no row of PRAGMA foreign_key_check, else SQLITE_CONSTRAINT. */
static int fk_clean(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL);
    if (r == SQLITE_OK) {
        r = sqlite3_step(st);
        r = r == SQLITE_DONE ? SQLITE_OK : r == SQLITE_ROW ? SQLITE_CONSTRAINT_FOREIGNKEY : r;
    }
    sqlite3_finalize(st);
    return r;
}

static int migrate_steps(struct sq *b, char *detail)
{
    struct conn *c = &b->w;
    for (;;) {
        int r = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (r != SQLITE_OK)
            return fail(c, r, detail, "cannot begin a migration");
        sqlite3_stmt *st = NULL;
        int version = -1;
        r = sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL);
        if (r == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (version < 0) {
            int rc = fail(c, r, detail, "cannot read the schema version");
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        if (version > SCHEMA_VERSION) {
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            kv_store_detail(detail, "%s has schema version %d; this program knows up to %d",
                            b->db_path, version, SCHEMA_VERSION);
            return KV_EVERSION;
        }
        if (version == SCHEMA_VERSION)
            return sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK
                       ? 0
                       : fail(c, SQLITE_ERROR, detail, "cannot end the migration check");
        char set[64];
        snprintf(set, sizeof set, "PRAGMA user_version = %d", version + 1);
        r = sqlite3_exec(c->db, migrations[version], NULL, NULL, NULL);
        if (r == SQLITE_OK)
            r = fk_clean(c->db);
        if (r == SQLITE_OK)
            r = sqlite3_exec(c->db, set, NULL, NULL, NULL);
        if (r == SQLITE_OK)
            r = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
        if (r != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof what, "migration to schema version %d failed", version + 1);
            int rc = fail(c, r, detail, what);
            if (!sqlite3_get_autocommit(c->db))
                sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
}

/*
 * Brings the schema up to date. Foreign keys are off while migrations run
 * (a migration may rebuild a parent table, as SQLite's ALTER TABLE
 * procedure asks) and each migration is checked with foreign_key_check
 * before it commits; they are on again afterwards.
 */
static int migrate(struct sq *b, char *detail)
{
    struct conn *c = &b->w;
    int r = sqlite3_exec(c->db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
    if (r != SQLITE_OK)
        return fail(c, r, detail, "cannot prepare the migration");
    int rc = migrate_steps(b, detail);
    r = sqlite3_exec(c->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (!rc && r != SQLITE_OK)
        rc = fail(c, r, detail, "cannot enable foreign keys");
    return rc;
}

/* Records the node's country at creation; refuses a database of another.
 * With no country given (b->country empty), takes the one recorded. */
static int check_country(struct sq *b, char *detail)
{
    struct conn *c = &b->w;
    sqlite3_stmt *st = NULL;
    int r;
    if (!b->country[0]) {
        r = sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE key = 'country'", -1, &st,
                               NULL);
        if (r == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            col_copy(b->country, sizeof b->country, st, 0);
        sqlite3_finalize(st);
        if (strlen(b->country) != 2) {
            kv_store_detail(detail, "%s records no node country", b->db_path);
            return KV_EINVAL;
        }
        return 0;
    }
    r = sqlite3_prepare_v2(c->db,
                           "INSERT INTO meta (key, value) VALUES ('country', ?1) "
                           "ON CONFLICT (key) DO NOTHING",
                           -1, &st, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_bind_text(st, 1, b->country, -1, SQLITE_STATIC);
    if (r == SQLITE_OK)
        r = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->db);
    sqlite3_finalize(st);
    if (r != SQLITE_OK)
        return fail(c, r, detail, "cannot record the node's country");
    char have[8] = "";
    r = sqlite3_prepare_v2(c->db, "SELECT value FROM meta WHERE key = 'country'", -1, &st, NULL);
    if (r == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        col_copy(have, sizeof have, st, 0);
    sqlite3_finalize(st);
    if (strcmp(have, b->country) != 0) {
        kv_store_detail(detail, "%s belongs to the node of %s, not %s", b->db_path, have,
                        b->country);
        return KV_EINVAL;
    }
    return 0;
}

static int sync_dir(const char *dir, char *detail)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        kv_store_detail(detail, "cannot sync %s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return KV_EIO;
    }
    close(fd);
    return 0;
}

static const char *sq_country(void *be)
{
    return ((struct sq *)be)->country;
}

static void sq_close(void *be)
{
    struct sq *b = be;
    if (!b)
        return;
    for (unsigned i = 0; i < b->n_readers; i++)
        conn_close(&b->readers[i]);
    conn_close(&b->w); /* last: it checkpoints the WAL into the database */
    if (b->pool_init) {
        pthread_cond_destroy(&b->pool_cv);
        pthread_mutex_destroy(&b->pool_mu);
    }
    if (b->lock_fd >= 0)
        close(b->lock_fd); /* releases the flock */
    free(b->readers);
    free(b->free_list);
    free(b);
}

static int sq_open(const struct kv_store_config *cfg, void **out, char *detail)
{
    *out = NULL;
    if (!sqlite3_threadsafe() || sqlite3_libversion_number() < 3037000) {
        kv_store_detail(detail,
                        "SQLite %s: 3.37 or later with thread support needed (STRICT "
                        "tables, RETURNING)",
                        sqlite3_libversion());
        return KV_EINVAL;
    }
    struct sq *b = calloc(1, sizeof *b);
    if (!b) {
        kv_store_detail(detail, "out of memory");
        return KV_ENOMEM;
    }
    b->lock_fd = -1;
    int rc = 0;
    if (cfg->country)
        memcpy(b->country, cfg->country, 2);
    int n = snprintf(b->dir, sizeof b->dir, "%s", cfg->path);
    int m = snprintf(b->db_path, sizeof b->db_path, "%s/kervan.db", cfg->path);
    char lock_path[KV_STORE_PATH_MAX];
    int l = snprintf(lock_path, sizeof lock_path, "%s/kervan.lock", cfg->path);
    if (n < 0 || m < 0 || l < 0 || (size_t)m >= sizeof b->db_path ||
        (size_t)l >= sizeof lock_path) {
        kv_store_detail(detail, "data folder path too long");
        rc = KV_EINVAL;
        goto fail;
    }
    struct stat sb;
    if (!cfg->country && stat(b->db_path, &sb) != 0) {
        kv_store_detail(detail, "%s has no kervan store (%s: %s)", b->dir, b->db_path,
                        strerror(errno));
        rc = errno == ENOENT ? KV_ENOTFOUND : KV_EIO;
        goto fail;
    }
    if (mkdir(b->dir, 0700) != 0 && errno != EEXIST) {
        kv_store_detail(detail, "cannot create %s: %s", b->dir, strerror(errno));
        rc = KV_EIO;
        goto fail;
    }
    b->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (b->lock_fd < 0) {
        kv_store_detail(detail, "cannot open %s: %s", lock_path, strerror(errno));
        rc = KV_EIO;
        goto fail;
    }
    if (flock(b->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        bool busy = errno == EWOULDBLOCK;
        kv_store_detail(detail, busy ? "%s is in use by another process" : "cannot lock %s: %s",
                        b->dir, strerror(errno));
        rc = busy ? KV_EBUSY : KV_EIO;
        goto fail;
    }

    rc = conn_open(b, &b->w, true, detail);
    if (rc)
        goto fail;
    rc = migrate(b, detail);
    if (rc)
        goto fail;
    rc = check_country(b, detail);
    if (rc)
        goto fail;
    /* SQLite syncs the directory when it creates the WAL, not when it
     * creates the database file itself. */
    rc = sync_dir(b->dir, detail);
    if (rc)
        goto fail;

    b->n_readers = cfg->readers;
    b->readers = calloc(b->n_readers, sizeof *b->readers);
    b->free_list = calloc(b->n_readers, sizeof *b->free_list);
    if (!b->readers || !b->free_list) {
        kv_store_detail(detail, "out of memory");
        rc = KV_ENOMEM;
        goto fail;
    }
    pthread_mutex_init(&b->pool_mu, NULL);
    pthread_cond_init(&b->pool_cv, NULL);
    b->pool_init = true;
    for (unsigned i = 0; i < b->n_readers; i++) {
        b->readers[i].index = i;
        rc = conn_open(b, &b->readers[i], false, detail);
        if (rc)
            goto fail;
        b->free_list[b->n_free++] = i;
    }
    *out = b;
    return 0;
fail:
    sq_close(b);
    return rc;
}

/* ---------------------------------------------------------------------------
 * The writer's transaction control
 */

static int sq_begin(void *be, char *detail)
{
    struct sq *b = be;
    return exec_id(&b->w, ST_BEGIN, detail, "cannot begin a transaction");
}

static int sq_commit(void *be, char *detail)
{
    struct sq *b = be;
    return exec_id(&b->w, ST_COMMIT, detail, "commit failed");
}

static void sq_rollback(void *be)
{
    struct sq *b = be;
    if (!sqlite3_get_autocommit(b->w.db))
        sqlite3_exec(b->w.db, "ROLLBACK", NULL, NULL, NULL);
}

static bool sq_in_txn(void *be)
{
    struct sq *b = be;
    return !sqlite3_get_autocommit(b->w.db);
}

static int sq_savepoint(void *be, char *detail)
{
    struct sq *b = be;
    return exec_id(&b->w, ST_SAVEPOINT, detail, "cannot open a savepoint");
}

static int sq_release(void *be, bool undo, char *detail)
{
    struct sq *b = be;
    if (undo) {
        int rc = exec_id(&b->w, ST_ROLLBACK_TO, detail, "cannot roll back a savepoint");
        if (rc)
            return rc;
    }
    return exec_id(&b->w, ST_RELEASE, detail, "cannot release a savepoint");
}

/* ---------------------------------------------------------------------------
 * Write operations (writer thread only)
 */

/* Adds one (up) or takes one (!up) from the count of movements in state. */
static int count_add(struct conn *c, const char *state, bool up, char *detail)
{
    int rc = 0;
    sqlite3_stmt *st = prep(c, up ? ST_COUNT_ADD : ST_COUNT_SUB, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, state);
    rc = exec_done(c, st, bd.rc, detail, "cannot count the movement");
    if (!rc && sqlite3_changes(c->db) != 1) {
        kv_store_detail(detail, "no movement was counted in state %s", state);
        rc = KV_EIO;
    }
    return rc;
}

static int event_insert(struct conn *c, const char *mrn, uint32_t seq, const struct kv_event_in *e,
                        char *detail)
{
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_EVENT_INSERT, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, mrn);
    b_int(&bd, 2, seq);
    b_text(&bd, 3, e->type);
    b_text(&bd, 4, e->time);
    b_int(&bd, 5, e->epoch);
    b_text(&bd, 6, e->office);
    b_text(&bd, 7, e->actor_role);
    b_text(&bd, 8, e->actor_id);
    b_textn(&bd, 9, e->json, e->json_len);
    /* Unsealed: '' and NULL, like the rows of schema 2. An event in the log
     * is ordered (store.c checked has_link). */
    const struct kv_event_seal *z = e->seal;
    b_text(&bd, 10, z ? z->node : NULL);
    b_text(&bd, 11, z ? z->keyid : NULL);
    b_blob(&bd, 12, z ? z->sig : NULL, KV_STORE_SIG_LEN);
    b_blob(&bd, 13, z && z->has_link ? z->link : NULL, KV_STORE_HASH_LEN);
    b_text(&bd, 14, z && z->has_link ? z->order_keyid : NULL);
    b_blob(&bd, 15, z && z->has_link ? z->order_sig : NULL, KV_STORE_SIG_LEN);
    return exec_done(c, st, bd.rc, detail, "cannot store the event");
}

/* What a writer knows of a movement before changing it (movement_read). */
struct mv_head {
    int64_t seq;
    char state[KV_STORE_STATE_MAX];
    bool replica;
    uint8_t lodged_hash[KV_STORE_HASH_LEN];
};

/* Binds mrn to the prepared movement query st and steps to its row: 0 with
 * the row ready to read; otherwise st is finished and the result is
 * KV_ENOTFOUND (no such movement) or the store's error. */
static int step_movement(struct conn *c, sqlite3_stmt *st, const char *mrn, char *detail)
{
    int r = sqlite3_bind_text(st, 1, mrn, -1, SQLITE_STATIC);
    r = r == SQLITE_OK ? sqlite3_step(st) : r;
    if (r == SQLITE_DONE) {
        finish(st);
        kv_store_detail(detail, "no movement %s", mrn);
        return KV_ENOTFOUND;
    }
    if (r != SQLITE_ROW) {
        finish(st);
        return fail(c, r, detail, "cannot read the movement");
    }
    return 0;
}

/* Reads the movement's head: KV_ENOTFOUND when there is none. */
static int movement_read(struct conn *c, const char *mrn, struct mv_head *h, char *detail)
{
    memset(h, 0, sizeof *h);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_MOVEMENT_SEQ, detail, &rc);
    if (!st)
        return rc;
    rc = step_movement(c, st, mrn, detail);
    if (rc)
        return rc;
    h->seq = sqlite3_column_int64(st, 0);
    col_copy(h->state, sizeof h->state, st, 1);
    h->replica = sqlite3_column_int64(st, 2) != 0;
    if (sqlite3_column_bytes(st, 3) == KV_STORE_HASH_LEN)
        memcpy(h->lodged_hash, sqlite3_column_blob(st, 3), KV_STORE_HASH_LEN);
    finish(st);
    return 0;
}

/* On a replica, an ordered event that happened here removes the pending
 * event it orders (same node, same origin signature). */
static int pending_settle(struct conn *c, const char *country, const char *mrn, bool replica,
                          const struct kv_event_seal *z, char *detail)
{
    if (!replica || !z || strcmp(z->node, country) != 0)
        return 0;
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_PENDING_DELETE, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, mrn);
    b_text(&bd, 2, z->node);
    b_blob(&bd, 3, z->sig, KV_STORE_SIG_LEN);
    return exec_done(c, st, bd.rc, detail, "cannot settle the pending event");
}

/* The declared offices in order (departure, further, destination), each once. */
static int offices_insert(struct conn *c, const char *mrn, const char *departure,
                          const char *const *further, size_t n_further, const char *destination,
                          char *detail)
{
    const char *offices[KV_STORE_OFFICES_MAX + 2];
    size_t n_off = 0;
    offices[n_off++] = departure;
    for (size_t i = 0; i < n_further && i < KV_STORE_OFFICES_MAX; i++)
        offices[n_off++] = further[i];
    offices[n_off++] = destination;
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_OFFICE_INSERT, detail, &rc);
    if (!st)
        return rc;
    int pos = 0;
    for (size_t i = 0; i < n_off; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(offices[i], offices[j]) == 0;
        if (seen)
            continue;
        struct binder bd = {st, SQLITE_OK};
        b_text(&bd, 1, mrn);
        b_int(&bd, 2, pos++);
        b_text(&bd, 3, offices[i]);
        rc = exec_done(c, st, bd.rc, detail, "cannot store the declared offices");
        if (rc)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * The exchange, writer side: the outbox and the inbox (writer thread only).
 * These run inside the caller's savepoint, so a lodge or append and the
 * messages it carries commit together, and a failure undoes both.
 */

/* Looks up one row's single integer column; *found says whether a row came. */
static int lookup_int(struct conn *c, sqlite3_stmt *st, int bind_rc, int64_t *v, bool *found,
                      char *detail, const char *what)
{
    *found = false;
    int r = bind_rc == SQLITE_OK ? sqlite3_step(st) : bind_rc;
    if (r == SQLITE_ROW) {
        *found = true;
        *v = sqlite3_column_int64(st, 0);
        r = SQLITE_DONE;
    }
    finish(st);
    return r == SQLITE_DONE ? 0 : fail(c, r, detail, what);
}

/*
 * Puts messages in the outbox, each the next of its (receiver, mrn) stream:
 * KV_ESTALE when a seq is not, KV_ECONFLICT when an id is already there.
 */
static int outbox_put(struct conn *c, const struct kv_outmsg *m, size_t n, int64_t created_ms,
                      char *detail)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = prep(c, ST_OB_ID_EXISTS, detail, &rc);
        if (!st)
            return rc;
        struct binder bd = {st, SQLITE_OK};
        b_text(&bd, 1, m[i].id);
        int64_t one = 0, last = 0;
        bool found = false;
        rc = lookup_int(c, st, bd.rc, &one, &found, detail, "cannot look up an outbox id");
        if (rc)
            return rc;
        if (found) {
            kv_store_detail(detail, "message %s is already in the outbox", m[i].id);
            return KV_ECONFLICT;
        }
        st = prep(c, ST_OB_STREAM_W, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, m[i].receiver);
        b_text(&bd, 2, m[i].mrn);
        rc = lookup_int(c, st, bd.rc, &last, &found, detail, "cannot read an outbox stream");
        if (rc)
            return rc;
        if ((int64_t)m[i].seq != last + 1) {
            kv_store_detail(detail,
                            "the stream to %s for %s is at seq %" PRId64
                            "; message %s has seq %" PRIu32 ", not %" PRId64,
                            m[i].receiver, m[i].mrn, last, m[i].id, m[i].seq, last + 1);
            return KV_ESTALE;
        }
        st = prep(c, ST_OB_INSERT, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, m[i].id);
        b_text(&bd, 2, m[i].receiver);
        b_text(&bd, 3, m[i].mrn);
        b_int(&bd, 4, m[i].seq);
        b_text(&bd, 5, m[i].kind);
        b_blob(&bd, 6, m[i].envelope, m[i].envelope_len);
        b_text(&bd, 7, m[i].signature);
        b_int(&bd, 8, created_ms);
        rc = exec_done(c, st, bd.rc, detail, "cannot put a message in the outbox");
        if (rc)
            return rc;
        st = prep(c, ST_OB_STREAM_PUT, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, m[i].receiver);
        b_text(&bd, 2, m[i].mrn);
        b_int(&bd, 3, m[i].seq);
        rc = exec_done(c, st, bd.rc, detail, "cannot advance an outbox stream");
        if (rc)
            return rc;
        st = prep(c, ST_OB_PEER_ADD, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, m[i].receiver);
        rc = exec_done(c, st, bd.rc, detail, "cannot count the backlog");
        if (rc)
            return rc;
    }
    return 0;
}

/* What the inbox knows of a message id (inbox_known). */
struct known {
    bool found, same, applied;
};

/* Is `in->id` in the inbox, with the same sender and bytes, applied or parked? */
static int inbox_known(struct conn *c, const struct kv_inbox_in *in, const uint8_t *hash,
                       struct known *k, char *detail)
{
    memset(k, 0, sizeof *k);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_IB_FIND_W, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, in->id);
    int r = bd.rc == SQLITE_OK ? sqlite3_step(st) : bd.rc;
    if (r == SQLITE_ROW) {
        const unsigned char *sender = sqlite3_column_text(st, 0);
        k->found = true;
        k->same = sender && strcmp((const char *)sender, in->sender) == 0 &&
                  sqlite3_column_bytes(st, 1) == KV_STORE_HASH_LEN &&
                  memcmp(sqlite3_column_blob(st, 1), hash, KV_STORE_HASH_LEN) == 0;
        k->applied = sqlite3_column_int64(st, 2) > 0;
        r = SQLITE_DONE;
    }
    finish(st);
    if (r != SQLITE_DONE)
        return fail(c, r, detail, "cannot look up an inbox id");
    if (k->found && !k->same) {
        kv_store_detail(detail, "message %s is known with another sender or other bytes", in->id);
        return KV_ECONFLICT;
    }
    return 0;
}

/* The (sender, mrn) stream's last applied seq and parked count (0, 0 when new). */
static int inbox_stream_read(struct conn *c, const char *sender, const char *mrn, int64_t *applied,
                             int64_t *parked, char *detail)
{
    *applied = *parked = 0;
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_IB_STREAM_W, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, sender);
    b_text(&bd, 2, mrn);
    int r = bd.rc == SQLITE_OK ? sqlite3_step(st) : bd.rc;
    if (r == SQLITE_ROW) {
        *applied = sqlite3_column_int64(st, 0);
        *parked = sqlite3_column_int64(st, 1);
        r = SQLITE_DONE;
    }
    finish(st);
    return r == SQLITE_DONE ? 0 : fail(c, r, detail, "cannot read an inbox stream");
}

/* KV_ECONFLICT when another id holds (sender, mrn, seq). */
static int inbox_seq_free(struct conn *c, const struct kv_inbox_in *in, char *detail)
{
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_IB_SEQ_W, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, in->sender);
    b_text(&bd, 2, in->mrn);
    b_int(&bd, 3, in->seq);
    int r = bd.rc == SQLITE_OK ? sqlite3_step(st) : bd.rc;
    char other[KV_STORE_MSG_ID_LEN + 1] = "";
    if (r == SQLITE_ROW) {
        col_copy(other, sizeof other, st, 0);
        r = SQLITE_DONE;
    }
    finish(st);
    if (r != SQLITE_DONE)
        return fail(c, r, detail, "cannot look up an inbox seq");
    if (other[0] && strcmp(other, in->id) != 0) {
        kv_store_detail(detail, "seq %" PRIu32 " of %s/%s is held by message %s, not %s", in->seq,
                        in->sender, in->mrn, other, in->id);
        return KV_ECONFLICT;
    }
    return 0;
}

static int inbox_insert(struct conn *c, const struct kv_inbox_in *in, const uint8_t *hash,
                        int64_t now_ms, bool applied, char *detail)
{
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_IB_INSERT, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, in->id);
    b_text(&bd, 2, in->sender);
    b_text(&bd, 3, in->mrn);
    b_int(&bd, 4, in->seq);
    b_text(&bd, 5, in->kind);
    b_blob(&bd, 6, hash, KV_STORE_HASH_LEN);
    b_blob(&bd, 7, in->envelope, in->envelope_len);
    b_text(&bd, 8, in->signature);
    b_int(&bd, 9, now_ms);
    b_int(&bd, 10, applied ? now_ms : 0);
    return exec_done(c, st, bd.rc, detail, "cannot record the received message");
}

/*
 * Records `in` as applied: once (KV_EDUPLICATE after), in seq order
 * (KV_EORDER while a predecessor is missing), never over another message's
 * id or seq (KV_ECONFLICT). A parked copy of it is marked applied.
 */
static int inbox_take(struct conn *c, const struct kv_inbox_in *in, const uint8_t *hash,
                      int64_t now_ms, char *detail)
{
    if (now_ms <= 0)
        now_ms = 1;
    struct known k;
    int rc = inbox_known(c, in, hash, &k, detail);
    if (rc)
        return rc;
    if (k.found && k.applied) {
        kv_store_detail(detail, "message %s from %s was applied before", in->id, in->sender);
        return KV_EDUPLICATE;
    }
    int64_t applied = 0, parked = 0;
    rc = inbox_stream_read(c, in->sender, in->mrn, &applied, &parked, detail);
    if (rc)
        return rc;
    if ((int64_t)in->seq <= applied) {
        kv_store_detail(detail, "seq %" PRIu32 " of %s/%s was applied with another message",
                        in->seq, in->sender, in->mrn);
        return KV_ECONFLICT;
    }
    if ((int64_t)in->seq > applied + 1) {
        kv_store_detail(detail, "waiting for seq %" PRId64 " of %s/%s; message %s has seq %" PRIu32,
                        applied + 1, in->sender, in->mrn, in->id, in->seq);
        return KV_EORDER;
    }
    sqlite3_stmt *st;
    struct binder bd;
    if (k.found) {
        st = prep(c, ST_IB_MARK_APPLIED, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, in->id);
        b_int(&bd, 2, now_ms);
        rc = exec_done(c, st, bd.rc, detail, "cannot mark the parked message applied");
    } else {
        rc = inbox_seq_free(c, in, detail);
        if (!rc)
            rc = inbox_insert(c, in, hash, now_ms, true, detail);
    }
    if (rc)
        return rc;
    st = prep(c, ST_IB_STREAM_APPLY, detail, &rc);
    if (!st)
        return rc;
    bd = (struct binder){st, SQLITE_OK};
    b_text(&bd, 1, in->sender);
    b_text(&bd, 2, in->mrn);
    b_int(&bd, 3, in->seq);
    b_int(&bd, 4, k.found ? 1 : 0);
    return exec_done(c, st, bd.rc, detail, "cannot advance the inbox stream");
}

static int sq_inbox_apply(void *be, const struct kv_inbox_in *in, const uint8_t *hash,
                          const struct kv_outmsg *out, size_t n_out, int64_t now_ms, char *detail)
{
    struct sq *b = be;
    int rc = inbox_take(&b->w, in, hash, now_ms, detail);
    if (!rc && n_out)
        rc = outbox_put(&b->w, out, n_out, now_ms, detail);
    return rc;
}

static int sq_inbox_park(void *be, const struct kv_inbox_in *in, const uint8_t *hash,
                         int64_t now_ms, uint32_t *waiting_for, char *detail)
{
    struct sq *b = be;
    struct conn *c = &b->w;
    struct known k;
    int rc = inbox_known(c, in, hash, &k, detail);
    if (rc)
        return rc;
    if (k.found) {
        kv_store_detail(detail, "message %s from %s is %s already", in->id, in->sender,
                        k.applied ? "applied" : "parked");
        return KV_EDUPLICATE;
    }
    int64_t applied = 0, parked = 0;
    rc = inbox_stream_read(c, in->sender, in->mrn, &applied, &parked, detail);
    if (rc)
        return rc;
    *waiting_for = (uint32_t)(applied + 1);
    if ((int64_t)in->seq <= applied) {
        kv_store_detail(detail, "seq %" PRIu32 " of %s/%s was applied with another message",
                        in->seq, in->sender, in->mrn);
        return KV_ECONFLICT;
    }
    if ((int64_t)in->seq == applied + 1) {
        kv_store_detail(detail, "seq %" PRIu32 " of %s/%s is the next expected: apply it", in->seq,
                        in->sender, in->mrn);
        return KV_ESTALE;
    }
    if ((int64_t)in->seq - applied > KV_STORE_PARK_AHEAD_MAX) {
        kv_store_detail(detail,
                        "seq %" PRIu32
                        " of %s/%s is more than %d ahead of the next expected (%" PRId64 ")",
                        in->seq, in->sender, in->mrn, KV_STORE_PARK_AHEAD_MAX, applied + 1);
        return KV_ELIMIT;
    }
    if (parked >= KV_STORE_PARKED_MAX) {
        kv_store_detail(detail, "%s/%s has %d messages parked already", in->sender, in->mrn,
                        KV_STORE_PARKED_MAX);
        return KV_ELIMIT;
    }
    rc = inbox_seq_free(c, in, detail);
    if (rc)
        return rc;
    rc = inbox_insert(c, in, hash, now_ms > 0 ? now_ms : 1, false, detail);
    if (rc)
        return rc;
    sqlite3_stmt *st = prep(c, ST_IB_STREAM_PARK, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, in->sender);
    b_text(&bd, 2, in->mrn);
    return exec_done(c, st, bd.rc, detail, "cannot count the parked message");
}

static int sq_outbox_enqueue(void *be, const struct kv_outmsg *msgs, size_t n, int64_t now_ms,
                             char *detail)
{
    struct sq *b = be;
    return outbox_put(&b->w, msgs, n, now_ms, detail);
}

/* One delivery result. Returns 0 or a logical error (KV_ENOTFOUND, KV_EORDER)
 * in *result, or an I/O error as its return value. */
static int settle_one(struct conn *c, const struct kv_outbox_settle *v, int64_t now_ms, int *result,
                      char *detail)
{
    *result = 0;
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_OB_HEAD, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, v->id);
    int r = bd.rc == SQLITE_OK ? sqlite3_step(st) : bd.rc;
    if (r == SQLITE_DONE) {
        finish(st);
        *result = KV_ENOTFOUND;
        return 0;
    }
    if (r != SQLITE_ROW) {
        finish(st);
        return fail(c, r, detail, "cannot read an outbox message");
    }
    char receiver[3], mrn[KV_MRN_LEN + 1];
    col_copy(receiver, sizeof receiver, st, 0);
    col_copy(mrn, sizeof mrn, st, 1);
    int64_t seq = sqlite3_column_int64(st, 2);
    int64_t delivered_at = sqlite3_column_int64(st, 3);
    int64_t head = sqlite3_column_int64(st, 4) + 1;
    int64_t attempts = sqlite3_column_int64(st, 5);
    finish(st);
    if (delivered_at > 0)
        return 0; /* settled before (a late duplicate result) */
    if (seq != head) {
        *result = KV_EORDER;
        return 0;
    }
    if (v->done) {
        st = prep(c, ST_OB_MARK_DONE, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, v->id);
        b_int(&bd, 2, now_ms);
        b_int(&bd, 3, attempts + 1);
        rc = exec_done(c, st, bd.rc, detail, "cannot mark a message delivered");
        if (rc)
            return rc;
        st = prep(c, ST_OB_STREAM_DONE, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, receiver);
        b_text(&bd, 2, mrn);
        b_int(&bd, 3, seq);
        rc = exec_done(c, st, bd.rc, detail, "cannot advance an outbox stream");
        if (rc)
            return rc;
        st = prep(c, ST_OB_PEER_SUB, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, receiver);
        return exec_done(c, st, bd.rc, detail, "cannot count the backlog");
    }
    char err[KV_STORE_ERROR_MAX] = "";
    if (v->error) {
        size_t n = strnlen(v->error, sizeof err - 1);
        memcpy(err, v->error, n);
        err[n] = '\0';
    }
    st = prep(c, ST_OB_STREAM_RETRY, detail, &rc);
    if (!st)
        return rc;
    bd = (struct binder){st, SQLITE_OK};
    b_text(&bd, 1, receiver);
    b_text(&bd, 2, mrn);
    b_int(&bd, 3, v->next_attempt_ms);
    b_text(&bd, 4, err);
    return exec_done(c, st, bd.rc, detail, "cannot record a failed attempt");
}

static int sq_outbox_settle(void *be, const struct kv_outbox_settle *v, size_t n, int64_t now_ms,
                            int *results, char *detail)
{
    struct sq *b = be;
    for (size_t i = 0; i < n; i++) {
        int r = 0;
        int rc = settle_one(&b->w, &v[i], now_ms, &r, detail);
        if (rc)
            return rc;
        if (results)
            results[i] = r;
    }
    return 0;
}

static int sq_outbox_prune(void *be, int64_t before_ms, unsigned limit, uint64_t *removed,
                           char *detail)
{
    struct sq *b = be;
    struct conn *c = &b->w;
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_OB_PRUNE, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_int(&bd, 1, before_ms);
    b_int(&bd, 2, limit);
    rc = exec_done(c, st, bd.rc, detail, "cannot prune the outbox");
    if (!rc)
        *removed = (uint64_t)sqlite3_changes(c->db);
    return rc;
}

/* A lodge's messages: the fixed ones, then those its builder makes for `mrn`. */
static int lodge_messages(struct sq *b, const struct kv_lodge *in, const char *mrn,
                          int64_t created_ms, char *detail)
{
    int rc = 0;
    if (in->n_out)
        rc = outbox_put(&b->w, in->out, in->n_out, created_ms, detail);
    if (rc || !in->build_out)
        return rc;
    struct kv_outmsg built[KV_STORE_OUT_MAX];
    size_t n = 0, room = KV_STORE_OUT_MAX - in->n_out;
    memset(built, 0, sizeof built);
    rc = in->build_out(in->build_ctx, mrn, built, room, &n);
    if (rc) {
        if (detail && !detail[0])
            kv_store_detail(detail, "the lodge's messages could not be built: %s",
                            kv_store_strerror(rc));
        return rc;
    }
    if (n > room) {
        kv_store_detail(detail, "the lodge's builder made %zu messages; room for %zu", n, room);
        return KV_EINVAL;
    }
    rc = kv_store_check_outmsgs(built, n, b->country, detail);
    if (!rc && n)
        rc = outbox_put(&b->w, built, n, created_ms, detail);
    return rc;
}

/* The uses of one GRN in a declaration, summed. */
struct grn_total {
    const char *grn;
    int64_t total;
    const char *currency; /* of the first use; a use in another currency fails */
    bool mixed;
};

/*
 * Checks every guarantee a lodge would use. Returns 0, KV_EFUNDS with
 * out->funds filled, or an I/O error.
 */
static int check_funds(struct conn *c, const struct kv_lodge *in, struct grn_total *tot,
                       size_t *n_tot, struct kv_lodge_result *out, char *detail)
{
    size_t n = 0;
    for (size_t i = 0; i < in->n_guarantees; i++) {
        const struct kv_guarantee_use *u = &in->guarantees[i];
        size_t j = 0;
        while (j < n && strcmp(tot[j].grn, u->grn) != 0)
            j++;
        if (j == n) {
            tot[n++] = (struct grn_total){u->grn, 0, u->currency, false};
        } else if (strcmp(tot[j].currency, u->currency) != 0) {
            tot[j].mixed = true;
        }
        tot[j].total += u->amount; /* <= 32 × 10^15: no overflow */
    }
    *n_tot = n;

    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_GUARANTEE_W, detail, &rc);
    if (!st)
        return rc;
    for (size_t j = 0; j < n; j++) {
        struct kv_funds_problem *f = &out->funds;
        struct binder bd = {st, SQLITE_OK};
        b_text(&bd, 1, tot[j].grn);
        int r = bd.rc == SQLITE_OK ? sqlite3_step(st) : bd.rc;
        if (r != SQLITE_ROW && r != SQLITE_DONE) {
            rc = fail(c, r, detail, "cannot read a guarantee");
            finish(st);
            return rc;
        }
        snprintf(f->grn, sizeof f->grn, "%s", tot[j].grn);
        f->requested = tot[j].total;
        if (r == SQLITE_DONE) {
            finish(st);
            f->why = KV_FUNDS_UNKNOWN;
            kv_store_detail(detail, "guarantee %s is not registered", tot[j].grn);
            return KV_EFUNDS;
        }
        int64_t reference = sqlite3_column_int64(st, 0);
        int64_t reserved = sqlite3_column_int64(st, 1);
        col_copy(f->currency, sizeof f->currency, st, 2);
        finish(st);
        f->remaining = reference - reserved;
        if (tot[j].mixed || strcmp(f->currency, tot[j].currency) != 0) {
            f->why = KV_FUNDS_CURRENCY;
            kv_store_detail(detail, "guarantee %s is in %s; the declaration uses it in %s",
                            tot[j].grn, f->currency,
                            tot[j].mixed ? "several currencies" : tot[j].currency);
            return KV_EFUNDS;
        }
        if (f->remaining < tot[j].total) {
            f->why = KV_FUNDS_SHORT;
            kv_store_detail(detail,
                            "guarantee %s: remaining %" PRId64 ".%02" PRId64
                            " %s, requested %" PRId64 ".%02" PRId64 " %s",
                            tot[j].grn, f->remaining / 100, f->remaining % 100, f->currency,
                            tot[j].total / 100, tot[j].total % 100, f->currency);
            return KV_EFUNDS;
        }
    }
    memset(&out->funds, 0, sizeof out->funds);
    return 0;
}

static int sq_lodge(void *be, const struct kv_lodge *in, int64_t now, struct kv_lodge_result *out,
                    char *detail)
{
    struct sq *b = be;
    struct conn *c = &b->w;
    int rc = 0;

    /* 1. Idempotency on (holder, LRN). */
    sqlite3_stmt *st = prep(c, ST_FIND_LRN, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, in->holder);
    b_text(&bd, 2, in->lrn);
    int r = bd.rc == SQLITE_OK ? sqlite3_step(st) : bd.rc;
    if (r == SQLITE_ROW) {
        col_copy(out->mrn, sizeof out->mrn, st, 0);
        bool same = sqlite3_column_bytes(st, 1) == KV_STORE_HASH_LEN &&
                    memcmp(sqlite3_column_blob(st, 1), in->hash, KV_STORE_HASH_LEN) == 0;
        finish(st);
        if (same) {
            out->replay = true;
            return 0;
        }
        kv_store_detail(detail, "LRN %s of %s was used for %s with another declaration", in->lrn,
                        in->holder, out->mrn);
        return KV_ECONFLICT;
    }
    finish(st);
    if (r != SQLITE_DONE)
        return fail(c, r, detail, "cannot look up the LRN");

    /* 2. Guarantees. */
    struct grn_total tot[KV_STORE_GUARANTEES_MAX];
    size_t n_tot = 0;
    rc = check_funds(c, in, tot, &n_tot, out, detail);
    if (rc)
        return rc;

    /* 3. The MRN. */
    st = prep(c, ST_COUNTER_NEXT, detail, &rc);
    if (!st)
        return rc;
    r = sqlite3_bind_int(st, 1, in->year);
    r = r == SQLITE_OK ? sqlite3_step(st) : r;
    if (r != SQLITE_ROW) {
        finish(st);
        return fail(c, r, detail, "cannot allocate an MRN serial");
    }
    int64_t serial = sqlite3_column_int64(st, 0);
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        ;
    finish(st);
    if (r != SQLITE_DONE)
        return fail(c, r, detail, "cannot allocate an MRN serial");
    if (serial < 1 || (uint64_t)serial > KV_MRN_SERIAL_MAX ||
        kv_mrn_make(out->mrn, in->year, b->country, (uint64_t)serial, in->security) != 0) {
        kv_store_detail(detail, "cannot build an MRN for year %d, serial %" PRId64, in->year,
                        serial);
        out->mrn[0] = '\0';
        return KV_EINVAL;
    }

    /* 4. The movement, its offices, its first event, its reservations. */
    st = prep(c, ST_MOVEMENT_INSERT, detail, &rc);
    if (!st)
        return rc;
    bd = (struct binder){st, SQLITE_OK};
    b_text(&bd, 1, out->mrn);
    b_text(&bd, 2, in->holder);
    b_text(&bd, 3, in->lrn);
    b_textn(&bd, 4, in->declaration, in->declaration_len);
    b_blob(&bd, 5, in->hash, KV_STORE_HASH_LEN);
    b_text(&bd, 6, in->office_departure);
    b_text(&bd, 7, in->office_destination);
    b_int(&bd, 8, in->security);
    b_text(&bd, 9, in->state);
    b_int(&bd, 10, in->flags);
    b_int(&bd, 11, now);
    b_int(&bd, 12, in->limit_date);
    b_text(&bd, 13, in->gross_mass);
    rc = exec_done(c, st, bd.rc, detail, "cannot store the movement");
    if (rc)
        return rc;

    rc = offices_insert(c, out->mrn, in->office_departure, in->offices, in->n_offices,
                        in->office_destination, detail);
    if (rc)
        return rc;

    /* The first event, sealed now that the MRN is known: link_0 is the
     * lodged declaration's hash. */
    struct kv_event_in first = in->event;
    struct kv_event_seal seal;
    if (in->seal_first) {
        memset(&seal, 0, sizeof seal);
        rc = in->seal_first(in->seal_ctx, out->mrn, &in->event, in->hash, &seal);
        if (rc) {
            if (detail && !detail[0])
                kv_store_detail(detail, "the first event could not be sealed: %s",
                                kv_store_strerror(rc));
            return rc;
        }
        /* The callback wrote fixed-size strings: make sure they end. */
        seal.node[sizeof seal.node - 1] = '\0';
        seal.keyid[sizeof seal.keyid - 1] = '\0';
        seal.order_keyid[sizeof seal.order_keyid - 1] = '\0';
        rc = kv_store_check_seal(&seal, true, "the first event's seal", detail);
        if (rc)
            return rc;
        first.seal = &seal;
    }
    rc = event_insert(c, out->mrn, 1, &first, detail);
    if (rc)
        return rc;

    for (size_t j = 0; j < n_tot; j++) {
        st = prep(c, ST_RESERVE, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, tot[j].grn);
        b_int(&bd, 2, tot[j].total);
        rc = exec_done(c, st, bd.rc, detail, "cannot reserve the guarantee");
        if (rc)
            return rc;
        st = prep(c, ST_RESERVATION_INSERT, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, out->mrn);
        b_text(&bd, 2, tot[j].grn);
        b_int(&bd, 3, tot[j].total);
        b_text(&bd, 4, tot[j].currency);
        b_int(&bd, 5, now);
        rc = exec_done(c, st, bd.rc, detail, "cannot record the reservation");
        if (rc)
            return rc;
    }
    rc = count_add(c, in->state, true, detail);
    if (rc)
        return rc;
    return lodge_messages(b, in, out->mrn, now * 1000, detail);
}

static bool releases_guarantees(const char *state)
{
    return strcmp(state, "written_off") == 0 || strcmp(state, "cancelled") == 0;
}

static int sq_append(void *be, const char *mrn, uint32_t expected_seq, const struct kv_append *ev,
                     int64_t now, char *detail)
{
    struct sq *b = be;
    struct conn *c = &b->w;
    int rc = 0;
    if (ev->inbox) {
        /* First: a duplicate must append nothing. */
        uint8_t hash[KV_STORE_HASH_LEN];
        kv_store_hash(ev->inbox->envelope, ev->inbox->envelope_len, hash);
        rc = inbox_take(c, ev->inbox, hash, now * 1000, detail);
        if (rc)
            return rc;
    }
    struct mv_head h;
    rc = movement_read(c, mrn, &h, detail);
    if (rc)
        return rc;
    const char *old_state = h.state;
    if (h.seq != (int64_t)expected_seq) {
        kv_store_detail(detail, "the log of %s is at seq %" PRId64 ", not %" PRIu32, mrn, h.seq,
                        expected_seq);
        return KV_ESTALE;
    }
    if (h.replica && !ev->event.seal) {
        kv_store_detail(detail, "%s is a replica: its events come sealed by the owner", mrn);
        return KV_EINVAL;
    }
    uint32_t next = expected_seq + 1;
    rc = event_insert(c, mrn, next, &ev->event, detail);
    if (!rc)
        rc = pending_settle(c, b->country, mrn, h.replica, ev->event.seal, detail);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    struct binder bd;

    bool amend = ev->declaration != NULL;
    st = prep(c, amend ? ST_MOVEMENT_AMEND : ST_MOVEMENT_UPDATE, detail, &rc);
    if (!st)
        return rc;
    bd = (struct binder){st, SQLITE_OK};
    b_text(&bd, 1, mrn);
    b_text(&bd, 2, ev->state);
    b_int(&bd, 3, ev->flags);
    b_int(&bd, 4, next);
    if (amend) {
        b_textn(&bd, 5, ev->declaration, ev->declaration_len);
        b_blob(&bd, 6, ev->hash, KV_STORE_HASH_LEN);
    }
    rc = exec_done(c, st, bd.rc, detail, "cannot update the movement");
    if (rc)
        return rc;
    if (ev->set_limit_date) {
        st = prep(c, ST_MOVEMENT_LIMIT, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, mrn);
        b_int(&bd, 2, ev->limit_date);
        rc = exec_done(c, st, bd.rc, detail, "cannot update the limit date");
        if (rc)
            return rc;
    }
    if (amend && ev->gross_mass) {
        st = prep(c, ST_MOVEMENT_MASS, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, mrn);
        b_text(&bd, 2, ev->gross_mass);
        rc = exec_done(c, st, bd.rc, detail, "cannot update the gross mass");
        if (rc)
            return rc;
    }

    if (releases_guarantees(ev->state)) {
        /* Guarantee totals first: they read the still-active reservations. */
        st = prep(c, ST_UNRESERVE, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, mrn);
        rc = exec_done(c, st, bd.rc, detail, "cannot release the guarantees");
        if (rc)
            return rc;
        st = prep(c, ST_RESERVATION_RELEASE, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, mrn);
        b_int(&bd, 2, now > 0 ? now : 1);
        rc = exec_done(c, st, bd.rc, detail, "cannot release the reservations");
        if (rc)
            return rc;
    }
    if (strcmp(old_state, ev->state) != 0) {
        rc = count_add(c, old_state, false, detail);
        if (!rc)
            rc = count_add(c, ev->state, true, detail);
    }
    if (!rc && ev->n_out)
        rc = outbox_put(c, ev->out, ev->n_out, now * 1000, detail);
    return rc;
}

/* Moves a movement from one state's count to another's (nothing when equal). */
static int count_move(struct conn *c, const char *from, const char *to, char *detail)
{
    if (strcmp(from, to) == 0)
        return 0;
    int rc = count_add(c, from, false, detail);
    return rc ? rc : count_add(c, to, true, detail);
}

/*
 * A replica's stored log against the message's: its events 1..m must be
 * the message's first m, link for link. *m gets the stored count.
 */
static int replica_prefix(struct conn *c, const struct kv_replica *r, int64_t *m, char *detail)
{
    *m = 0;
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_REPLICA_LINKS, detail, &rc);
    if (!st)
        return rc;
    int r_ = sqlite3_bind_text(st, 1, r->mrn, -1, SQLITE_STATIC);
    while ((r_ = step_if(st, r_)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        size_t i = (size_t)*m;
        bool same =
            seq == *m + 1 && i < r->n_events && sqlite3_column_bytes(st, 1) == KV_STORE_HASH_LEN &&
            memcmp(sqlite3_column_blob(st, 1), r->events[i].seal->link, KV_STORE_HASH_LEN) == 0;
        if (!same) {
            finish(st);
            if (i >= r->n_events)
                kv_store_detail(detail,
                                "replica %s holds more events than the message (%zu): not a "
                                "prefix",
                                r->mrn, r->n_events);
            else
                kv_store_detail(detail, "replica %s: event %" PRId64 " differs from the message's",
                                r->mrn, seq);
            return KV_ECONFLICT;
        }
        (*m)++;
    }
    finish(st);
    return r_ == SQLITE_DONE ? 0 : fail(c, r_, detail, "cannot read the replica's log");
}

static int sq_replica_put(void *be, const struct kv_replica *r, int64_t now, char *detail)
{
    struct sq *b = be;
    struct conn *c = &b->w;
    /* First: a duplicate must change nothing. */
    uint8_t ih[KV_STORE_HASH_LEN];
    kv_store_hash(r->inbox->envelope, r->inbox->envelope_len, ih);
    int rc = inbox_take(c, r->inbox, ih, now * 1000, detail);
    if (rc)
        return rc;
    struct mv_head h;
    rc = movement_read(c, r->mrn, &h, detail);
    if (rc && rc != KV_ENOTFOUND)
        return rc;
    bool fresh = rc == KV_ENOTFOUND;
    if (detail)
        detail[0] = '\0';
    int64_t m = 0;
    sqlite3_stmt *st;
    struct binder bd;
    if (fresh) {
        st = prep(c, ST_REPLICA_INSERT, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, r->mrn);
        b_text(&bd, 2, r->holder);
        b_text(&bd, 3, r->lrn);
        b_textn(&bd, 4, r->declaration, r->declaration_len);
        b_blob(&bd, 5, r->hash, KV_STORE_HASH_LEN);
        b_blob(&bd, 6, r->link0, KV_STORE_HASH_LEN);
        b_text(&bd, 7, r->office_departure);
        b_text(&bd, 8, r->office_destination);
        b_int(&bd, 9, r->security);
        b_text(&bd, 10, r->state);
        b_int(&bd, 11, r->flags);
        b_int(&bd, 12, (int64_t)r->n_events);
        b_int(&bd, 13, r->created);
        b_int(&bd, 14, r->limit_date);
        b_text(&bd, 15, r->gross_mass);
        rc = exec_done(c, st, bd.rc, detail, "cannot store the replica");
        if (!rc)
            rc = offices_insert(c, r->mrn, r->office_departure, r->offices, r->n_offices,
                                r->office_destination, detail);
        if (!rc)
            rc = count_add(c, r->state, true, detail);
        if (rc)
            return rc;
    } else {
        if (!h.replica) {
            kv_store_detail(detail, "%s is a movement of this node, not a replica", r->mrn);
            return KV_EINVAL;
        }
        if (memcmp(h.lodged_hash, r->link0, KV_STORE_HASH_LEN) != 0) {
            kv_store_detail(detail, "replica %s was lodged with another declaration (link0)",
                            r->mrn);
            return KV_ECONFLICT;
        }
        rc = replica_prefix(c, r, &m, detail);
        if (rc)
            return rc;
        if (m != h.seq) {
            kv_store_detail(detail, "replica %s: seq %" PRId64 " but %" PRId64 " events", r->mrn,
                            h.seq, m);
            return KV_ECORRUPT;
        }
    }
    for (size_t i = (size_t)m; i < r->n_events; i++) {
        rc = event_insert(c, r->mrn, (uint32_t)(i + 1), &r->events[i], detail);
        if (!rc)
            rc = pending_settle(c, b->country, r->mrn, true, r->events[i].seal, detail);
        if (rc)
            return rc;
    }
    if (!fresh) {
        st = prep(c, ST_REPLICA_UPDATE, detail, &rc);
        if (!st)
            return rc;
        bd = (struct binder){st, SQLITE_OK};
        b_text(&bd, 1, r->mrn);
        b_textn(&bd, 2, r->declaration, r->declaration_len);
        b_blob(&bd, 3, r->hash, KV_STORE_HASH_LEN);
        b_text(&bd, 4, r->state);
        b_int(&bd, 5, r->flags);
        b_int(&bd, 6, (int64_t)r->n_events);
        b_int(&bd, 7, r->limit_date);
        b_text(&bd, 8, r->gross_mass);
        rc = exec_done(c, st, bd.rc, detail, "cannot refresh the replica");
        if (!rc)
            rc = count_move(c, h.state, r->state, detail);
        if (rc)
            return rc;
    }
    return r->n_out ? outbox_put(c, r->out, r->n_out, now * 1000, detail) : 0;
}

static int sq_pending_add(void *be, const char *mrn, uint32_t expected_seq,
                          uint32_t expected_pending, const struct kv_event_in *ev,
                          const char *state, unsigned flags, const struct kv_outmsg *out,
                          size_t n_out, int64_t now, char *detail)
{
    struct sq *b = be;
    struct conn *c = &b->w;
    struct mv_head h;
    int rc = movement_read(c, mrn, &h, detail);
    if (rc)
        return rc;
    if (!h.replica) {
        kv_store_detail(detail, "%s is not a replica: its events are appended", mrn);
        return KV_EINVAL;
    }
    sqlite3_stmt *st = prep(c, ST_PENDING_STAT, detail, &rc);
    if (!st)
        return rc;
    int r = sqlite3_bind_text(st, 1, mrn, -1, SQLITE_STATIC);
    r = r == SQLITE_OK ? sqlite3_step(st) : r;
    if (r != SQLITE_ROW) {
        finish(st);
        return fail(c, r, detail, "cannot count the pending events");
    }
    int64_t n_pending = sqlite3_column_int64(st, 0);
    int64_t last_n = sqlite3_column_int64(st, 1);
    finish(st);
    if (h.seq != (int64_t)expected_seq || n_pending != (int64_t)expected_pending) {
        kv_store_detail(detail,
                        "%s is at seq %" PRId64 " with %" PRId64 " pending, not %" PRIu32
                        " with %" PRIu32,
                        mrn, h.seq, n_pending, expected_seq, expected_pending);
        return KV_ESTALE;
    }
    st = prep(c, ST_PENDING_INSERT, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, mrn);
    b_int(&bd, 2, last_n + 1);
    b_text(&bd, 3, ev->type);
    b_text(&bd, 4, ev->time);
    b_int(&bd, 5, ev->epoch);
    b_text(&bd, 6, ev->office);
    b_text(&bd, 7, ev->actor_role);
    b_text(&bd, 8, ev->actor_id);
    b_textn(&bd, 9, ev->json, ev->json_len);
    b_text(&bd, 10, ev->seal->node);
    b_text(&bd, 11, ev->seal->keyid);
    b_blob(&bd, 12, ev->seal->sig, KV_STORE_SIG_LEN);
    b_int(&bd, 13, now);
    rc = exec_done(c, st, bd.rc, detail, "cannot store the pending event");
    if (rc)
        return rc;
    st = prep(c, ST_MOVEMENT_STATE, detail, &rc);
    if (!st)
        return rc;
    bd = (struct binder){st, SQLITE_OK};
    b_text(&bd, 1, mrn);
    b_text(&bd, 2, state);
    b_int(&bd, 3, flags);
    rc = exec_done(c, st, bd.rc, detail, "cannot update the movement");
    if (!rc)
        rc = count_move(c, h.state, state, detail);
    if (!rc && n_out)
        rc = outbox_put(c, out, n_out, now * 1000, detail);
    return rc;
}

static int sq_peer_add(void *be, const char *mrn, const char *country, const char *office,
                       const char *kind, const struct kv_inbox_in *claim,
                       const struct kv_outmsg *out, size_t n_out, int64_t now, char *detail)
{
    struct sq *b = be;
    struct conn *c = &b->w;
    int rc = 0;
    if (claim) {
        /* First: a duplicate must change nothing. */
        uint8_t ih[KV_STORE_HASH_LEN];
        kv_store_hash(claim->envelope, claim->envelope_len, ih);
        rc = inbox_take(c, claim, ih, now * 1000, detail);
        if (rc)
            return rc;
    }
    struct mv_head h;
    rc = movement_read(c, mrn, &h, detail);
    if (rc)
        return rc;
    if (h.replica) {
        kv_store_detail(detail, "%s is a replica: only its owner records who holds it", mrn);
        return KV_EINVAL;
    }
    sqlite3_stmt *st = prep(c, ST_PEER_INSERT, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, mrn);
    b_text(&bd, 2, country);
    b_text(&bd, 3, office);
    b_text(&bd, 4, kind);
    b_int(&bd, 5, now);
    rc = exec_done(c, st, bd.rc, detail, "cannot record the peer");
    if (!rc && n_out)
        rc = outbox_put(c, out, n_out, now * 1000, detail);
    return rc;
}

static int sq_guarantee_register(void *be, const struct kv_guarantee_reg *g, int64_t now,
                                 bool *created, char *detail)
{
    struct sq *b = be;
    struct conn *c = &b->w;
    int rc = 0;
    *created = false;
    sqlite3_stmt *st = prep(c, ST_GUARANTEE_INSERT, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_text(&bd, 1, g->grn);
    b_text(&bd, 2, g->guarantor);
    b_int(&bd, 3, g->reference);
    b_text(&bd, 4, g->currency);
    b_int(&bd, 5, now);
    rc = exec_done(c, st, bd.rc, detail, "cannot store the guarantee");
    if (rc)
        return rc;
    if (sqlite3_changes(c->db) == 1) {
        *created = true;
        return 0;
    }
    /* It exists: the same figures make this a replay. */
    sqlite3_stmt *q = NULL;
    int r = sqlite3_prepare_v2(
        c->db, "SELECT guarantor, reference, currency FROM guarantee WHERE grn = ?1", -1, &q, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_bind_text(q, 1, g->grn, -1, SQLITE_STATIC);
    if (r == SQLITE_OK)
        r = sqlite3_step(q);
    if (r != SQLITE_ROW) {
        rc = fail(c, r, detail, "cannot read the guarantee");
        sqlite3_finalize(q);
        return rc;
    }
    const char *guarantor = (const char *)sqlite3_column_text(q, 0);
    const char *currency = (const char *)sqlite3_column_text(q, 2);
    bool same = guarantor && currency && strcmp(guarantor, g->guarantor) == 0 &&
                sqlite3_column_int64(q, 1) == g->reference && strcmp(currency, g->currency) == 0;
    sqlite3_finalize(q);
    if (!same) {
        kv_store_detail(detail,
                        "guarantee %s is registered with another guarantor, amount "
                        "or currency",
                        g->grn);
        return KV_ECONFLICT;
    }
    return 0;
}

static int sq_token_add(void *be, const uint8_t *hash, const char *role, const char *subject,
                        const char *label, int64_t now, char *detail)
{
    struct sq *b = be;
    struct conn *c = &b->w;
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_TOKEN_INSERT, detail, &rc);
    if (!st)
        return rc;
    struct binder bd = {st, SQLITE_OK};
    b_blob(&bd, 1, hash, KV_STORE_HASH_LEN);
    b_text(&bd, 2, role);
    b_text(&bd, 3, subject);
    b_text(&bd, 4, label);
    b_int(&bd, 5, now);
    rc = exec_done(c, st, bd.rc, detail, "cannot store the token");
    if (rc)
        return rc;
    if (sqlite3_changes(c->db) != 1) {
        kv_store_detail(detail, "a token with this hash is already recorded");
        return KV_ECONFLICT;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Reads (any thread, pooled connections)
 */

/* Steps st for rows; grows *arr (elements of size sz) as needed. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = realloc(*arr, nc * sz);
    if (!p)
        return KV_ENOMEM;
    memset((char *)p + *cap * sz, 0, (nc - *cap) * sz);
    *arr = p;
    *cap = nc;
    return 0;
}

/* Copies a blob column of exactly n bytes into dst; false (dst untouched) otherwise. */
static bool col_fixed(uint8_t *dst, size_t n, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) != SQLITE_BLOB || (size_t)sqlite3_column_bytes(st, col) != n)
        return false;
    memcpy(dst, sqlite3_column_blob(st, col), n);
    return true;
}

/*
 * Reads an event's chain fields from columns col.. (node, keyid, sig, then
 * with `ordered` link, order_keyid, order_sig). An event whose node is ''
 * is unsealed (stored before schema 3, or by a test).
 */
static void read_seal(sqlite3_stmt *st, int col, bool ordered, struct kv_event_record *e)
{
    struct kv_event_seal *z = &e->seal;
    col_copy(z->node, sizeof z->node, st, col);
    e->sealed = z->node[0] != '\0';
    if (!e->sealed)
        return;
    col_copy(z->keyid, sizeof z->keyid, st, col + 1);
    col_fixed(z->sig, sizeof z->sig, st, col + 2);
    if (ordered) {
        z->has_link = col_fixed(z->link, sizeof z->link, st, col + 3);
        col_copy(z->order_keyid, sizeof z->order_keyid, st, col + 4);
        col_fixed(z->order_sig, sizeof z->order_sig, st, col + 5);
    }
}

/* Reads columns 1-7 of an event row (type, time, epoch, office, actor role,
 * actor id, JSON) and its seal from column 8 on (with the order fields when
 * ordered) into e; the caller sets e->seq. False when out of memory. */
static bool read_event_row(sqlite3_stmt *st, bool ordered, struct kv_event_record *e)
{
    col_copy(e->type, sizeof e->type, st, 1);
    col_copy(e->time, sizeof e->time, st, 2);
    e->epoch = sqlite3_column_int64(st, 3);
    col_copy(e->office, sizeof e->office, st, 4);
    col_copy(e->actor_role, sizeof e->actor_role, st, 5);
    col_copy(e->actor_id, sizeof e->actor_id, st, 6);
    e->json = col_dup(st, 7, &e->json_len);
    if (!e->json)
        return false;
    read_seal(st, 8, ordered, e);
    return true;
}

static int get_locked(struct conn *c, const char *mrn, struct kv_movement_record *rec, char *detail)
{
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_R_MOVEMENT, detail, &rc);
    if (!st)
        return rc;
    rc = step_movement(c, st, mrn, detail);
    if (rc)
        return rc;
    read_summary(st, &rec->summary);
    rec->declaration = col_dup(st, N_SUMMARY_COLS, &rec->declaration_len);
    if (sqlite3_column_bytes(st, N_SUMMARY_COLS + 1) == KV_STORE_HASH_LEN)
        memcpy(rec->hash, sqlite3_column_blob(st, N_SUMMARY_COLS + 1), KV_STORE_HASH_LEN);
    if (sqlite3_column_bytes(st, N_SUMMARY_COLS + 2) == KV_STORE_HASH_LEN)
        memcpy(rec->link0, sqlite3_column_blob(st, N_SUMMARY_COLS + 2), KV_STORE_HASH_LEN);
    rec->replica = sqlite3_column_int64(st, N_SUMMARY_COLS + 3) != 0;
    finish(st);
    if (!rec->declaration)
        goto oom;

    size_t cap = 0;
    st = prep(c, ST_R_OFFICES, detail, &rc);
    if (!st)
        return rc;
    int r = sqlite3_bind_text(st, 1, mrn, -1, SQLITE_STATIC);
    while ((r = step_if(st, r)) == SQLITE_ROW) {
        if (grow((void **)&rec->offices, &cap, rec->n_offices, sizeof *rec->offices)) {
            finish(st);
            goto oom;
        }
        col_copy(rec->offices[rec->n_offices++], KV_STORE_OFFICE_MAX, st, 0);
    }
    finish(st);
    if (r != SQLITE_DONE)
        return fail(c, r, detail, "cannot read the offices");

    cap = 0;
    st = prep(c, ST_R_EVENTS, detail, &rc);
    if (!st)
        return rc;
    r = sqlite3_bind_text(st, 1, mrn, -1, SQLITE_STATIC);
    while ((r = step_if(st, r)) == SQLITE_ROW) {
        if (grow((void **)&rec->events, &cap, rec->n_events, sizeof *rec->events)) {
            finish(st);
            goto oom;
        }
        struct kv_event_record *e = &rec->events[rec->n_events];
        e->seq = (uint32_t)sqlite3_column_int64(st, 0);
        if (!read_event_row(st, true, e)) {
            finish(st);
            goto oom;
        }
        rec->n_events++;
    }
    finish(st);
    if (r != SQLITE_DONE)
        return fail(c, r, detail, "cannot read the events");

    cap = 0;
    st = prep(c, ST_R_PENDING, detail, &rc);
    if (!st)
        return rc;
    r = sqlite3_bind_text(st, 1, mrn, -1, SQLITE_STATIC);
    while ((r = step_if(st, r)) == SQLITE_ROW) {
        if (grow((void **)&rec->pending, &cap, rec->n_pending, sizeof *rec->pending)) {
            finish(st);
            goto oom;
        }
        struct kv_event_record *e = &rec->pending[rec->n_pending];
        e->seq = (uint32_t)rec->n_pending + 1; /* its place among the pending */
        if (!read_event_row(st, false, e)) {
            finish(st);
            goto oom;
        }
        rec->n_pending++;
    }
    finish(st);
    if (r != SQLITE_DONE)
        return fail(c, r, detail, "cannot read the pending events");

    cap = 0;
    st = prep(c, ST_R_PEERS, detail, &rc);
    if (!st)
        return rc;
    r = sqlite3_bind_text(st, 1, mrn, -1, SQLITE_STATIC);
    while ((r = step_if(st, r)) == SQLITE_ROW) {
        if (grow((void **)&rec->peers, &cap, rec->n_peers, sizeof *rec->peers)) {
            finish(st);
            goto oom;
        }
        struct kv_movement_peer *p = &rec->peers[rec->n_peers++];
        col_copy(p->country, sizeof p->country, st, 0);
        col_copy(p->office, sizeof p->office, st, 1);
        col_copy(p->kind, sizeof p->kind, st, 2);
        p->since = sqlite3_column_int64(st, 3);
    }
    finish(st);
    if (r != SQLITE_DONE)
        return fail(c, r, detail, "cannot read the peers");

    cap = 0;
    st = prep(c, ST_R_RESERVATIONS, detail, &rc);
    if (!st)
        return rc;
    r = sqlite3_bind_text(st, 1, mrn, -1, SQLITE_STATIC);
    while ((r = step_if(st, r)) == SQLITE_ROW) {
        if (grow((void **)&rec->guarantees, &cap, rec->n_guarantees, sizeof *rec->guarantees)) {
            finish(st);
            goto oom;
        }
        struct kv_guarantee_use_record *u = &rec->guarantees[rec->n_guarantees++];
        col_copy(u->grn, sizeof u->grn, st, 0);
        u->amount = sqlite3_column_int64(st, 1);
        col_copy(u->currency, sizeof u->currency, st, 2);
        u->released = sqlite3_column_int64(st, 3);
    }
    finish(st);
    if (r != SQLITE_DONE)
        return fail(c, r, detail, "cannot read the reservations");
    return 0;
oom:
    kv_store_detail(detail, "out of memory");
    return KV_ENOMEM;
}

static int sq_get(void *be, const char *mrn, struct kv_movement_record **out, char *detail)
{
    struct sq *b = be;
    struct kv_movement_record *rec = calloc(1, sizeof *rec);
    if (!rec) {
        kv_store_detail(detail, "out of memory");
        return KV_ENOMEM;
    }
    struct conn *c = reader_take(b);
    int rc = exec_id(c, ST_R_BEGIN, detail, "cannot begin a read");
    if (!rc)
        rc = get_locked(c, mrn, rec, detail);
    if (!sqlite3_get_autocommit(c->db)) {
        int rc2 = exec_id(c, ST_R_END, rc ? NULL : detail, "cannot end a read");
        if (!rc)
            rc = rc2;
    }
    reader_give(b, c);
    if (rc) {
        kv_store_record_free(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

/* Parses "<created>.<mrn>"; returns false when it is not one of ours. */
static bool cursor_parse(const char *cur, int64_t *created, char mrn[KV_MRN_LEN + 1])
{
    const char *dot = strchr(cur, '.');
    if (!dot || dot == cur || dot - cur > 18 || strlen(dot + 1) != KV_MRN_LEN)
        return false;
    int64_t v = 0;
    for (const char *p = cur; p < dot; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    for (const char *p = dot + 1; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return false;
    *created = v;
    memcpy(mrn, dot + 1, KV_MRN_LEN + 1);
    return true;
}

static sqlite3_stmt *list_stmt(struct conn *c, unsigned mask, char *detail, int *rc)
{
    if (c->list[mask])
        return c->list[mask];
    static const struct {
        unsigned bit;
        const char *sql;
    } parts[] = {
        {LF_STATE, " AND m.state = :state"},
        {LF_HOLDER, " AND m.holder = :holder"},
        {LF_OFFICE, " AND m.mrn IN (SELECT mrn FROM movement_office WHERE office = :office)"},
        {LF_SINCE, " AND m.created >= :since"},
        {LF_OVERDUE, " AND m.state = 'released' AND m.limit_date > 0 AND m.limit_date < :now"},
        {LF_CURSOR, " AND (m.created, m.mrn) > (:c_created, :c_mrn)"},
    };
    char sql[1024];
    size_t len =
        (size_t)snprintf(sql, sizeof sql, "SELECT " SUMMARY_COLS " FROM movement m WHERE 1");
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (mask & parts[i].bit)
            len += (size_t)snprintf(sql + len, sizeof sql - len, "%s", parts[i].sql);
    snprintf(sql + len, sizeof sql - len, " ORDER BY m.created, m.mrn LIMIT :limit");
    int r = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->list[mask], NULL);
    if (r != SQLITE_OK) {
        *rc = fail(c, r, detail, "cannot prepare the list query");
        c->list[mask] = NULL;
    }
    return c->list[mask];
}

static void b_named_text(struct binder *b, const char *name, const char *v)
{
    b_text(b, sqlite3_bind_parameter_index(b->st, name), v);
}

static void b_named_int(struct binder *b, const char *name, int64_t v)
{
    b_int(b, sqlite3_bind_parameter_index(b->st, name), v);
}

static int sq_list(void *be, const struct kv_list_query *q, struct kv_list_page *out, char *detail)
{
    struct sq *b = be;
    int64_t c_created = 0;
    char c_mrn[KV_MRN_LEN + 1] = "";
    if (q->cursor && !cursor_parse(q->cursor, &c_created, c_mrn)) {
        kv_store_detail(detail, "cursor: not one this node gave out");
        return KV_EINVAL;
    }
    unsigned mask = (q->state ? LF_STATE : 0) | (q->holder ? LF_HOLDER : 0) |
                    (q->office ? LF_OFFICE : 0) | (q->since ? LF_SINCE : 0) |
                    (q->overdue ? LF_OVERDUE : 0) | (q->cursor ? LF_CURSOR : 0);
    out->items = calloc(q->limit, sizeof *out->items);
    if (!out->items) {
        kv_store_detail(detail, "out of memory");
        return KV_ENOMEM;
    }
    struct conn *c = reader_take(b);
    int rc = 0;
    sqlite3_stmt *st = list_stmt(c, mask, detail, &rc);
    if (st) {
        struct binder bd = {st, SQLITE_OK};
        if (mask & LF_STATE)
            b_named_text(&bd, ":state", q->state);
        if (mask & LF_HOLDER)
            b_named_text(&bd, ":holder", q->holder);
        if (mask & LF_OFFICE)
            b_named_text(&bd, ":office", q->office);
        if (mask & LF_SINCE)
            b_named_int(&bd, ":since", q->since);
        if (mask & LF_OVERDUE)
            b_named_int(&bd, ":now", q->now);
        if (mask & LF_CURSOR) {
            b_named_int(&bd, ":c_created", c_created);
            b_named_text(&bd, ":c_mrn", c_mrn);
        }
        b_named_int(&bd, ":limit", (int64_t)q->limit + 1);
        int r = bd.rc;
        bool more = false;
        while ((r = step_if(st, r)) == SQLITE_ROW) {
            if (out->n == q->limit) {
                more = true;
                r = SQLITE_DONE;
                break;
            }
            read_summary(st, &out->items[out->n++]);
        }
        if (r != SQLITE_DONE)
            rc = fail(c, r, detail, "cannot list movements");
        finish(st);
        if (!rc && more) {
            const struct kv_movement_summary *last = &out->items[out->n - 1];
            snprintf(out->next_cursor, sizeof out->next_cursor, "%" PRId64 ".%s", last->created,
                     last->mrn);
        }
    }
    reader_give(b, c);
    if (rc)
        kv_store_list_free(out);
    return rc;
}

static int sq_guarantee_get(void *be, const char *grn, struct kv_guarantee_info *out, char *detail)
{
    struct sq *b = be;
    struct conn *c = reader_take(b);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_R_GUARANTEE, detail, &rc);
    if (st) {
        int r = sqlite3_bind_text(st, 1, grn, -1, SQLITE_STATIC);
        r = r == SQLITE_OK ? sqlite3_step(st) : r;
        if (r == SQLITE_ROW) {
            col_copy(out->grn, sizeof out->grn, st, 0);
            col_copy(out->guarantor, sizeof out->guarantor, st, 1);
            out->reference = sqlite3_column_int64(st, 2);
            out->reserved = sqlite3_column_int64(st, 3);
            out->remaining = out->reference - out->reserved;
            col_copy(out->currency, sizeof out->currency, st, 4);
            out->created = sqlite3_column_int64(st, 5);
            out->active_uses = (uint64_t)sqlite3_column_int64(st, 6);
            out->total_uses = (uint64_t)sqlite3_column_int64(st, 7);
        } else if (r == SQLITE_DONE) {
            kv_store_detail(detail, "no guarantee %s", grn);
            rc = KV_ENOTFOUND;
        } else {
            rc = fail(c, r, detail, "cannot read the guarantee");
        }
        finish(st);
    }
    reader_give(b, c);
    return rc;
}

static int sq_token_find(void *be, const uint8_t *hash, struct kv_token *out, char *detail)
{
    struct sq *b = be;
    struct conn *c = reader_take(b);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_R_TOKEN, detail, &rc);
    if (st) {
        int r = sqlite3_bind_blob(st, 1, hash, KV_STORE_HASH_LEN, SQLITE_STATIC);
        r = r == SQLITE_OK ? sqlite3_step(st) : r;
        if (r == SQLITE_ROW) {
            col_copy(out->role, sizeof out->role, st, 0);
            col_copy(out->subject, sizeof out->subject, st, 1);
            col_copy(out->label, sizeof out->label, st, 2);
            out->created = sqlite3_column_int64(st, 3);
        } else if (r == SQLITE_DONE) {
            kv_store_detail(detail, "no such token");
            rc = KV_ENOTFOUND;
        } else {
            rc = fail(c, r, detail, "cannot read the token");
        }
        finish(st);
    }
    reader_give(b, c);
    return rc;
}

static int sq_counts(void *be, struct kv_store_stats *out, char *detail)
{
    struct sq *b = be;
    for (size_t i = 0; kv_store_states[i] && i < KV_STORE_STATES_MAX; i++) {
        snprintf(out->states[i].state, sizeof out->states[i].state, "%s", kv_store_states[i]);
        out->n_states = i + 1;
    }
    struct conn *c = reader_take(b);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_R_COUNTS, detail, &rc);
    if (st) {
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            const char *state = (const char *)sqlite3_column_text(st, 0);
            uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);
            out->movements += n;
            for (size_t i = 0; i < out->n_states; i++)
                if (state && strcmp(state, out->states[i].state) == 0)
                    out->states[i].count = n;
        }
        if (r != SQLITE_DONE)
            rc = fail(c, r, detail, "cannot count movements");
        finish(st);
    }
    reader_give(b, c);
    return rc;
}

/* ---------------------------------------------------------------------------
 * The exchange, read side (any thread, pooled connections)
 */

static int sq_outbox_seq(void *be, const char *receiver, const char *mrn, uint32_t *last,
                         char *detail)
{
    struct sq *b = be;
    struct conn *c = reader_take(b);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_R_OB_SEQ, detail, &rc);
    if (st) {
        struct binder bd = {st, SQLITE_OK};
        b_text(&bd, 1, receiver);
        b_text(&bd, 2, mrn);
        int64_t v = 0;
        bool found = false;
        rc = lookup_int(c, st, bd.rc, &v, &found, detail, "cannot read an outbox stream");
        *last = (uint32_t)v;
    }
    reader_give(b, c);
    return rc;
}

/* A heap copy of a blob column (NUL-terminated), its length in *len. */
static char *col_blob_dup(sqlite3_stmt *st, int col, size_t *len)
{
    const void *v = sqlite3_column_blob(st, col);
    return bytes_dup(v, v ? (size_t)sqlite3_column_bytes(st, col) : 0, len);
}

/* Reads the OUTBOX_COLS of the current row. False when out of memory. */
static bool read_outbox_item(sqlite3_stmt *st, struct kv_outbox_item *it)
{
    col_copy(it->id, sizeof it->id, st, 0);
    col_copy(it->receiver, sizeof it->receiver, st, 1);
    col_copy(it->kind, sizeof it->kind, st, 2);
    col_copy(it->mrn, sizeof it->mrn, st, 3);
    it->seq = (uint32_t)sqlite3_column_int64(st, 4);
    it->envelope = col_blob_dup(st, 5, &it->envelope_len);
    col_copy(it->signature, sizeof it->signature, st, 6);
    it->created_ms = sqlite3_column_int64(st, 7);
    it->delivered_ms = sqlite3_column_int64(st, 8);
    it->attempts = (uint32_t)sqlite3_column_int64(st, 9);
    it->next_attempt_ms = sqlite3_column_int64(st, 10);
    col_copy(it->last_error, sizeof it->last_error, st, 11);
    return it->envelope != NULL;
}

static int sq_outbox_due(void *be, int64_t now_ms, const char *receiver, unsigned limit,
                         struct kv_outbox_due *out, char *detail)
{
    struct sq *b = be;
    out->items = calloc(limit, sizeof *out->items);
    if (!out->items) {
        kv_store_detail(detail, "out of memory");
        return KV_ENOMEM;
    }
    struct conn *c = reader_take(b);
    /* One snapshot for the due messages and the next attempt after them. */
    int rc = exec_id(c, ST_R_BEGIN, detail, "cannot begin a read");
    sqlite3_stmt *st =
        rc ? NULL : prep(c, receiver ? ST_R_OB_DUE_PEER : ST_R_OB_DUE_ALL, detail, &rc);
    if (st) {
        struct binder bd = {st, SQLITE_OK};
        b_int(&bd, 1, now_ms);
        if (receiver)
            b_text(&bd, 2, receiver);
        b_int(&bd, 3, limit);
        int r = bd.rc;
        while ((r = step_if(st, r)) == SQLITE_ROW) {
            if (!read_outbox_item(st, &out->items[out->n++])) {
                kv_store_detail(detail, "out of memory");
                rc = KV_ENOMEM;
                r = SQLITE_DONE;
                break;
            }
        }
        if (!rc && r != SQLITE_DONE)
            rc = fail(c, r, detail, "cannot read the due messages");
        finish(st);
    }
    if (!rc) {
        st = prep(c, receiver ? ST_R_OB_NEXT_PEER : ST_R_OB_NEXT_ALL, detail, &rc);
        if (st) {
            struct binder bd = {st, SQLITE_OK};
            b_int(&bd, 1, now_ms);
            if (receiver)
                b_text(&bd, 2, receiver);
            bool found = false;
            rc = lookup_int(c, st, bd.rc, &out->next_at_ms, &found, detail,
                            "cannot read the next attempt");
        }
    }
    if (!sqlite3_get_autocommit(c->db))
        exec_id(c, ST_R_END, NULL, "cannot end a read");
    reader_give(b, c);
    if (rc)
        kv_store_outbox_due_free(out);
    return rc;
}

static int sq_outbox_get(void *be, const char *id, struct kv_outbox_item *out, char *detail)
{
    struct sq *b = be;
    struct conn *c = reader_take(b);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_R_OB_GET, detail, &rc);
    if (st) {
        int r = sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        r = r == SQLITE_OK ? sqlite3_step(st) : r;
        if (r == SQLITE_ROW) {
            if (!read_outbox_item(st, out)) {
                kv_store_detail(detail, "out of memory");
                rc = KV_ENOMEM;
            }
        } else if (r == SQLITE_DONE) {
            kv_store_detail(detail, "no message %s in the outbox", id);
            rc = KV_ENOTFOUND;
        } else {
            rc = fail(c, r, detail, "cannot read an outbox message");
        }
        finish(st);
    }
    reader_give(b, c);
    if (rc)
        kv_store_outbox_item_release(out);
    return rc;
}

static int sq_outbox_backlog(void *be, struct kv_outbox_backlog *out, size_t max, size_t *n,
                             char *detail)
{
    struct sq *b = be;
    struct conn *c = reader_take(b);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_R_OB_BACKLOG, detail, &rc);
    if (st) {
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
            col_copy(out[*n].receiver, sizeof out[*n].receiver, st, 0);
            out[*n].pending = (uint64_t)sqlite3_column_int64(st, 1);
            (*n)++;
        }
        if (r != SQLITE_DONE && r != SQLITE_ROW)
            rc = fail(c, r, detail, "cannot read the outbox backlog");
        finish(st);
    }
    reader_give(b, c);
    return rc;
}

/* Reads the INBOX_COLS of the current row and, when present, the envelope
 * in column 9. False when out of memory. */
static bool read_inbox_record(sqlite3_stmt *st, struct kv_inbox_record *r)
{
    col_copy(r->id, sizeof r->id, st, 0);
    col_copy(r->sender, sizeof r->sender, st, 1);
    col_copy(r->kind, sizeof r->kind, st, 2);
    col_copy(r->mrn, sizeof r->mrn, st, 3);
    r->seq = (uint32_t)sqlite3_column_int64(st, 4);
    if (sqlite3_column_bytes(st, 5) == KV_STORE_HASH_LEN)
        memcpy(r->hash, sqlite3_column_blob(st, 5), KV_STORE_HASH_LEN);
    r->received_ms = sqlite3_column_int64(st, 6);
    r->applied_ms = sqlite3_column_int64(st, 7);
    r->state = r->applied_ms > 0 ? KV_INBOX_APPLIED : KV_INBOX_PARKED;
    col_copy(r->signature, sizeof r->signature, st, 8);
    if (sqlite3_column_type(st, 9) != SQLITE_NULL) {
        r->envelope = col_blob_dup(st, 9, &r->envelope_len);
        if (!r->envelope)
            return false;
    }
    return true;
}

/* Runs a prepared inbox query that returns at most one record. */
static int inbox_one(struct conn *c, sqlite3_stmt *st, int bind_rc, struct kv_inbox_record *out,
                     const char *missing, char *detail)
{
    int rc = 0;
    int r = bind_rc == SQLITE_OK ? sqlite3_step(st) : bind_rc;
    if (r == SQLITE_ROW) {
        if (!read_inbox_record(st, out)) {
            kv_store_detail(detail, "out of memory");
            rc = KV_ENOMEM;
        }
    } else if (r == SQLITE_DONE) {
        kv_store_detail(detail, "%s", missing);
        rc = KV_ENOTFOUND;
    } else {
        rc = fail(c, r, detail, "cannot read the inbox");
    }
    finish(st);
    if (rc)
        kv_store_inbox_record_release(out);
    return rc;
}

static int sq_inbox_find(void *be, const char *id, bool with_envelope, struct kv_inbox_record *out,
                         char *detail)
{
    struct sq *b = be;
    struct conn *c = reader_take(b);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_R_IB_FIND, detail, &rc);
    if (st) {
        struct binder bd = {st, SQLITE_OK};
        b_text(&bd, 1, id);
        b_int(&bd, 2, with_envelope ? 1 : 0);
        rc = inbox_one(c, st, bd.rc, out, "no such message in the inbox", detail);
    }
    reader_give(b, c);
    return rc;
}

static int sq_inbox_last(void *be, const char *sender, const char *mrn, uint32_t *applied,
                         uint32_t *parked, char *detail)
{
    struct sq *b = be;
    struct conn *c = reader_take(b);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_R_IB_LAST, detail, &rc);
    if (st) {
        struct binder bd = {st, SQLITE_OK};
        b_text(&bd, 1, sender);
        b_text(&bd, 2, mrn);
        int r = bd.rc == SQLITE_OK ? sqlite3_step(st) : bd.rc;
        if (r == SQLITE_ROW) {
            *applied = (uint32_t)sqlite3_column_int64(st, 0);
            *parked = (uint32_t)sqlite3_column_int64(st, 1);
            r = SQLITE_DONE;
        }
        if (r != SQLITE_DONE)
            rc = fail(c, r, detail, "cannot read an inbox stream");
        finish(st);
    }
    reader_give(b, c);
    return rc;
}

static int sq_inbox_parked_next(void *be, const char *sender, const char *mrn,
                                struct kv_inbox_record *out, char *detail)
{
    struct sq *b = be;
    struct conn *c = reader_take(b);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_R_IB_NEXT, detail, &rc);
    if (st) {
        struct binder bd = {st, SQLITE_OK};
        b_text(&bd, 1, sender);
        b_text(&bd, 2, mrn);
        rc = inbox_one(c, st, bd.rc, out, "no parked message is next", detail);
    }
    reader_give(b, c);
    return rc;
}

static int sq_inbox_ready(void *be, struct kv_inbox_stream *out, size_t max, size_t *n,
                          char *detail)
{
    struct sq *b = be;
    struct conn *c = reader_take(b);
    int rc = 0;
    sqlite3_stmt *st = prep(c, ST_R_IB_READY, detail, &rc);
    if (st) {
        int r = sqlite3_bind_int64(st, 1, (int64_t)max);
        while ((r = step_if(st, r)) == SQLITE_ROW && *n < max) {
            col_copy(out[*n].sender, sizeof out[*n].sender, st, 0);
            col_copy(out[*n].mrn, sizeof out[*n].mrn, st, 1);
            (*n)++;
        }
        if (r != SQLITE_DONE && r != SQLITE_ROW)
            rc = fail(c, r, detail, "cannot read the inbox streams");
        finish(st);
    }
    reader_give(b, c);
    return rc;
}

/* Runs one check query: any row it returns is a problem, described by fmt. */
static int check_query(struct conn *c, const char *sql, const char *what, char *detail)
{
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (r != SQLITE_OK)
        return fail(c, r, detail, "cannot prepare a check");
    int rc = 0;
    r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        kv_store_detail(detail, "%s: %.120s", what, v ? (const char *)v : "?");
        rc = KV_ECORRUPT;
    } else if (r != SQLITE_DONE) {
        rc = fail(c, r, detail, "check failed to run");
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_check(void *be, char *detail)
{
    struct sq *b = be;
    struct conn *c = reader_take(b);
    /* One read transaction: every check sees the same snapshot. */
    int rc = exec_id(c, ST_R_BEGIN, detail, "cannot begin a read");
    if (rc) {
        reader_give(b, c);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(c->db, "PRAGMA integrity_check(10)", -1, &st, NULL);
    if (r != SQLITE_OK) {
        rc = fail(c, r, detail, "cannot run the integrity check");
    } else {
        r = sqlite3_step(st);
        const unsigned char *v = r == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
        if (r != SQLITE_ROW) {
            rc = fail(c, r, detail, "integrity check failed to run");
        } else if (!v || strcmp((const char *)v, "ok") != 0) {
            kv_store_detail(detail, "integrity check: %.200s", v ? (const char *)v : "?");
            rc = KV_ECORRUPT;
        }
    }
    sqlite3_finalize(st);

    static const struct {
        const char *sql, *what;
    } checks[] = {
        {"SELECT \"table\" || ' row ' || rowid || ' -> ' || parent FROM pragma_foreign_key_check",
         "foreign key broken"},
        {"SELECT m.mrn || ' seq ' || m.seq || ' events ' || "
         "(SELECT count(*) FROM event e WHERE e.mrn = m.mrn) FROM movement m "
         "WHERE m.seq != (SELECT count(*) FROM event e WHERE e.mrn = m.mrn) "
         "OR m.seq != (SELECT max(e.seq) FROM event e WHERE e.mrn = m.mrn) LIMIT 1",
         "event log not 1..seq"},
        {"SELECT g.grn || ' reserved ' || g.reserved || ' reference ' || g.reference "
         "FROM guarantee g WHERE g.reserved != (SELECT coalesce(sum(r.amount), 0) "
         "FROM reservation r WHERE r.grn = g.grn AND r.released = 0) "
         "OR g.reserved > g.reference OR g.reserved < 0 LIMIT 1",
         "guarantee ledger inconsistent"},
        {"SELECT r.mrn || ' ' || r.grn FROM reservation r JOIN movement m ON m.mrn = r.mrn "
         "WHERE r.released = 0 AND m.state IN ('written_off', 'cancelled') LIMIT 1",
         "reservation of a finished movement still held"},
        {"SELECT s.state || ' counted ' || coalesce(c.n, 0) || ' actual ' || s.n FROM "
         "(SELECT state, count(*) AS n FROM movement GROUP BY state) s "
         "LEFT JOIN movement_count c ON c.state = s.state WHERE coalesce(c.n, 0) != s.n "
         "UNION ALL SELECT c.state || ' counted ' || c.n || ' actual 0' FROM movement_count c "
         "WHERE c.n != 0 AND NOT EXISTS (SELECT 1 FROM movement m WHERE m.state = c.state) "
         "LIMIT 1",
         "per-state counts wrong"},
        {"SELECT mrn || ' ' || count(*) FROM movement WHERE replica = 0 GROUP BY holder, lrn "
         "HAVING count(*) > 1 LIMIT 1",
         "LRN used twice"},
        /* Schema 3: whose movement it is, the chain fields, pending events, peers. */
        {"SELECT m.mrn || CASE m.replica WHEN 1 THEN ' (replica)' ELSE ' (own)' END "
         "FROM movement m, meta t WHERE t.key = 'country' AND "
         "(m.replica = 1) = (substr(m.mrn, 3, 2) = t.value) LIMIT 1",
         "movement held as the wrong kind (the MRN's country decides own or replica)"},
        {"SELECT e.mrn || ' seq ' || e.seq FROM event e WHERE NOT ("
         "(e.node = '' AND e.keyid = '' AND e.sig IS NULL AND e.link IS NULL "
         "AND e.order_keyid = '' AND e.order_sig IS NULL) OR "
         "(length(e.node) = 2 AND e.keyid != '' AND length(e.sig) IS 64 "
         "AND length(e.link) IS 32 AND e.order_keyid != '' AND length(e.order_sig) IS 64)) "
         "LIMIT 1",
         "event partly sealed (a sealed event in the log needs every chain field)"},
        {"SELECT e.mrn || ' seq ' || e.seq FROM event e JOIN movement m ON m.mrn = e.mrn "
         "WHERE m.replica = 1 AND e.node = '' LIMIT 1",
         "unsealed event in a replica"},
        {"SELECT p.mrn || ' n ' || p.n FROM pending_event p LEFT JOIN movement m "
         "ON m.mrn = p.mrn WHERE m.replica IS NOT 1 LIMIT 1",
         "pending event on a movement that is not a replica"},
        {"SELECT p.mrn || ' n ' || p.n || ' node ' || p.node FROM pending_event p, meta t "
         "WHERE t.key = 'country' AND p.node != t.value LIMIT 1",
         "pending event recorded for another node"},
        {"SELECT p.mrn || ' n ' || p.n FROM pending_event p JOIN event e ON e.mrn = p.mrn "
         "AND e.node = p.node AND e.sig = p.sig LIMIT 1",
         "pending event already ordered"},
        {"SELECT p.mrn || ' ' || p.country FROM movement_peer p LEFT JOIN movement m "
         "ON m.mrn = p.mrn WHERE m.replica IS NOT 0 LIMIT 1",
         "peer recorded on a movement that is not this node's"},
        {"SELECT r.mrn || ' ' || r.grn FROM reservation r JOIN movement m ON m.mrn = r.mrn "
         "WHERE m.replica = 1 LIMIT 1",
         "guarantee reserved by a replica"},
        /* The outbox: a stream's undelivered messages are exactly
         * delivered+1..enqueued; delivered ones lie at or below `delivered`. */
        {"SELECT s.receiver || '/' || s.mrn || ' enqueued ' || s.enqueued || ' delivered ' || "
         "s.delivered FROM outbox_stream s WHERE s.enqueued - s.delivered != "
         "(SELECT count(*) FROM outbox o WHERE o.receiver = s.receiver AND o.mrn = s.mrn "
         "AND o.delivered = 0) OR EXISTS (SELECT 1 FROM outbox o WHERE o.receiver = s.receiver "
         "AND o.mrn = s.mrn AND (o.seq > s.enqueued OR (o.delivered = 0 AND o.seq <= s.delivered) "
         "OR (o.delivered > 0 AND o.seq > s.delivered))) LIMIT 1",
         "outbox stream inconsistent"},
        {"SELECT o.id FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM outbox_stream s "
         "WHERE s.receiver = o.receiver AND s.mrn = o.mrn) LIMIT 1",
         "outbox message without a stream"},
        {"SELECT p.receiver || ' counted ' || p.pending FROM outbox_peer p WHERE p.pending != "
         "(SELECT coalesce(sum(s.enqueued - s.delivered), 0) FROM outbox_stream s "
         "WHERE s.receiver = p.receiver) UNION ALL SELECT s.receiver FROM outbox_stream s "
         "WHERE s.delivered < s.enqueued AND NOT EXISTS (SELECT 1 FROM outbox_peer p "
         "WHERE p.receiver = s.receiver) LIMIT 1",
         "outbox backlog count wrong"},
        /* The inbox: a stream's applied messages are exactly 1..applied, its
         * parked ones lie beyond and are counted. */
        {"SELECT t.sender || '/' || t.mrn || ' applied ' || t.applied || ' parked ' || t.parked "
         "FROM inbox_stream t WHERE t.applied != (SELECT count(*) FROM inbox i "
         "WHERE i.sender = t.sender AND i.mrn = t.mrn AND i.applied > 0) "
         "OR t.applied != (SELECT coalesce(max(i.seq), 0) FROM inbox i WHERE i.sender = t.sender "
         "AND i.mrn = t.mrn AND i.applied > 0) OR t.parked != (SELECT count(*) FROM inbox i "
         "WHERE i.sender = t.sender AND i.mrn = t.mrn AND i.applied = 0) OR EXISTS (SELECT 1 "
         "FROM inbox i WHERE i.sender = t.sender AND i.mrn = t.mrn AND i.applied = 0 "
         "AND i.seq <= t.applied) LIMIT 1",
         "inbox stream inconsistent"},
        {"SELECT i.id FROM inbox i WHERE NOT EXISTS (SELECT 1 FROM inbox_stream t "
         "WHERE t.sender = i.sender AND t.mrn = i.mrn) LIMIT 1",
         "inbox message without a stream"},
    };
    for (size_t i = 0; !rc && i < sizeof checks / sizeof checks[0]; i++)
        rc = check_query(c, checks[i].sql, checks[i].what, detail);
    reader_give(b, c);
    return rc;
}

const struct kv_store_backend_ops kv_store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .country = sq_country,
    .w_begin = sq_begin,
    .w_commit = sq_commit,
    .w_rollback = sq_rollback,
    .w_in_txn = sq_in_txn,
    .w_savepoint = sq_savepoint,
    .w_release = sq_release,
    .w_lodge = sq_lodge,
    .w_append = sq_append,
    .w_guarantee_register = sq_guarantee_register,
    .w_token_add = sq_token_add,
    .get = sq_get,
    .list = sq_list,
    .guarantee_get = sq_guarantee_get,
    .token_find = sq_token_find,
    .counts = sq_counts,
    .check = sq_check,
    .w_outbox_enqueue = sq_outbox_enqueue,
    .w_outbox_settle = sq_outbox_settle,
    .w_outbox_prune = sq_outbox_prune,
    .w_inbox_apply = sq_inbox_apply,
    .w_inbox_park = sq_inbox_park,
    .w_replica_put = sq_replica_put,
    .w_pending_add = sq_pending_add,
    .w_peer_add = sq_peer_add,
    .outbox_seq = sq_outbox_seq,
    .outbox_due = sq_outbox_due,
    .outbox_get = sq_outbox_get,
    .outbox_backlog = sq_outbox_backlog,
    .inbox_find = sq_inbox_find,
    .inbox_last = sq_inbox_last,
    .inbox_parked_next = sq_inbox_parked_next,
    .inbox_ready = sq_inbox_ready,
};
