/*
 * validate.c — the business rules of a transit declaration (validate.h).
 *
 * One walk over the model in the order of the JSON form (docs/declaration.md)
 * reports every problem with its rule id, the JSON pointer of the place and
 * a message that quotes the value and says what was expected. Cross-field
 * rules (itinerary, mass sums, numbering, seal uniqueness) are checked at
 * the place their pointer names. Rule ids and their sources are listed in
 * docs/declaration.md; the comments below name the NCTS rule (Rnnnn,
 * Cnnnn) or XSD type a check comes from.
 *
 * Presence of required members is the decoder's job (R-REQ-001): a NULL
 * field here means "absent or already reported", so rules simply skip it.
 */
#include "core/validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/declaration_json.h"
#include "core/err.h"
#include "core/ident.h"
#include "core/pointer.h"

struct val {
    const struct kv_declaration *d;
    const struct kv_ref *ref;
    struct kv_report *rep;
    struct kv_ptr ptr;
    char qbuf[4][128]; /* rotating buffers for quoted values */
    unsigned qnext;
    bool registry[26][26];                /* countries that have offices in the registry */
    int security;                         /* 0..3, or -1 when absent or invalid */
    bool tir;                             /* declaration type TIR */
    bool declared[KV_DECL_MAX_ITEMS + 1]; /* declaration goods item numbers in use */
    bool numbers_known;                   /* every goods item has a number in 1..1999 */
};

/* ------------------------------------------------------------------ */
/* Reporting helpers                                                  */
/* ------------------------------------------------------------------ */

static void vproblem(struct val *v, const char *key, const char *rule, const char *fmt, va_list ap)
{
    char msg[KV_MESSAGE_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t m = v->ptr.len;
    if (key)
        m = kv_ptr_push(&v->ptr, key);
    kv_report_add(v->rep, rule, v->ptr.buf, "%s", msg);
    kv_ptr_pop(&v->ptr, m);
}

/* Reports at the current pointer plus `key` (NULL: the current pointer itself). */
static void problem(struct val *v, const char *key, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct val *v, const char *key, const char *rule, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(v, key, rule, fmt, ap);
    va_end(ap);
}

/* `"value"`, JSON-escaped, at most 60 bytes shown; valid until four more calls. */
static const char *q(struct val *v, const char *s)
{
    char *b = v->qbuf[v->qnext++ % 4];
    b[0] = '"';
    kv_quote(b + 1, sizeof(v->qbuf[0]) - 2, s, strlen(s), 60);
    size_t n = strlen(b);
    b[n] = '"';
    b[n + 1] = '\0';
    return b;
}

static const char *qdec(struct val *v, const struct kv_decimal *d)
{
    char *b = v->qbuf[v->qnext++ % 4];
    if (kv_dec_format_written(d, b, sizeof(v->qbuf[0])) == 0)
        snprintf(b, sizeof(v->qbuf[0]), "?");
    return b;
}

static const char *qdec_short(struct val *v, const struct kv_decimal *d)
{
    char *b = v->qbuf[v->qnext++ % 4];
    if (kv_dec_format(d, b, sizeof(v->qbuf[0])) == 0)
        snprintf(b, sizeof(v->qbuf[0]), "?");
    return b;
}

static size_t push(struct val *v, const char *key)
{
    return kv_ptr_push(&v->ptr, key);
}

static size_t push_i(struct val *v, size_t i)
{
    return kv_ptr_push_index(&v->ptr, i);
}

static void pop(struct val *v, size_t mark)
{
    kv_ptr_pop(&v->ptr, mark);
}

/*
 * True when the report already holds a problem at the current pointer plus
 * `key`. The decoder leaves a member out of the model when its value is
 * refused (wrong type, malformed decimal); rules that would then call the
 * member "required" ask this first, so one mistake gives one problem.
 */
static bool reported(struct val *v, const char *key)
{
    size_t m = push(v, key);
    bool found = false;
    for (size_t i = 0; i < v->rep->count && !found; i++)
        found = strcmp(v->rep->items[i].pointer, v->ptr.buf) == 0;
    pop(v, m);
    return found;
}

/* ------------------------------------------------------------------ */
/* Text                                                               */
/* ------------------------------------------------------------------ */

/* Decodes the UTF-8 character at s[i] (input is valid UTF-8); sets *n to its length. */
static unsigned long utf8_at(const unsigned char *s, size_t len, size_t i, size_t *n)
{
    unsigned char c = s[i];
    if (c < 0x80 || i + 1 >= len) {
        *n = 1;
        return c;
    }
    if (c < 0xE0) {
        *n = 2;
        return ((unsigned long)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
    }
    if (c < 0xF0 && i + 2 < len) {
        *n = 3;
        return ((unsigned long)(c & 0x0F) << 12) | ((unsigned long)(s[i + 1] & 0x3F) << 6) |
               (s[i + 2] & 0x3F);
    }
    if (i + 3 < len) {
        *n = 4;
        return ((unsigned long)(c & 0x07) << 18) | ((unsigned long)(s[i + 1] & 0x3F) << 12) |
               ((unsigned long)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
    }
    *n = 1;
    return c;
}

/* Unicode separators (category Z): what the XSD pattern \P{Z} excludes. */
static bool is_separator(unsigned long cp)
{
    return cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

#define TX_EDGES_OK 1u /* leading/trailing spaces are not this item's concern */

/*
 * A free-text data item of at most `max` characters (an..max): not empty,
 * no control characters (XSD normalizedString), no leading or trailing
 * space (XSD *_NoSpaces: \P{Z}(.*\P{Z})?). Returns true when fine.
 */
static bool text(struct val *v, const char *key, const char *s, size_t max, unsigned flags)
{
    if (!s)
        return true;
    bool ok = true;
    size_t len = strlen(s);
    if (len == 0) {
        problem(v, key, "R-TEXT-001", "must not be empty (an..%zu)", max);
        return false;
    }
    size_t chars = utf8_chars(s);
    if (chars > max) {
        problem(v, key, "R-TEXT-001", "%s has %zu characters; at most %zu allowed (an..%zu)",
                q(v, s), chars, max, max);
        ok = false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F) {
            problem(v, key, "R-TEXT-003", "%s contains the control character U+%04X", q(v, s),
                    (unsigned)c);
            ok = false;
            break;
        }
    }
    if (!(flags & TX_EDGES_OK)) {
        const unsigned char *u = (const unsigned char *)s;
        size_t n = 0, last = len - 1;
        unsigned long first = utf8_at(u, len, 0, &n);
        while (last > 0 && (u[last] & 0xC0) == 0x80)
            last--;
        unsigned long lastcp = utf8_at(u, len, last, &n);
        if (is_separator(first) || is_separator(lastcp)) {
            problem(v, key, "R-TEXT-002", "%s begins or ends with a space", q(v, s));
            ok = false;
        }
    }
    return ok;
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* ------------------------------------------------------------------ */
/* Codes                                                              */
/* ------------------------------------------------------------------ */

/* "A, B, C" for lists of at most 12 codes, else "". */
static const char *list_codes(struct val *v, enum kv_list list)
{
    char *b = v->qbuf[v->qnext++ % 4];
    size_t n = v->ref ? kv_ref_count(v->ref, list) : 0, o = 0;
    b[0] = '\0';
    if (n == 0 || n > 12)
        return b;
    for (size_t i = 0; i < n; i++) {
        const char *code = kv_ref_code_at(v->ref, list, i);
        int w = snprintf(b + o, sizeof(v->qbuf[0]) - o, "%s%s", i ? ", " : "", code ? code : "");
        if (w < 0 || (size_t)w >= sizeof(v->qbuf[0]) - o)
            break;
        o += (size_t)w;
    }
    return b;
}

static bool has(const struct val *v, enum kv_list list, const char *s)
{
    return !v->ref || kv_ref_has(v->ref, list, s, strlen(s));
}

/* R-CTRY-001: an ISO 3166-1 alpha-2 code (CL008 / CL248 / CL165). */
static bool country(struct val *v, const char *key, const char *s)
{
    if (!s)
        return true;
    if (strlen(s) == 2 && is_upper(s[0]) && is_upper(s[1]) && has(v, KV_LIST_COUNTRY, s))
        return true;
    problem(v, key, "R-CTRY-001", "%s is not an ISO 3166-1 alpha-2 country code", q(v, s));
    return false;
}

/* R-CUR-001: an ISO 4217 alphabetic code in current use (CL048). */
static bool currency(struct val *v, const char *key, const char *s)
{
    if (!s)
        return true;
    if (strlen(s) == 3 && is_upper(s[0]) && is_upper(s[1]) && is_upper(s[2]) &&
        has(v, KV_LIST_CURRENCY, s))
        return true;
    problem(v, key, "R-CUR-001", "%s is not an ISO 4217 currency code", q(v, s));
    return false;
}

/* A code from a short kervan list: message names the list and its codes. */
static bool code_in(struct val *v, const char *key, const char *s, enum kv_list list,
                    const char *rule, const char *what, const char *cl)
{
    if (!s)
        return true;
    if (*s && has(v, list, s))
        return true;
    const char *codes = list_codes(v, list);
    if (*codes)
        problem(v, key, rule, "%s is not %s (%s: %s)", q(v, s), what, cl, codes);
    else
        problem(v, key, rule, "%s is not %s (%s)", q(v, s), what, cl);
    return false;
}

/* A code from a fixed set given as a NULL-terminated list. */
static bool code_fixed(struct val *v, const char *key, const char *s, const char *const *set,
                       const char *rule, const char *what, const char *cl)
{
    if (!s)
        return true;
    char codes[96];
    size_t o = 0;
    codes[0] = '\0';
    for (const char *const *c = set; *c; c++) {
        if (strcmp(*c, s) == 0)
            return true;
        int w = snprintf(codes + o, sizeof(codes) - o, "%s%s", c == set ? "" : ", ", *c);
        if (w > 0 && (size_t)w < sizeof(codes) - o)
            o += (size_t)w;
    }
    problem(v, key, rule, "%s is not %s (%s: %s)", q(v, s), what, cl, codes);
    return false;
}

/* ------------------------------------------------------------------ */
/* Dates                                                              */
/* ------------------------------------------------------------------ */

static int num(const char *s, size_t n)
{
    int x = 0;
    for (size_t i = 0; i < n; i++)
        x = x * 10 + (s[i] - '0');
    return x;
}

static bool valid_date(const char *s)
{
    if (!all_digits(s, 4) || s[4] != '-' || !all_digits(s + 5, 2) || s[7] != '-' ||
        !all_digits(s + 8, 2))
        return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int dim = mdays[m - 1] + (m == 2 && leap ? 1 : 0);
    return d <= dim;
}

/* R-DATE-001: XSD DateType, YYYY-MM-DD, a real calendar date. */
static bool date(struct val *v, const char *key, const char *s)
{
    if (!s)
        return true;
    if (strlen(s) == 10 && valid_date(s))
        return true;
    problem(v, key, "R-DATE-001", "%s is not a valid date (YYYY-MM-DD)", q(v, s));
    return false;
}

/* R-DATE-001: XSD DateTimeType, YYYY-MM-DDThh:mm:ss, no zone. */
static bool date_time(struct val *v, const char *key, const char *s)
{
    if (!s)
        return true;
    if (strlen(s) == 19 && valid_date(s) && s[10] == 'T' && all_digits(s + 11, 2) && s[13] == ':' &&
        all_digits(s + 14, 2) && s[16] == ':' && all_digits(s + 17, 2) && num(s + 11, 2) <= 23 &&
        num(s + 14, 2) <= 59 && num(s + 17, 2) <= 59)
        return true;
    problem(v, key, "R-DATE-001", "%s is not a valid date and time (YYYY-MM-DDThh:mm:ss)", q(v, s));
    return false;
}

/* ------------------------------------------------------------------ */
/* Customs offices                                                    */
/* ------------------------------------------------------------------ */

static const char *role_name(unsigned role)
{
    switch (role) {
    case KV_ROLE_DEP:
        return "an office of departure";
    case KV_ROLE_DES:
        return "an office of destination";
    case KV_ROLE_TRA:
        return "an office of transit";
    case KV_ROLE_TXT:
        return "an office of exit for transit";
    default:
        return "a customs office";
    }
}

static void roles_text(unsigned roles, char *b, size_t sz)
{
    static const struct {
        unsigned bit;
        const char *name;
    } r[] = {{KV_ROLE_DEP, "DEP"}, {KV_ROLE_TRA, "TRA"}, {KV_ROLE_TXT, "TXT"},
             {KV_ROLE_DES, "DES"}, {KV_ROLE_INC, "INC"}, {KV_ROLE_GUA, "GUA"}};
    size_t o = 0;
    b[0] = '\0';
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        if (!(roles & r[i].bit))
            continue;
        int w = snprintf(b + o, sz - o, "%s%s", o ? " " : "", r[i].name);
        if (w > 0 && (size_t)w < sz - o)
            o += (size_t)w;
    }
    if (o == 0)
        snprintf(b, sz, "none");
}

/*
 * R-OFF-001..004: a customs office reference (XSD CORefNumType: 2 letters
 * and 6 letters or digits); its country must be an ISO country; when that
 * country has offices in the corridor registry, the office must be there
 * with the role asked (role 0: any role).
 */
static bool office(struct val *v, const char *key, const char *s, unsigned role)
{
    if (!s)
        return true;
    size_t len = strlen(s);
    bool shape = len == 8 && is_upper(s[0]) && is_upper(s[1]);
    for (size_t i = 2; shape && i < 8; i++)
        shape = is_upper(s[i]) || is_digit(s[i]);
    if (!shape) {
        problem(v, key, "R-OFF-001",
                "%s is not a customs office reference: 2 letters and 6 letters or digits expected",
                q(v, s));
        return false;
    }
    char cc[3] = {s[0], s[1], '\0'};
    if (!has(v, KV_LIST_COUNTRY, cc)) {
        problem(v, key, "R-OFF-002", "%s: %s is not an ISO 3166-1 country code", q(v, s), q(v, cc));
        return false;
    }
    if (!v->ref || !v->registry[s[0] - 'A'][s[1] - 'A'])
        return true;
    const struct kv_office *o = kv_ref_office(v->ref, s, 8);
    if (!o) {
        problem(v, key, "R-OFF-003", "%s is not in the corridor's office registry", q(v, s));
        return false;
    }
    if (role && !(o->roles & role)) {
        char roles[48];
        roles_text(o->roles, roles, sizeof(roles));
        problem(v, key, "R-OFF-004", "%s (%s) is not %s (its roles: %s)", q(v, s),
                o->name ? o->name : "", role_name(role), roles);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Parties                                                            */
/* ------------------------------------------------------------------ */

/* R-EMAIL-001: XSD EmailAddressType256_NoSpaces, \P{Z}[^@]*@[^\.]+\..*\P{Z}. */
static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || *s == ' ')
        return false;
    const char *dot = strchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == '\0')
        return false;
    return s[strlen(s) - 1] != ' ';
}

static void address(struct val *v, const char *key, const struct kv_address *a)
{
    if (!a)
        return;
    size_t m = push(v, key);
    text(v, "street", a->street, 70, 0);
    text(v, "postcode", a->postcode, 17, 0);
    text(v, "city", a->city, 35, 0);
    country(v, "country", a->country);
    pop(v, m);
}

static void contact(struct val *v, const struct kv_contact *k)
{
    if (!k)
        return;
    size_t m = push(v, "contact");
    text(v, "name", k->name, 70, 0);
    text(v, "phone", k->phone, 35, TX_EDGES_OK);
    if (text(v, "email", k->email, 256, 0) && k->email && !email_ok(k->email))
        problem(v, "email", "R-EMAIL-001", "%s is not an e-mail address", q(v, k->email));
    pop(v, m);
}

/*
 * R-PARTY-001 (after C0250): a party is identified by its identification
 * number, or else by name and address. kervan has no operator registry, so
 * any well-formed number is accepted as identification.
 */
static void party(struct val *v, const char *key, const struct kv_party *p)
{
    if (!p)
        return;
    size_t m = push(v, key);
    text(v, "id", p->id, 17, 0);
    text(v, "name", p->name, 70, 0);
    address(v, "address", p->address);
    contact(v, p->contact);
    if (!p->id && !(p->name && p->address) && !reported(v, "id") && !reported(v, "name") &&
        !reported(v, "address"))
        problem(v, NULL, "R-PARTY-001",
                "needs an identification number, or a name and an address (C0250)");
    pop(v, m);
}

/* ------------------------------------------------------------------ */
/* Transit operation and offices                                      */
/* ------------------------------------------------------------------ */

/* XSD TIRcarnetNumber. */
static bool tir_carnet_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > 0 && all_digits(s, n)) {
        if (n <= 7 && s[0] != '0')
            return true; /* [1-9][0-9]{0,6} */
        if (n >= 2 && n <= 8 && (s[0] == '1' || (s[0] == '2' && s[1] <= '4')))
            return true; /* (1[0-9]|2[0-4])[0-9]{0,6} */
        return strcmp(s, "25000000") == 0;
    }
    /* (X[A-Z]|[A-Z]X)(2[5-9]|[3-9][0-9]|[1-9][0-9][0-9])[0-9]{6} */
    if ((n != 10 && n != 11) || !is_upper(s[0]) || !is_upper(s[1]) ||
        (s[0] != 'X' && s[1] != 'X') || !all_digits(s + 2, n - 2))
        return false;
    if (n == 10)
        return (s[2] == '2' && s[3] >= '5') || s[2] >= '3';
    return s[2] != '0';
}

static void transit_operation(struct val *v)
{
    const struct kv_declaration *d = v->d;
    if (text(v, "lrn", d->lrn, 22, TX_EDGES_OK) && d->lrn) {
        const unsigned char *u = (const unsigned char *)d->lrn;
        size_t len = strlen(d->lrn);
        for (size_t i = 0, n = 1; i < len; i += n) {
            if (is_separator(utf8_at(u, len, i, &n))) {
                problem(v, "lrn", "R-LRN-001", "%s contains a space; an LRN has none",
                        q(v, d->lrn));
                break;
            }
        }
    }
    code_in(v, "declarationType", d->declaration_type, KV_LIST_DECLARATION_TYPE, "R-DECL-001",
            "a declaration type", "CL231");
    static const char *const adt[] = {"A", "D", NULL};
    code_fixed(v, "additionalDeclarationType", d->additional_declaration_type, adt, "R-DECL-002",
               "an additional declaration type", "CL042");
    /* C0411: the TIR carnet number goes with, and only with, declaration type TIR. */
    if (v->tir && !d->tir_carnet_number && !reported(v, "tirCarnetNumber"))
        problem(v, "tirCarnetNumber", "R-DECL-003",
                "required when the declaration type is \"TIR\" (C0411)");
    if (!v->tir && d->tir_carnet_number && d->declaration_type)
        problem(v, "tirCarnetNumber", "R-DECL-003",
                "not allowed with declaration type %s; only with \"TIR\" (C0411)",
                q(v, d->declaration_type));
    else if (d->tir_carnet_number && !tir_carnet_ok(d->tir_carnet_number))
        problem(v, "tirCarnetNumber", "R-DECL-004",
                "%s is not a TIR carnet number (XSD TIRcarnetNumber, e.g. \"XG70123456\")",
                q(v, d->tir_carnet_number));
    code_in(v, "security", d->security, KV_LIST_SECURITY, "R-SEC-001", "a security indicator",
            "CL217");
    date(v, "limitDate", d->limit_date);
}

static void offices(struct val *v)
{
    const struct kv_declaration *d = v->d;
    office(v, "officeOfDeparture", d->office_of_departure, KV_ROLE_DEP);
    office(v, "officeOfDestination", d->office_of_destination, KV_ROLE_DES);

    if (d->n_transit) {
        size_t m = push(v, "officesOfTransit");
        /* C0030: no office of transit under TIR (the carnet covers the transit). */
        if (v->tir)
            problem(v, NULL, "R-DECL-006",
                    "offices of transit are not declared for declaration type \"TIR\" (C0030)");
        const char *last_arrival = NULL;
        for (size_t i = 0; i < d->n_transit; i++) {
            const struct kv_transit_office *t = &d->transit[i];
            size_t mi = push_i(v, i);
            if (office(v, "office", t->office, KV_ROLE_TRA) && t->office) {
                for (size_t j = 0; j < i; j++) {
                    if (d->transit[j].office && strcmp(d->transit[j].office, t->office) == 0) {
                        problem(v, "office", "R-OFF-005",
                                "%s is already declared at /officesOfTransit/%zu/office; each "
                                "office of transit is declared once (R0003)",
                                q(v, t->office), j);
                        break;
                    }
                }
            }
            if (date_time(v, "arrival", t->arrival) && t->arrival) {
                if (last_arrival && strcmp(t->arrival, last_arrival) < 0)
                    problem(v, "arrival", "R-DATE-002",
                            "%s is earlier than the estimated arrival at the previous office "
                            "of transit, %s",
                            q(v, t->arrival), q(v, last_arrival));
                last_arrival = t->arrival;
            }
            pop(v, mi);
        }
        pop(v, m);
    }

    if (d->n_exit) {
        size_t m = push(v, "officesOfExitForTransit");
        /* C0587: exit for transit goes with exit summary data (security 2 or 3). */
        if (v->security == 0 || v->security == 1)
            problem(v, NULL, "R-SEC-003",
                    "offices of exit for transit need security \"2\" or \"3\" (exit summary "
                    "data), not \"%d\" (C0587)",
                    v->security);
        for (size_t i = 0; i < d->n_exit; i++) {
            const char *s = d->exit_for_transit[i];
            size_t mi = push_i(v, i);
            if (office(v, NULL, s, KV_ROLE_TXT) && s) {
                /* R0103: not also an office of transit or the destination. */
                bool dup = d->office_of_destination && strcmp(s, d->office_of_destination) == 0;
                for (size_t j = 0; !dup && j < d->n_transit; j++)
                    dup = d->transit[j].office && strcmp(d->transit[j].office, s) == 0;
                if (dup)
                    problem(v, NULL, "R-OFF-006",
                            "%s is also declared as office of transit or destination (R0103)",
                            q(v, s));
            }
            pop(v, mi);
        }
        pop(v, m);
    }
}

static void holder(struct val *v)
{
    const struct kv_holder *h = v->d->holder;
    if (!h)
        return;
    size_t m = push(v, "holder");
    text(v, "id", h->id, 17, 0);
    text(v, "tirHolderId", h->tir_holder_id, 17, 0);
    /* C0904: the TIR holder identification number goes with, and only with, TIR. */
    if (v->tir && !h->tir_holder_id && !reported(v, "tirHolderId"))
        problem(v, "tirHolderId", "R-DECL-005",
                "required when the declaration type is \"TIR\" (C0904)");
    else if (!v->tir && h->tir_holder_id && v->d->declaration_type)
        problem(v, "tirHolderId", "R-DECL-005",
                "not allowed with declaration type %s; only with \"TIR\" (C0904)",
                q(v, v->d->declaration_type));
    text(v, "name", h->name, 70, 0);
    address(v, "address", h->address);
    contact(v, h->contact);
    if (!h->id && !(h->name && h->address) && !reported(v, "id") && !reported(v, "name") &&
        !reported(v, "address"))
        problem(v, NULL, "R-PARTY-001",
                "needs an identification number, or a name and an address (C0250)");
    pop(v, m);
}

static void representative(struct val *v)
{
    const struct kv_representative *r = v->d->representative;
    if (!r)
        return;
    static const char *const status[] = {"1", "2", "3", NULL};
    size_t m = push(v, "representative");
    text(v, "id", r->id, 17, 0);
    code_fixed(v, "status", r->status, status, "R-REP-001", "a representative status", "CL094");
    contact(v, r->contact);
    pop(v, m);
}

/* ------------------------------------------------------------------ */
/* Guarantees                                                         */
/* ------------------------------------------------------------------ */

/* CL286 (GuaranteeTypeWithGRN): the types whose references carry a GRN and access code. */
static bool type_with_grn(const char *t)
{
    return t && strlen(t) == 1 && strchr("01249", t[0]);
}

static void grn(struct val *v, const char *s)
{
    struct kv_id_result r;
    if (kv_grn_verify(s, strlen(s), &r))
        return;
    switch (r.verdict) {
    case KV_ID_CHECK:
        problem(v, "grn", "R-GUA-003", "%s: the check digit is %c, expected %c", q(v, s),
                s[r.position >= 0 ? r.position : 16], r.expected);
        break;
    case KV_ID_LENGTH:
        problem(v, "grn", "R-GUA-003",
                "%s is not a GRN: 17 characters expected (24 with a voucher number)", q(v, s));
        break;
    case KV_ID_CHARSET:
        problem(v, "grn", "R-GUA-003",
                "%s is not a GRN: character %d is not a capital letter or a digit", q(v, s),
                r.position + 1);
        break;
    default:
        problem(v, "grn", "R-GUA-003",
                "%s is not a GRN: character %d does not fit the layout YY, country, 12 letters "
                "or digits, check digit (XSD GRNType)",
                q(v, s), r.position + 1);
        break;
    }
}

static void guarantees(struct val *v)
{
    const struct kv_declaration *d = v->d;
    if (!d->n_guarantees)
        return;
    size_t m = push(v, "guarantees");
    for (size_t i = 0; i < d->n_guarantees; i++) {
        const struct kv_guarantee *g = &d->guarantees[i];
        size_t mi = push_i(v, i);
        bool type_ok = code_in(v, "type", g->type, KV_LIST_GUARANTEE_TYPE, "R-GUA-001",
                               "a guarantee type", "CL251");
        if (type_ok && g->type) {
            /* R-GUA-008: TIR goods travel under guarantee type B, and B is only for TIR. */
            if (v->tir && strcmp(g->type, "B") != 0)
                problem(v, "type", "R-GUA-008",
                        "%s: a TIR declaration is covered by guarantee type \"B\" (TIR carnet)",
                        q(v, g->type));
            else if (!v->tir && d->declaration_type && strcmp(g->type, "B") == 0)
                problem(v, "type", "R-GUA-008",
                        "guarantee type \"B\" is only for declaration type \"TIR\", not %s",
                        q(v, d->declaration_type));
        }
        bool with_grn = type_ok && type_with_grn(g->type);
        /* C0130: other guarantee reference: required for 8, optional for 3, else not allowed. */
        if (type_ok && g->type) {
            bool eight = strcmp(g->type, "8") == 0, three = strcmp(g->type, "3") == 0;
            if (eight && !g->other_ref && !reported(v, "otherReference"))
                problem(v, "otherReference", "R-GUA-007",
                        "required for guarantee type \"8\" (C0130)");
            else if (!eight && !three && g->other_ref)
                problem(v, "otherReference", "R-GUA-007",
                        "not allowed for guarantee type %s; only for \"3\" and \"8\" (C0130)",
                        q(v, g->type));
        }
        text(v, "otherReference", g->other_ref, 35, 0);
        /* C0085/C0086: types with a GRN need at least one reference. */
        if (with_grn && g->n_refs == 0 && !reported(v, "references"))
            problem(v, "references", "R-GUA-009",
                    "guarantee type %s needs a guarantee reference with GRN and access code "
                    "(C0085, C0086)",
                    q(v, g->type));
        if (g->n_refs) {
            size_t mr = push(v, "references");
            for (size_t j = 0; j < g->n_refs; j++) {
                const struct kv_guarantee_ref *r = &g->refs[j];
                size_t mj = push_i(v, j);
                if (with_grn) {
                    if (!r->grn && !reported(v, "grn"))
                        problem(v, "grn", "R-GUA-002", "required for guarantee type %s (C0086)",
                                q(v, g->type));
                    else if (r->grn)
                        grn(v, r->grn);
                    if (!r->access_code && !reported(v, "accessCode"))
                        problem(v, "accessCode", "R-GUA-002",
                                "required for guarantee type %s (C0086)", q(v, g->type));
                } else if (type_ok && g->type) {
                    if (r->grn)
                        problem(v, "grn", "R-GUA-002",
                                "not allowed for guarantee type %s; only for 0, 1, 2, 4 and 9 "
                                "(C0086)",
                                q(v, g->type));
                    if (r->access_code)
                        problem(v, "accessCode", "R-GUA-002",
                                "not allowed for guarantee type %s; only for 0, 1, 2, 4 and 9 "
                                "(C0086)",
                                q(v, g->type));
                }
                if (r->access_code) {
                    if (utf8_chars(r->access_code) != 4)
                        problem(v, "accessCode", "R-GUA-004",
                                "%s is not an access code: exactly 4 characters expected (an4)",
                                q(v, r->access_code));
                    else
                        text(v, "accessCode", r->access_code, 4, 0);
                }
                if (r->amount && kv_dec_is_zero(r->amount))
                    problem(v, "amount", "R-GUA-005",
                            "is %s; the amount to be covered must be greater than zero",
                            qdec(v, r->amount));
                if (r->amount && !r->currency && !reported(v, "currency"))
                    problem(v, "currency", "R-GUA-006", "required with the amount to be covered");
                else if (!r->amount && r->currency && !reported(v, "amount"))
                    problem(v, "amount", "R-GUA-006", "required with the currency");
                currency(v, "currency", r->currency);
                pop(v, mj);
            }
            pop(v, mr);
        }
        pop(v, mi);
    }
    /* R-GUA-008: a TIR declaration needs its B guarantee. */
    bool any_b = false;
    for (size_t i = 0; i < d->n_guarantees; i++)
        any_b = any_b || (d->guarantees[i].type && strcmp(d->guarantees[i].type, "B") == 0);
    if (v->tir && !any_b)
        problem(v, NULL, "R-GUA-008",
                "a TIR declaration needs a guarantee of type \"B\" (TIR carnet)");
    pop(v, m);
}

/* ------------------------------------------------------------------ */
/* Consignment                                                        */
/* ------------------------------------------------------------------ */

/* R-LOC-003: a UN/LOCODE, country + 3 letters or digits 2-9 (CL244). */
static void unlocode(struct val *v, const char *key, const char *s)
{
    if (!s)
        return;
    bool ok = strlen(s) == 5;
    for (size_t i = 2; ok && i < 5; i++)
        ok = is_upper(s[i]) || (s[i] >= '2' && s[i] <= '9');
    char cc[3] = {s[0], s[0] ? s[1] : '\0', '\0'};
    if (ok)
        ok = is_upper(cc[0]) && is_upper(cc[1]) && has(v, KV_LIST_COUNTRY, cc);
    if (!ok)
        problem(v, key, "R-LOC-003",
                "%s is not a UN/LOCODE: a country code and 3 letters or digits 2-9 expected",
                q(v, s));
}

/* R-LOC-004: XSD GNSSLatitude / GNSSLongitude. */
static bool gnss_ok(const char *s, bool longitude)
{
    if (*s == '+' || *s == '-')
        s++;
    const char *max = longitude ? "180." : "90.";
    size_t ml = strlen(max);
    const char *p;
    if (strncmp(s, max, ml) == 0) {
        p = s + ml;
        size_t z = strspn(p, "0");
        return z >= 5 && z <= 7 && p[z] == '\0';
    }
    size_t ni = strspn(s, "0123456789");
    if (ni == 0 || ni > (longitude ? 3u : 2u) || s[ni] != '.')
        return false;
    if (num(s, ni) > (longitude ? 179 : 89))
        return false;
    p = s + ni + 1;
    size_t nf = strspn(p, "0123456789");
    return nf >= 5 && nf <= 7 && p[nf] == '\0';
}

static void location(struct val *v, const struct kv_location *l)
{
    if (!l)
        return;
    static const char *const types[] = {"A", "B", "C", "D", NULL};
    static const char *const quals[] = {"T", "U", "V", "W", "X", "Y", "Z", NULL};
    size_t m = push(v, "locationOfGoods");
    code_fixed(v, "type", l->type, types, "R-LOC-001", "a type of location", "CL347");
    code_fixed(v, "qualifier", l->qualifier, quals, "R-LOC-002", "a qualifier of identification",
               "CL326");
    text(v, "authorisationNumber", l->authorisation, 35, 0);
    unlocode(v, "unLocode", l->unlocode);
    office(v, "customsOffice", l->office, KV_ROLE_DEP);
    if (l->gnss) {
        size_t mg = push(v, "gnss");
        if (l->gnss->latitude && !gnss_ok(l->gnss->latitude, false))
            problem(v, "latitude", "R-LOC-004",
                    "%s is not a latitude: degrees -90..90 with 5 to 7 decimals expected",
                    q(v, l->gnss->latitude));
        if (l->gnss->longitude && !gnss_ok(l->gnss->longitude, true))
            problem(v, "longitude", "R-LOC-004",
                    "%s is not a longitude: degrees -180..180 with 5 to 7 decimals expected",
                    q(v, l->gnss->longitude));
        pop(v, mg);
    }
    address(v, "address", l->address);
    pop(v, m);
}

static void means_type(struct val *v, const char *s)
{
    if (s && !(strlen(s) == 2 && all_digits(s, 2)))
        problem(v, "typeOfIdentification", "R-MEANS-001",
                "%s is not a type of identification: 2 digits expected (n2)", q(v, s));
}

static void place(struct val *v, const char *key, const struct kv_place *p)
{
    if (!p)
        return;
    size_t m = push(v, key);
    unlocode(v, "unLocode", p->unlocode);
    country(v, "country", p->country);
    text(v, "location", p->location, 35, 0);
    pop(v, m);
}

/* A seal identifier with where it was found, for R0107. */
struct seal_at {
    const char *id;
    size_t te, seal, order;      /* this occurrence */
    size_t first_te, first_seal; /* the first occurrence of the same identifier */
};

static int seal_cmp(const void *a, const void *b)
{
    const struct seal_at *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->order < y->order ? -1 : (x->order > y->order ? 1 : 0);
}

static int seal_order_cmp(const void *a, const void *b)
{
    const struct seal_at *x = a, *y = b;
    return x->order < y->order ? -1 : (x->order > y->order ? 1 : 0);
}

/* R-SEAL-003 (R0107): every seal identifier is unique in the declaration. */
static void unique_seals(struct val *v, const struct kv_consignment *k)
{
    size_t n = 0;
    for (size_t i = 0; i < k->n_equipment; i++)
        n += k->equipment[i].n_seals;
    if (n < 2)
        return;
    struct seal_at *all = calloc(n, sizeof(*all));
    struct seal_at *dups = calloc(n, sizeof(*dups));
    if (!all || !dups) {
        v->rep->oom = true;
        free(all);
        free(dups);
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < k->n_equipment; i++)
        for (size_t j = 0; j < k->equipment[i].n_seals; j++)
            if (k->equipment[i].seals[j] && k->equipment[i].seals[j][0]) {
                all[o].id = k->equipment[i].seals[j];
                all[o].te = i;
                all[o].seal = j;
                all[o].order = o;
                o++;
            }
    qsort(all, o, sizeof(*all), seal_cmp);
    /* In each run of equal identifiers the first (in document order) is the original. */
    size_t nd = 0, run = 0;
    for (size_t i = 1; i < o; i++) {
        if (strcmp(all[i].id, all[run].id) != 0) {
            run = i;
            continue;
        }
        dups[nd] = all[i];
        dups[nd].first_te = all[run].te;
        dups[nd].first_seal = all[run].seal;
        nd++;
    }
    qsort(dups, nd, sizeof(*dups), seal_order_cmp);
    for (size_t i = 0; i < nd; i++) {
        size_t m1 = push(v, "transportEquipment");
        push_i(v, dups[i].te);
        push(v, "seals");
        push_i(v, dups[i].seal);
        problem(v, NULL, "R-SEAL-003",
                "%s is already used at /consignment/transportEquipment/%zu/seals/%zu; seal "
                "identifiers are unique in a declaration (R0107)",
                q(v, dups[i].id), dups[i].first_te, dups[i].first_seal);
        pop(v, m1);
    }
    free(all);
    free(dups);
}

static void equipment(struct val *v, const struct kv_consignment *k)
{
    if (!k->n_equipment)
        return;
    size_t m = push(v, "transportEquipment");
    bool any_container = false;
    for (size_t i = 0; i < k->n_equipment; i++) {
        const struct kv_equipment *e = &k->equipment[i];
        size_t mi = push_i(v, i);
        if (e->container_id) {
            any_container = true;
            const char *c = e->container_id;
            if (text(v, "containerId", c, 17, 0)) {
                /* R0028: an ISO 6346 number (4 letters, 7 digits) has a valid check digit. */
                bool iso = strlen(c) == 11 && all_digits(c + 4, 7);
                for (size_t j = 0; iso && j < 4; j++)
                    iso = is_upper(c[j]);
                struct kv_id_result r;
                if (iso && !kv_container_verify(c, 11, &r)) {
                    if (r.verdict == KV_ID_CHECK)
                        problem(v, "containerId", "R-CONT-001",
                                "%s: the ISO 6346 check digit is %c, expected %c (R0028)", q(v, c),
                                c[10], r.expected);
                    else
                        problem(v, "containerId", "R-CONT-001",
                                "%s: the 4th letter (equipment category) must be U, J or Z "
                                "(ISO 6346, R0028)",
                                q(v, c));
                }
            }
            if (k->container_indicator == KV_YESNO_NO)
                problem(v, "containerId", "R-CONT-002",
                        "not allowed when the consignment's containerIndicator is false (C0055)");
        }
        if (e->number_of_seals.set) {
            int64_t ns = e->number_of_seals.value;
            if (ns < 0 || ns > 9999)
                problem(v, "numberOfSeals", "R-NUM-001", "%lld is out of range 0..9999 (n..4)",
                        (long long)ns);
            else if (ns == 0 && !e->container_id)
                problem(v, "numberOfSeals", "R-SEAL-002",
                        "0 is not allowed without a container identification number (R0448)");
            else if ((size_t)ns != e->n_seals)
                problem(v, "numberOfSeals", "R-SEAL-001", "is %lld but %zu seal%s listed (R0106)",
                        (long long)ns, e->n_seals, e->n_seals == 1 ? " is" : "s are");
        }
        if (e->n_seals) {
            size_t ms = push(v, "seals");
            for (size_t j = 0; j < e->n_seals; j++) {
                size_t mj = push_i(v, j);
                text(v, NULL, e->seals[j], 20, 0);
                pop(v, mj);
            }
            pop(v, ms);
        }
        if (e->n_goods_refs) {
            size_t mg = push(v, "goodsReferences");
            for (size_t j = 0; j < e->n_goods_refs; j++) {
                int64_t g = e->goods_refs[j];
                size_t mj = push_i(v, j);
                /* With an item number missing or out of range (already reported) any
                   in-range reference might be meant for it: only out-of-range ones are
                   reported then. */
                if (g < 1 || g > KV_DECL_MAX_ITEMS || (v->numbers_known && !v->declared[g]))
                    problem(v, NULL, "R-TE-001",
                            "%lld is not the declaration goods item number of any goods item",
                            (long long)g);
                pop(v, mj);
            }
            pop(v, mg);
        }
        pop(v, mi);
    }
    pop(v, m);
    if (k->container_indicator == KV_YESNO_YES && !any_container)
        problem(v, "containerIndicator", "R-CONT-002",
                "is true but no transport equipment has a container identification number "
                "(C0055)");
    unique_seals(v, k);
}

/* Index of the first routing country at or after `from` equal to cc, or -1. */
static long find_country(const struct kv_consignment *k, size_t from, const char *cc)
{
    for (size_t j = from; j < k->n_routing; j++)
        if (k->routing[j] && strncmp(k->routing[j], cc, 2) == 0 && strlen(k->routing[j]) == 2)
            return (long)j;
    return -1;
}

/*
 * R-ITIN-004/005: the countries of a list of offices appear in the countries
 * of routing, in the order the offices are declared. `sub` names the member
 * holding the reference inside each entry (NULL: the entry is the reference).
 */
static void offices_on_route(struct val *v, const struct kv_consignment *k, const char *list,
                             const char *const *refs, size_t n, const char *sub)
{
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ref = refs[i];
        if (!ref || strlen(ref) != 8)
            continue;
        char cc[3] = {ref[0], ref[1], '\0'};
        long at = find_country(k, pos, cc);
        if (at >= 0) {
            pos = (size_t)at;
            continue;
        }
        size_t m1 = push(v, list);
        push_i(v, i);
        if (find_country(k, 0, cc) >= 0)
            problem(v, sub, "R-ITIN-005",
                    "%s is in %s, which comes before the previous office's country in the "
                    "countries of routing; offices follow the itinerary",
                    q(v, ref), q(v, cc));
        else
            problem(v, sub, "R-ITIN-004", "%s is in %s, which is not in the countries of routing",
                    q(v, ref), q(v, cc));
        pop(v, m1);
    }
}

static void itinerary(struct val *v, const struct kv_consignment *k)
{
    const struct kv_declaration *d = v->d;
    /* C0586: binding itinerary or safety and security data need the countries of routing. */
    if (k->n_routing == 0) {
        if (reported(v, "countriesOfRouting"))
            return;
        if (d->binding_itinerary == KV_YESNO_YES)
            problem(v, "countriesOfRouting", "R-ITIN-001",
                    "required when bindingItinerary is true (C0586)");
        else if (v->security >= 1)
            problem(v, "countriesOfRouting", "R-ITIN-001", "required with security \"%d\" (C0586)",
                    v->security);
        return;
    }
    size_t m = push(v, "countriesOfRouting");
    for (size_t i = 0; i < k->n_routing; i++) {
        size_t mi = push_i(v, i);
        if (country(v, NULL, k->routing[i]) && k->routing[i] && i > 0 && k->routing[i - 1] &&
            strcmp(k->routing[i], k->routing[i - 1]) == 0)
            problem(v, NULL, "R-ITIN-006", "%s follows itself; list each country once per passage",
                    q(v, k->routing[i]));
        pop(v, mi);
    }
    const char *first = k->routing[0], *last = k->routing[k->n_routing - 1];
    const char *dep = d->office_of_departure, *des = d->office_of_destination;
    if (first && dep && strlen(dep) == 8 && strncmp(first, dep, 2) != 0) {
        size_t m0 = push_i(v, 0);
        problem(v, NULL, "R-ITIN-002",
                "the itinerary starts in %s, but the office of departure %s is in \"%.2s\"",
                q(v, first), q(v, dep), dep);
        pop(v, m0);
    }
    if (last && des && strlen(des) == 8 && strncmp(last, des, 2) != 0) {
        size_t ml = push_i(v, k->n_routing - 1);
        problem(v, NULL, "R-ITIN-003",
                "the itinerary ends in %s, but the office of destination %s is in \"%.2s\"",
                q(v, last), q(v, des), des);
        pop(v, ml);
    }
    pop(v, m);
    /* A refused entry (already reported) could be any country: do not guess the order. */
    for (size_t i = 0; i < k->n_routing; i++)
        if (!k->routing[i])
            return;
    /* The pointers of these problems start at the root: leave /consignment. */
    struct kv_ptr saved = v->ptr;
    kv_ptr_init(&v->ptr);
    const char
        *refs[KV_DECL_MAX_TRANSIT > KV_DECL_MAX_EXIT ? KV_DECL_MAX_TRANSIT : KV_DECL_MAX_EXIT];
    size_t nt = d->n_transit < KV_DECL_MAX_TRANSIT ? d->n_transit : KV_DECL_MAX_TRANSIT;
    for (size_t i = 0; i < nt; i++)
        refs[i] = d->transit[i].office;
    offices_on_route(v, k, "officesOfTransit", refs, nt, "office");
    size_t ne = d->n_exit < KV_DECL_MAX_EXIT ? d->n_exit : KV_DECL_MAX_EXIT;
    for (size_t i = 0; i < ne; i++)
        refs[i] = d->exit_for_transit[i];
    offices_on_route(v, k, "officesOfExitForTransit", refs, ne, NULL);
    v->ptr = saved;
}

static void consignment(struct val *v)
{
    const struct kv_consignment *k = v->d->consignment;
    if (!k)
        return;
    size_t m = push(v, "consignment");
    country(v, "countryOfDispatch", k->country_of_dispatch);
    country(v, "countryOfDestination", k->country_of_destination);
    code_in(v, "inlandMode", k->inland_mode, KV_LIST_TRANSPORT_MODE, "R-MODE-001",
            "a mode of transport", "CL218");
    code_in(v, "borderMode", k->border_mode, KV_LIST_TRANSPORT_MODE, "R-MODE-001",
            "a mode of transport", "CL218");
    /* C0029: safety and security data need the mode of transport at the border. */
    if (v->security >= 1 && !k->border_mode && !reported(v, "borderMode"))
        problem(v, "borderMode", "R-SEC-002", "required with security \"%d\" (C0029)", v->security);
    if (k->gross_mass && kv_dec_is_zero(k->gross_mass))
        problem(v, "grossMass", "R-MASS-004", "is %s; the gross mass must be greater than zero",
                qdec(v, k->gross_mass));
    text(v, "ucr", k->ucr, 35, 0);
    if (k->carrier) {
        size_t mc = push(v, "carrier");
        const char *id = k->carrier->id;
        /* XSD TINNewType: a country code then 1 to 15 visible characters. */
        if (text(v, "id", id, 17, 0) && id) {
            bool ok = strlen(id) >= 3 && is_upper(id[0]) && is_upper(id[1]);
            for (const char *p = id; ok && *p; p++)
                ok = *p > ' ' && *p < 0x7f;
            if (!ok)
                problem(v, "id", "R-ID-001",
                        "%s is not a TIN: a country code and 1 to 15 visible ASCII characters "
                        "expected (XSD TINNewType)",
                        q(v, id));
        }
        contact(v, k->carrier->contact);
        pop(v, mc);
    }
    party(v, "consignor", k->consignor);
    party(v, "consignee", k->consignee);
    equipment(v, k);
    location(v, k->location);
    if (k->n_departure_means) {
        size_t md = push(v, "departureTransportMeans");
        for (size_t i = 0; i < k->n_departure_means; i++) {
            const struct kv_transport_means *t = &k->departure_means[i];
            size_t mi = push_i(v, i);
            means_type(v, t->type_of_id);
            text(v, "identificationNumber", t->id, 35, 0);
            country(v, "nationality", t->nationality);
            pop(v, mi);
        }
        pop(v, md);
    }
    itinerary(v, k);
    if (k->n_border_means) {
        size_t mb = push(v, "activeBorderTransportMeans");
        for (size_t i = 0; i < k->n_border_means; i++) {
            const struct kv_border_means *b = &k->border_means[i];
            size_t mi = push_i(v, i);
            office(v, "customsOffice", b->office, 0);
            means_type(v, b->type_of_id);
            text(v, "identificationNumber", b->id, 35, 0);
            country(v, "nationality", b->nationality);
            text(v, "conveyanceReference", b->conveyance_ref, 17, 0);
            pop(v, mi);
        }
        pop(v, mb);
    }
    place(v, "placeOfLoading", k->loading);
    place(v, "placeOfUnloading", k->unloading);
    /* C0191: place of unloading: required for security 1 and 3, not allowed for 0. */
    if ((v->security == 1 || v->security == 3) && !k->unloading && !reported(v, "placeOfUnloading"))
        problem(v, "placeOfUnloading", "R-SEC-004", "required with security \"%d\" (C0191)",
                v->security);
    else if (v->security == 0 && k->unloading)
        problem(v, "placeOfUnloading", "R-SEC-004", "not allowed with security \"0\" (C0191)");
    pop(v, m);
}

/* ------------------------------------------------------------------ */
/* House consignments and goods items                                 */
/* ------------------------------------------------------------------ */

/* C0060: kinds of packages; CL181 bulk and CL182 unpacked (data/packages.tsv "kind"). */
static bool is_bulk(const char *t)
{
    static const char *const bulk[] = {"VG", "VL", "VO", "VQ", "VR", "VS", "VY", NULL};
    for (const char *const *b = bulk; *b; b++)
        if (strcmp(*b, t) == 0)
            return true;
    return false;
}

static bool is_unpacked(const char *t)
{
    return strcmp(t, "NE") == 0 || strcmp(t, "NF") == 0 || strcmp(t, "NG") == 0;
}

static void packaging(struct val *v, const struct kv_packaging *p)
{
    bool known = p->type && code_in(v, "type", p->type, KV_LIST_PACKAGE, "R-PKG-001",
                                    "a kind of package", "CL017, UN/ECE Rec. 21");
    if (p->number.set && (p->number.value < 0 || p->number.value > 99999999))
        problem(v, "number", "R-NUM-001", "%lld is out of range 0..99999999 (n..8)",
                (long long)p->number.value);
    if (known && p->type) {
        if (is_bulk(p->type)) {
            if (p->number.set)
                problem(v, "number", "R-PKG-002", "not allowed for goods in bulk (%s) (C0060)",
                        q(v, p->type));
        } else {
            if (!p->number.set && !reported(v, "number"))
                problem(v, "number", "R-PKG-002", "required for kind of package %s (C0060)",
                        q(v, p->type));
            if (!is_unpacked(p->type) && !p->marks && !reported(v, "shippingMarks"))
                problem(v, "shippingMarks", "R-PKG-002", "required for kind of package %s (C0060)",
                        q(v, p->type));
        }
    }
    text(v, "shippingMarks", p->marks, 512, 0);
}

static void commodity(struct val *v, const struct kv_commodity *k)
{
    size_t m = push(v, "commodity");
    text(v, "description", k->description, 512, 0);
    if (k->hs) {
        /* R-HS-001: six digits, an HS 2022 subheading (CL152). 999999 is Comtrade's
           "not specified" code in the source list, not a WCO subheading. */
        if (strlen(k->hs) != 6 || !all_digits(k->hs, 6))
            problem(v, "hs", "R-HS-001", "%s is not an HS 2022 subheading: 6 digits expected",
                    q(v, k->hs));
        else if (strcmp(k->hs, "999999") == 0 || !has(v, KV_LIST_HS6, k->hs))
            problem(v, "hs", "R-HS-001", "%s is not an HS 2022 subheading", q(v, k->hs));
    } else if (!v->tir && v->d->declaration_type && !reported(v, "hs")) {
        /* C0153: the commodity code is optional only under TIR. */
        problem(v, "hs", "R-HS-002", "required unless the declaration type is \"TIR\" (C0153)");
    }
    if (k->n_dangerous) {
        size_t md = push(v, "dangerousGoods");
        for (size_t i = 0; i < k->n_dangerous; i++) {
            const char *un = k->dangerous[i];
            size_t mi = push_i(v, i);
            if (un && (strlen(un) != 4 || !all_digits(un, 4) || strcmp(un, "0000") == 0))
                problem(v, NULL, "R-DG-001", "%s is not a UN number: 4 digits expected (CL101)",
                        q(v, un));
            pop(v, mi);
        }
        pop(v, md);
    }
    if (k->net_mass && kv_dec_is_zero(k->net_mass))
        problem(v, "netMass", "R-MASS-004", "is %s; the net mass must be greater than zero",
                qdec(v, k->net_mass));
    else if (k->net_mass && k->gross_mass && kv_dec_cmp(k->net_mass, k->gross_mass) > 0)
        problem(v, "netMass", "R-MASS-001", "%s kg is more than the gross mass, %s kg",
                qdec(v, k->net_mass), qdec(v, k->gross_mass));
    pop(v, m);
}

/* R-ITEM-001 (R0007) state: numbers run 1, 2, 3, ... in document order. */
struct numbering {
    int64_t expected;
    uint16_t house[KV_DECL_MAX_ITEMS + 1];
    uint16_t item[KV_DECL_MAX_ITEMS + 1];
};

static void item(struct val *v, struct numbering *nb, size_t h, size_t i, const struct kv_item *it)
{
    if (it->number.set) {
        int64_t n = it->number.value;
        if (n < 1 || n > KV_DECL_MAX_ITEMS) {
            problem(v, "declarationGoodsItemNumber", "R-ITEM-001",
                    "%lld is out of range; declaration goods item numbers run 1, 2, 3, ... up "
                    "to 1999 (R0007)",
                    (long long)n);
        } else if (nb->house[n] != UINT16_MAX) {
            problem(v, "declarationGoodsItemNumber", "R-ITEM-001",
                    "%lld is already used at /houseConsignments/%u/items/%u; each number is "
                    "used once (R0007)",
                    (long long)n, (unsigned)nb->house[n], (unsigned)nb->item[n]);
        } else {
            if (n != nb->expected)
                problem(v, "declarationGoodsItemNumber", "R-ITEM-001",
                        "is %lld, expected %lld: goods items are numbered 1, 2, 3, ... in "
                        "document order (R0007)",
                        (long long)n, (long long)nb->expected);
            nb->house[n] = (uint16_t)h;
            nb->item[n] = (uint16_t)i;
        }
        if (n >= 1 && n <= KV_DECL_MAX_ITEMS)
            nb->expected = n + 1;
        else
            nb->expected++; /* an out-of-range number holds its place */
    } else {
        nb->expected++; /* a number already reported missing or malformed holds its place */
    }
    if (it->commodity)
        commodity(v, it->commodity);
    if (it->n_packages) {
        size_t m = push(v, "packages");
        for (size_t j = 0; j < it->n_packages; j++) {
            size_t mj = push_i(v, j);
            packaging(v, &it->packages[j]);
            pop(v, mj);
        }
        pop(v, m);
    }
    if (it->value) {
        size_t m = push(v, "value");
        if (it->value->amount && kv_dec_is_zero(it->value->amount))
            problem(v, "amount", "R-VAL-001", "is %s; the value must be greater than zero",
                    qdec(v, it->value->amount));
        currency(v, "currency", it->value->currency);
        pop(v, m);
    }
    country(v, "countryOfOrigin", it->origin);
}

/*
 * R-CTRY-002/003: a country of dispatch (destination) is declared once: for
 * the whole consignment, or for every house consignment — not both, and not
 * for some house consignments only.
 */
static void house_country(struct val *v, const char *key, const char *at_consignment,
                          const char *at_house, bool any_house, const char *rule)
{
    if (at_consignment && at_house)
        problem(v, key, rule,
                "%s: the consignment already declares %s; declare it at one level only",
                q(v, at_house), q(v, at_consignment));
    else if (!at_consignment && !at_house && any_house && !reported(v, key))
        problem(v, key, rule,
                "missing: other house consignments declare it and the consignment does not");
}

static void houses(struct val *v)
{
    const struct kv_declaration *d = v->d;
    const struct kv_consignment *k = d->consignment;
    if (!d->n_houses)
        return;
    struct numbering *nb = malloc(sizeof(*nb));
    if (!nb) {
        v->rep->oom = true;
        return;
    }
    nb->expected = 1;
    memset(nb->house, 0xff, sizeof(nb->house));
    memset(nb->item, 0xff, sizeof(nb->item));
    bool any_dispatch = false, any_destination = false;
    for (size_t h = 0; h < d->n_houses; h++) {
        any_dispatch = any_dispatch || d->houses[h].country_of_dispatch;
        any_destination = any_destination || d->houses[h].country_of_destination;
    }
    struct kv_decimal total = {0, 0, 0};
    bool total_ok = true;
    size_t m = push(v, "houseConsignments");
    for (size_t h = 0; h < d->n_houses; h++) {
        const struct kv_house *x = &d->houses[h];
        size_t mh = push_i(v, h);
        if (country(v, "countryOfDispatch", x->country_of_dispatch))
            house_country(v, "countryOfDispatch", k ? k->country_of_dispatch : NULL,
                          x->country_of_dispatch, any_dispatch, "R-CTRY-002");
        if (country(v, "countryOfDestination", x->country_of_destination))
            house_country(v, "countryOfDestination", k ? k->country_of_destination : NULL,
                          x->country_of_destination, any_destination, "R-CTRY-003");
        if (x->gross_mass && kv_dec_is_zero(x->gross_mass))
            problem(v, "grossMass", "R-MASS-004", "is %s; the gross mass must be greater than zero",
                    qdec(v, x->gross_mass));
        text(v, "ucr", x->ucr, 35, 0);
        party(v, "consignor", x->consignor);
        party(v, "consignee", x->consignee);
        /* C0001: a consignee for the whole consignment excludes house-level consignees. */
        if (x->consignee && k && k->consignee)
            problem(v, "consignee", "R-PARTY-002",
                    "not allowed: the consignment already names the consignee (C0001)");
        struct kv_decimal sum = {0, 0, 0};
        bool sum_ok = true;
        if (x->n_items) {
            size_t mi = push(v, "items");
            for (size_t i = 0; i < x->n_items; i++) {
                const struct kv_item *it = &x->items[i];
                size_t mj = push_i(v, i);
                item(v, nb, h, i, it);
                if (it->commodity && it->commodity->gross_mass && sum_ok)
                    sum_ok = kv_dec_add(&sum, it->commodity->gross_mass, &sum) == KV_OK;
                pop(v, mj);
            }
            pop(v, mi);
        }
        /* R0983: the house gross mass covers its items' gross masses. */
        if (x->gross_mass) {
            if (!sum_ok)
                problem(v, "grossMass", "R-MASS-002",
                        "the sum of the items' gross masses is too large to compute");
            else if (kv_dec_cmp(x->gross_mass, &sum) < 0)
                problem(v, "grossMass", "R-MASS-002",
                        "%s kg is less than the sum of its items' gross masses, %s kg (R0983)",
                        qdec(v, x->gross_mass), qdec_short(v, &sum));
            if (total_ok)
                total_ok = kv_dec_add(&total, x->gross_mass, &total) == KV_OK;
        }
        pop(v, mh);
    }
    pop(v, m);
    /* R0994: the consignment gross mass covers the house consignments' gross masses. */
    if (k && k->gross_mass) {
        size_t mc = push(v, "consignment");
        if (!total_ok)
            problem(v, "grossMass", "R-MASS-003",
                    "the sum of the house consignments' gross masses is too large to compute");
        else if (kv_dec_cmp(k->gross_mass, &total) < 0)
            problem(v, "grossMass", "R-MASS-003",
                    "%s kg is less than the sum of the house consignments' gross masses, %s kg "
                    "(R0994)",
                    qdec(v, k->gross_mass), qdec_short(v, &total));
        pop(v, mc);
    }
    free(nb);
}

/* ------------------------------------------------------------------ */
/* The NCTS message (CC015C header, unmodelled elements)              */
/* ------------------------------------------------------------------ */

static bool name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool name_char(char c)
{
    return name_start(c) || is_digit(c) || c == '-' || c == '.';
}

/*
 * R-UNMOD-001: "/CC015C" followed by one or more "/Name" segments, each
 * optionally with a position "[1]".."[99999]". On success stores where the
 * last name starts and its length.
 */
static bool fragment_path_ok(const char *p, size_t *last, size_t *last_len)
{
    size_t n = strlen(p);
    if (n > KV_DECL_UNMODELLED_PATH_MAX || strncmp(p, "/CC015C/", 8) != 0)
        return false;
    size_t i = 7;
    while (i < n) {
        if (p[i] != '/')
            return false;
        i++;
        if (i >= n || !name_start(p[i]))
            return false;
        size_t start = i;
        while (i < n && name_char(p[i]))
            i++;
        *last = start;
        *last_len = i - start;
        if (i < n && p[i] == '[') {
            i++;
            size_t d = i;
            while (i < n && is_digit(p[i]))
                i++;
            if (i == d || i - d > 5 || p[d] == '0' || i >= n || p[i] != ']')
                return false;
            i++;
        }
    }
    return true;
}

static void ncts_info(struct val *v)
{
    const struct kv_ncts_info *n = v->d->ncts;
    if (!n)
        return;
    size_t m = push(v, "ncts");
    text(v, "messageSender", n->sender, 35, TX_EDGES_OK);
    text(v, "messageRecipient", n->recipient, 35, TX_EDGES_OK);
    date_time(v, "preparationDateAndTime", n->prepared);
    text(v, "messageIdentification", n->message_id, 35, TX_EDGES_OK);
    text(v, "correlationIdentifier", n->correlation_id, 35, TX_EDGES_OK);
    text(v, "phaseId", n->phase_id, 35, 0);
    size_t mu = push(v, "unmodelled");
    for (size_t i = 0; i < n->n_unmodelled; i++) {
        const struct kv_ncts_fragment *f = &n->unmodelled[i];
        size_t mi = push_i(v, i);
        size_t last = 0, last_len = 0;
        bool path_ok = f->path && fragment_path_ok(f->path, &last, &last_len);
        if (f->path && !path_ok)
            problem(v, "path", "R-UNMOD-001",
                    "%s is not a CC015C location (\"/CC015C/Name[n]/...\", at most %d bytes)",
                    q(v, f->path), KV_DECL_UNMODELLED_PATH_MAX);
        if (f->xml) {
            size_t xl = strlen(f->xml);
            if (xl > KV_DECL_UNMODELLED_XML_MAX)
                problem(v, "xml", "R-UNMOD-002", "has %zu bytes; at most %d allowed", xl,
                        KV_DECL_UNMODELLED_XML_MAX);
            else if (path_ok) {
                const char *name = f->path + last;
                char after = xl > last_len + 1 ? f->xml[last_len + 1] : '\0';
                if (xl < last_len + 3 || f->xml[0] != '<' ||
                    strncmp(f->xml + 1, name, last_len) != 0 ||
                    !(after == '>' || after == '/' || after == ' ' || after == '\t' ||
                      after == '\n' || after == '\r'))
                    problem(v, "xml", "R-UNMOD-002",
                            "%s is not the element <%.*s> that its path names", q(v, f->xml),
                            (int)last_len, name);
            }
        }
        pop(v, mi);
    }
    pop(v, mu);
    pop(v, m);
}

/* ------------------------------------------------------------------ */
/* Entry points                                                       */
/* ------------------------------------------------------------------ */

void kv_decl_validate(const struct kv_declaration *d, const struct kv_ref *ref,
                      struct kv_report *rep)
{
    if (!d || !rep)
        return;
    struct val *v = calloc(1, sizeof(*v));
    if (!v) {
        rep->oom = true;
        return;
    }
    v->d = d;
    v->ref = ref;
    v->rep = rep;
    kv_ptr_init(&v->ptr);
    if (ref) {
        size_t n = kv_ref_office_count(ref);
        for (size_t i = 0; i < n; i++) {
            const struct kv_office *o = kv_ref_office_at(ref, i);
            if (o && is_upper(o->ref[0]) && is_upper(o->ref[1]))
                v->registry[o->ref[0] - 'A'][o->ref[1] - 'A'] = true;
        }
    }
    v->tir = d->declaration_type && strcmp(d->declaration_type, "TIR") == 0;
    v->security = -1;
    if (d->security && strlen(d->security) == 1 && d->security[0] >= '0' && d->security[0] <= '3' &&
        has(v, KV_LIST_SECURITY, d->security))
        v->security = d->security[0] - '0';
    v->numbers_known = true;
    for (size_t h = 0; h < d->n_houses; h++)
        for (size_t i = 0; i < d->houses[h].n_items; i++) {
            const struct kv_int *n = &d->houses[h].items[i].number;
            if (n->set && n->value >= 1 && n->value <= KV_DECL_MAX_ITEMS)
                v->declared[n->value] = true;
            else
                v->numbers_known = false;
        }

    transit_operation(v);
    offices(v);
    holder(v);
    representative(v);
    guarantees(v);
    consignment(v);
    houses(v);
    ncts_info(v);
    free(v);
}

int kv_validate_json(const char *buf, size_t len, const struct kv_ref *ref, struct kv_report *rep)
{
    struct kv_declaration *d = NULL;
    int rc = kv_decl_from_json(buf, len, &d, rep);
    if (rc == KV_OK)
        kv_decl_validate(d, ref, rep);
    kv_decl_free(d);
    return rc;
}
