/*
 * schema_old.h — the store's schemas 1 and 2 exactly as they shipped (frozen
 * copies of migrations[0] and [1] in src/store/sqlite.c), so that tests can
 * write a database of an older version with raw SQL and open it with the
 * current code (which must migrate it). Never edit these: they are history.
 *
 * Header-only: each tests/<area>/test_*.c is its own executable.
 */
#ifndef KV_TESTS_STORE_SCHEMA_OLD_H
#define KV_TESTS_STORE_SCHEMA_OLD_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/ident.h"
#include "store/store.h"

static const char *const st_schema_old[] = {
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
};

/* Runs sql on db or aborts the test program with SQLite's message. */
static inline void st_old_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "%.200s: %s\n", sql, err ? err : "?");
        abort();
    }
}

/*
 * Writes DIR/kervan.db at schema `version` (1 or 2) for the node of
 * `country`, as that version's code created it. Returns the open handle
 * (close with sqlite3_close) for the caller's rows.
 */
static inline sqlite3 *st_old_db(const char *dir, int version, const char *country)
{
    char path[600], sql[128];
    snprintf(path, sizeof path, "%s/kervan.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        abort();
    st_old_exec(db, "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON");
    for (int v = 0; v < version; v++)
        st_old_exec(db, st_schema_old[v]);
    snprintf(sql, sizeof sql,
             "PRAGMA user_version = %d; INSERT INTO meta (key, value) VALUES ('country', '%s')",
             version, country);
    st_old_exec(db, sql);
    return db;
}

/*
 * Inserts an own movement of the old schema as its lodge and appends did:
 * MRN of (year 2025, country, serial), n_events unsealed events, declared
 * offices, the per-state count and the year's MRN counter; with `grn`, a
 * reservation of `amount` (the guarantee must exist). mrn receives the MRN.
 */
static inline void st_old_movement(sqlite3 *db, const char *country, uint64_t serial,
                                   const char *holder, const char *lrn, int n_events,
                                   const char *state, const char *grn, int64_t amount,
                                   char mrn[KV_MRN_LEN + 1])
{
    if (kv_mrn_make(mrn, 2025, country, serial, 0) != 0)
        abort();
    char decl[256], sql[2048];
    int n = snprintf(decl, sizeof decl, "{\"lrn\":\"%s\",\"holder\":\"%s\"}", lrn, holder);
    uint8_t h[KV_STORE_HASH_LEN];
    kv_store_hash(decl, (size_t)n, h);
    char hex[2 * KV_STORE_HASH_LEN + 1];
    for (int i = 0; i < KV_STORE_HASH_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    snprintf(sql, sizeof sql,
             "INSERT INTO movement (mrn, holder, lrn, declaration, decl_hash, lodged_hash, "
             "office_departure, office_destination, security, state, flags, seq, created, "
             "limit_date, gross_mass) VALUES ('%s', '%s', '%s', '%s', x'%s', x'%s', "
             "'%.2s000100', 'KZ000200', 0, '%s', 0, %d, %llu, 0, '12.5');"
             "INSERT INTO movement_office (mrn, pos, office) VALUES ('%s', 0, '%.2s000100'), "
             "('%s', 1, 'GE000300'), ('%s', 2, 'KZ000200');"
             "INSERT INTO movement_count (state, n) VALUES ('%s', 1) "
             "ON CONFLICT (state) DO UPDATE SET n = n + 1;"
             "INSERT INTO mrn_counter (year, last) VALUES (2025, %llu) "
             "ON CONFLICT (year) DO UPDATE SET last = max(last, excluded.last);",
             mrn, holder, lrn, decl, hex, hex, country, state, n_events, 1740823200ULL + serial,
             mrn, country, mrn, mrn, state, (unsigned long long)serial);
    st_old_exec(db, sql);
    for (int i = 1; i <= n_events; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO event (mrn, seq, type, time, epoch, office, actor_role, actor_id, "
                 "body) VALUES ('%s', %d, '%s', '2025-03-01T10:00:00Z', 1740823200, "
                 "'%.2s000100', 'officer', '', '{\"n\":%d}')",
                 mrn, i, i == 1 ? "lodged" : "control", country, i);
        st_old_exec(db, sql);
    }
    if (grn) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO reservation (mrn, grn, amount, currency, reserved_at, released) "
                 "VALUES ('%s', '%s', %lld, 'EUR', 1740823200, 0);"
                 "UPDATE guarantee SET reserved = reserved + %lld WHERE grn = '%s'",
                 mrn, grn, (long long)amount, (long long)amount, grn);
        st_old_exec(db, sql);
    }
}

#endif
