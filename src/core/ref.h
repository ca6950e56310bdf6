/*
 * ref.h — reference data: the code lists and the corridor's office registry.
 *
 * The data lives in the project's data/ folder (one TSV file per list, each
 * with its source noted in a header comment). At build time the files are
 * embedded in the binary (tools/embed.c), so the core stays free of I/O:
 * kv_ref_open() parses the embedded bytes once into sorted tables, and every
 * lookup is a binary search (O(log n)); the handle is read-only afterwards
 * and may be shared by any number of threads.
 *
 * kv_ref_open_from() parses caller-supplied bytes instead (tests, and a node
 * that is given newer lists at run time).
 */
#ifndef KV_CORE_REF_H
#define KV_CORE_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The lists kervan checks codes against. Comments name the NCTS list. */
enum kv_list {
    KV_LIST_COUNTRY,          /* ISO 3166-1 alpha-2 (CL008/CL248/CL165) */
    KV_LIST_CURRENCY,         /* ISO 4217 alpha-3, current codes (CL048) */
    KV_LIST_HS6,              /* HS 2022 six-digit subheadings (CL152): 5,613 codes, the
                                 source's level-6 rows incl. Comtrade's 999999 */
    KV_LIST_PACKAGE,          /* UN/ECE Rec. 21 kinds of packages (CL017) */
    KV_LIST_TRANSPORT_MODE,   /* CL218 */
    KV_LIST_DECLARATION_TYPE, /* CL231 */
    KV_LIST_SECURITY,         /* CL217 */
    KV_LIST_GUARANTEE_TYPE,   /* CL251 */
    KV_LIST_INCIDENT,         /* CL019 */
    KV_LIST__COUNT
};

/* Office roles (bit set), after the CS/RD2 role codes. */
enum kv_office_role {
    KV_ROLE_DEP = 1u << 0, /* office of departure */
    KV_ROLE_TRA = 1u << 1, /* office of transit */
    KV_ROLE_TXT = 1u << 2, /* office of exit for transit */
    KV_ROLE_DES = 1u << 3, /* office of destination */
    KV_ROLE_INC = 1u << 4, /* office of incident registration */
    KV_ROLE_GUA = 1u << 5  /* office of guarantee */
};

/* Traffic types (bit set), after CS/RD2: R road, V rail, P maritime. */
enum kv_office_traffic {
    KV_TRAFFIC_ROAD = 1u << 0,
    KV_TRAFFIC_RAIL = 1u << 1,
    KV_TRAFFIC_SEA = 1u << 2,
    KV_TRAFFIC_AIR = 1u << 3
};

struct kv_office {
    char ref[9];          /* CC + 6, e.g. "TR080200" */
    char country[3];      /* ISO 3166-1 alpha-2 */
    const char *name;     /* official or usual name, UTF-8 */
    const char *place;    /* town or crossing */
    char unlocode[6];     /* UN/LOCODE (CC + 3) or "" when none is published */
    int32_t lat_e6;       /* latitude in micro-degrees */
    int32_t lon_e6;       /* longitude in micro-degrees */
    unsigned roles;       /* enum kv_office_role bits */
    unsigned traffic;     /* enum kv_office_traffic bits */
    bool provisional;     /* reference made by kervan, not published by the country */
};

struct kv_ref;

/*
 * Parses the data embedded at build time. On success stores a new handle in
 * *out (caller frees with kv_ref_close) and returns KV_OK. Returns KV_ENOMEM,
 * or KV_EPARSE if embedded data is malformed (a build defect).
 */
int kv_ref_open(struct kv_ref **out);

/*
 * Like kv_ref_open(), and on KV_EPARSE writes "list:line: reason" to errbuf
 * (if not NULL; truncated to errsz). For diagnosing a defective data/ file.
 */
int kv_ref_open_err(struct kv_ref **out, char *errbuf, size_t errsz);

/*
 * Like kv_ref_open() but parses `texts[list]` (NUL-terminated TSV in the
 * data/ format) for each list and `offices` for the registry; a NULL entry
 * (or a NULL `texts`) leaves that list empty. The texts need not outlive the
 * handle. On KV_EPARSE, if errbuf is not NULL, writes "list:line: reason"
 * there, where list is kv_list_name() or "offices" and line counts from 1
 * over the whole text, comments included. Rejected: a missing or wrong
 * header, a row whose field count differs from the header (a tab inside a
 * field shows up this way), empty lines, CR, control characters, invalid
 * UTF-8, codes of the wrong shape for their list, empty labels, duplicate
 * codes or references (the later line is named), and in the registry a bad
 * reference, country, UN/LOCODE, coordinate, role, traffic or status.
 * An office's country must be in the country list when that list is given.
 */
int kv_ref_open_from(struct kv_ref **out, const char *const texts[KV_LIST__COUNT],
                     const char *offices, char *errbuf, size_t errsz);

/* Frees a handle; NULL is a no-op. */
void kv_ref_close(struct kv_ref *ref);

/* True when `code` (len bytes, exact case) is in `list`. Lookups never
 * allocate and are safe from any thread; a NULL ref or code gives false. */
bool kv_ref_has(const struct kv_ref *ref, enum kv_list list, const char *code, size_t len);

/* The label of a code (e.g. "Kazakhstan" for "KZ"), or NULL if absent. */
const char *kv_ref_label(const struct kv_ref *ref, enum kv_list list, const char *code,
                         size_t len);

/* Number of codes in a list. */
size_t kv_ref_count(const struct kv_ref *ref, enum kv_list list);

/* The i-th code of a list in sorted order (i < kv_ref_count), for listings;
 * NULL when i is out of range. Codes sort by bytes (as strcmp). */
const char *kv_ref_code_at(const struct kv_ref *ref, enum kv_list list, size_t i);

/* The label of the i-th code, or NULL when i is out of range. */
const char *kv_ref_label_at(const struct kv_ref *ref, enum kv_list list, size_t i);

/* The office with reference `ref8` (8 bytes), or NULL. */
const struct kv_office *kv_ref_office(const struct kv_ref *ref, const char *ref8, size_t len);

/* Number of offices and the i-th in reference order. */
size_t kv_ref_office_count(const struct kv_ref *ref);
const struct kv_office *kv_ref_office_at(const struct kv_ref *ref, size_t i);

/*
 * Short name of a list for messages and the CLI: "country", "currency", "hs",
 * "package", "transport-mode", "declaration-type", "security",
 * "guarantee-type", "incident". Never NULL ("?" for an invalid value).
 */
const char *kv_list_name(enum kv_list list);

/* The list called `name` (a kv_list_name(), or "hs6" for the HS list):
 * KV_OK and *out set, or KV_ENOTFOUND. */
int kv_list_by_name(const char *name, enum kv_list *out);

/* "DEP", "TRA", ... for one role bit, "road", ... for one traffic bit; NULL
 * for anything else. */
const char *kv_office_role_name(unsigned bit);
const char *kv_office_traffic_name(unsigned bit);

#endif
