/*
 * ident.h — customs identifiers: MRN, GRN and ISO 6346 container numbers.
 *
 * All three share the ISO 6346 check character: each character gets a value
 * (digits 0–9, letters A=10 … Z=38 skipping 11, 22 and 33), the value at
 * 0-based position i is multiplied by 2^i, the sum is taken mod 11, and a
 * remainder of 10 becomes 0 (DG XXI/0879/99 rev.1 "Check character
 * algorithm for the MRN and GRN"; ISO 6346:1995 §6 for containers, where 10
 * is also written 0 here).
 *
 * MRN (NCTS P5 MRNType): YY + ISO 3166 alpha-2 + 12 [A-Z0-9] + procedure
 * letter + check digit. For transit the procedure letter follows rule R0410
 * on the security indicator (CL217): 0 → J (no safety and security data),
 * 1 → L (ENS data only), 2 → K (EXS data only), 3 → M (ENS and EXS).
 * Legacy (Phase 4) MRNs: YY (00–24) + country + 13 [A-Z0-9] + check digit.
 *
 * Pure functions, no allocation, thread-safe.
 */
#ifndef KV_CORE_IDENT_H
#define KV_CORE_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_MRN_LEN 18

/* Why an identifier was refused; KV_ID_OK when valid. */
enum kv_id_verdict {
    KV_ID_OK = 0,
    KV_ID_LENGTH,    /* wrong number of characters */
    KV_ID_CHARSET,   /* a character outside [A-Z0-9] (lower case included) */
    KV_ID_PATTERN,   /* characters in the wrong places (year, country, ...) */
    KV_ID_PROCEDURE, /* 17th character not a transit procedure letter (J–M) */
    KV_ID_CHECK      /* the check digit does not match */
};

/* Which MRN layouts kv_mrn_verify accepts. */
enum kv_mrn_mode {
    KV_MRN_P5_OR_LEGACY, /* either layout, with a correct check digit */
    KV_MRN_P5_ONLY       /* NCTS P5 pattern only */
};

/*
 * The verdict on one identifier. position: for KV_ID_CHARSET and
 * KV_ID_PATTERN the first offending character; KV_ID_PROCEDURE 16;
 * KV_ID_CHECK the check digit's place; KV_ID_LENGTH the first character past
 * the longest allowed length when longer than that, else -1; -1 when valid.
 * KV_ID_PATTERN at position 0 for an MRN whose digits are all fine means a
 * year before 24 refused in P5-only mode.
 */
struct kv_id_result {
    enum kv_id_verdict verdict;
    int position;  /* 0-based position of the first bad character, or -1 */
    char expected; /* the correct check character when verdict == KV_ID_CHECK, else 0 */
    bool legacy;   /* the MRN matched the Phase 4 layout only (set from the layout on,
                      so also with KV_ID_CHECK); a year-24 J–M MRN counts as P5 */
};

/*
 * The ISO 6346 check character ('0'–'9') over the first n characters of s,
 * or -1 if a character has no value (not [A-Z0-9]) or s is NULL. Any n.
 */
int kv_check_char(const char *s, size_t n);

/*
 * The weighted sum behind the check character: sum of value(s[i]) * 2^i
 * for i < n (2,101,678 for "24GB000246J8NY33L"). -1 if a character has no
 * value, s is NULL or n > 32. For tests and documentation; the check
 * character is this sum mod 11, with 10 written as 0.
 */
int64_t kv_check_sum(const char *s, size_t n);

/*
 * Verifies an MRN of len bytes (no NUL needed; any byte may appear); fills
 * *res (may be NULL) with the first reason in the order length, character
 * set, pattern, procedure letter, check digit. Returns true when valid.
 */
bool kv_mrn_verify(const char *s, size_t len, enum kv_mrn_mode mode, struct kv_id_result *res);

/*
 * The transit procedure letter for a security indicator (R0410): 0 → 'J',
 * 1 → 'L', 2 → 'K', 3 → 'M'; 0 for anything else.
 */
char kv_mrn_letter_for_security(int security);

/*
 * Builds an MRN into out (19 bytes: 18 + NUL). year is the full year
 * (2000–2099), country a NUL-terminated string of exactly two upper-case
 * letters (shape only: ISO 3166 membership is the caller's check), serial
 * <= KV_MRN_SERIAL_MAX (encoded as 12 base-36 characters, 0–9 then A–Z,
 * zero-padded), security 0–3 (letter per R0410). Returns 0, or KV_EINVAL
 * (out untouched) when an argument is NULL or out of range. MRNs for years
 * before 2024 verify only as the Phase 4 layout.
 */
int kv_mrn_make(char out[KV_MRN_LEN + 1], int year, const char *country, uint64_t serial,
                int security);

/* Largest serial kv_mrn_make accepts: 36^12 - 1. */
#define KV_MRN_SERIAL_MAX 4738381338321616895ULL

/*
 * Verifies a GRN (XSD GRNType): YY + CC + 12 [A-Z0-9] + check digit over the
 * first 16 characters, optionally followed by a letter and 6 digits (a
 * voucher). Returns true when valid.
 */
bool kv_grn_verify(const char *s, size_t len, struct kv_id_result *res);

/*
 * Verifies an ISO 6346 container number: 3-letter owner code, category
 * letter U, J or Z, 6-digit serial, check digit. Returns true when valid.
 */
bool kv_container_verify(const char *s, size_t len, struct kv_id_result *res);

/* Short English text for a verdict ("check digit", "pattern", ...). */
const char *kv_id_verdict_text(enum kv_id_verdict v);

#endif
