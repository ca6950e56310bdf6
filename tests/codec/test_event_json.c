/*
 * test_event_json.c — the JSON form of movement events: every example of
 * docs/movement.md round-trips, canonical encoding, and the decode errors
 * (each case lists every problem expected, rule and pointer, in order).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/event_json.h"
#include "core/err.h"
#include "core/movement.h"
#include "core/report.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* JSON text without whitespace outside strings (the encoder's layout). */
static char *minify(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    int in_str = 0;
    assert_non_null(o);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            o[k++] = c;
            if (c == '\\' && i + 1 < n)
                o[k++] = s[++i];
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
            o[k++] = c;
        } else if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
            o[k++] = c;
        }
    }
    o[k] = '\0';
    return o;
}

/* "RULE pointer|RULE pointer" for every problem in the report. */
static void problems(const struct kv_report *r, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->count; i++) {
        int k = snprintf(buf + o, size - o, "%s%s %s", i ? "|" : "", r->items[i].rule,
                         r->items[i].pointer);
        assert_true(k > 0 && (size_t)k < size - o);
        o += (size_t)k;
    }
}

static void dump(const struct kv_report *r)
{
    for (size_t i = 0; i < r->count; i++)
        print_message("   %s %s: %s\n", r->items[i].rule, r->items[i].pointer, r->items[i].message);
}

/* Decodes, expects OK, encodes, compares with `want` (NULL: the minified input). */
static void round_trip(const char *json, enum kv_event_form form, const char *want)
{
    struct kv_event ev;
    struct kv_report rep;
    char *out = NULL, *min = minify(json, strlen(json));
    size_t len = 0;
    kv_report_init(&rep);
    int rc = kv_event_decode(json, strlen(json), form, &ev, &rep);
    if (rc != KV_OK) {
        dump(&rep);
        fail_msg("decode failed (%d): %s", rc, json);
    }
    assert_int_equal(rep.total, 0);
    assert_int_equal(kv_event_to_json(&ev, &out, &len), KV_OK);
    assert_int_equal(len, strlen(out));
    assert_string_equal(out, want ? want : min);
    /* And the encoding decodes to an event that encodes the same. */
    struct kv_event ev2;
    char *out2 = NULL;
    assert_int_equal(kv_event_decode(out, len, KV_EVENT_STORED, &ev2, &rep), KV_OK);
    assert_int_equal(kv_event_to_json(&ev2, &out2, NULL), KV_OK);
    assert_string_equal(out2, out);
    free(out);
    free(out2);
    free(min);
    kv_event_clear(&ev);
    kv_event_clear(&ev2);
    kv_report_release(&rep);
}

/* ------------------------------------------------------------------------ */
/* docs/movement.md                                                         */
/* ------------------------------------------------------------------------ */

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *p = realloc(buf, cap);
            assert_non_null(p);
            buf = p;
        }
        size_t k = fread(buf + len, 1, 4096, f);
        len += k;
        if (k == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    *n = len;
    return buf;
}

static void test_docs_examples(void **state)
{
    (void)state;
    size_t n;
    char *doc = slurp(KV_SOURCE_DIR "/docs/movement.md", &n);
    assert_non_null(doc);
    size_t examples = 0;
    bool types_seen[KV_EVENT__COUNT] = {false};
    for (char *p = doc; (p = strstr(p, "```json\n")) != NULL;) {
        p += 8;
        char *end = strstr(p, "```");
        assert_non_null(end);
        size_t len = (size_t)(end - p);
        char *json = malloc(len + 1);
        assert_non_null(json);
        memcpy(json, p, len);
        json[len] = '\0';
        round_trip(json, KV_EVENT_STORED, NULL);
        /* What a client may post decodes in the input form too. */
        struct kv_event ev;
        struct kv_report rep;
        kv_report_init(&rep);
        int rc = kv_event_decode(json, len, KV_EVENT_INPUT, &ev, &rep);
        bool node_set = strstr(json, "\"actor\"") != NULL;
        assert_int_equal(rc, node_set ? KV_EPARSE : KV_OK);
        kv_event_clear(&ev);
        kv_report_release(&rep);
        kv_report_init(&rep);
        assert_int_equal(kv_event_from_json(json, len, &ev, &rep), KV_OK);
        types_seen[ev.type] = true;
        kv_event_clear(&ev);
        kv_report_release(&rep);
        free(json);
        examples++;
        p = end + 3;
    }
    assert_true(examples >= 15);
    for (int t = KV_EVENT_LODGED; t < KV_EVENT__COUNT; t++)
        if (!types_seen[t])
            fail_msg("docs/movement.md has no example of \"%s\"",
                     kv_event_type_name((enum kv_event_type)t));
    free(doc);
}

/* ------------------------------------------------------------------------ */
/* Canonical encoding                                                       */
/* ------------------------------------------------------------------------ */

static void test_canonical(void **state)
{
    (void)state;
    /* Member order and whitespace do not matter; the output order is fixed. */
    round_trip("{ \"seals\" : [ \"B\" , \"A\" ], \"controlResult\":\"A2\", \"office\":\"KZ000100\","
               " \"time\":\"2025-03-01T15:10:00+05:00\", \"type\":\"release\" }\n",
               KV_EVENT_INPUT,
               "{\"type\":\"release\",\"time\":\"2025-03-01T15:10:00+05:00\",\"office\":"
               "\"KZ000100\",\"controlResult\":\"A2\",\"seals\":[\"B\",\"A\"]}");
    /* Optional members left out when absent; empty seal list kept. */
    round_trip("{\"type\":\"control_decision\",\"time\":\"2025-03-01T08:00:00Z\",\"office\":"
               "\"KZ000100\",\"control\":false}",
               KV_EVENT_INPUT, NULL);
    round_trip("{\"type\":\"release\",\"time\":\"2025-03-01T08:00:00Z\",\"office\":\"KZ000100\","
               "\"controlResult\":\"A4\",\"seals\":[]}",
               KV_EVENT_INPUT, NULL);
    /* "diversion": false is the default and is not written. */
    round_trip("{\"type\":\"arrival\",\"time\":\"2025-03-04T08:30:00+03:00\",\"office\":"
               "\"TR343100\",\"diversion\":false}",
               KV_EVENT_STORED,
               "{\"type\":\"arrival\",\"time\":\"2025-03-04T08:30:00+03:00\",\"office\":"
               "\"TR343100\"}");
    /* Escapes in, UTF-8 and escapes out. */
    round_trip("{\"type\":\"no_release\",\"time\":\"2025-03-01T08:00:00Z\",\"office\":"
               "\"KZ000100\",\"reason\":\"\\\"A\\\\B\\\" \\u015f\\u00fc \\/ \\ud83d\\ude9a\"}",
               KV_EVENT_INPUT,
               "{\"type\":\"no_release\",\"time\":\"2025-03-01T08:00:00Z\",\"office\":"
               "\"KZ000100\",\"reason\":\"\\\"A\\\\B\\\" şü / \xf0\x9f\x9a\x9a\"}");
    /* Every type with all its optional members. */
    round_trip("{\"type\":\"unloading_remarks\",\"time\":\"2025-03-04T10:00:00+03:00\","
               "\"office\":\"TR343100\",\"actor\":{\"role\":\"officer\",\"id\":\"TR343100/ece\"},"
               "\"conform\":true,\"sealsIntact\":true,\"discrepancies\":\"none worth noting\"}",
               KV_EVENT_STORED, NULL);
    round_trip("{\"type\":\"cancellation\",\"time\":\"2025-03-02T08:00:00Z\",\"office\":"
               "\"KZ000100\",\"actor\":{\"role\":\"officer\",\"id\":\"KZ000100/nurlan\"},"
               "\"initiatedBy\":\"customs\",\"reason\":\"goods seized\"}",
               KV_EVENT_STORED, NULL);
    round_trip("{\"type\":\"incident\",\"time\":\"2025-03-02T17:05:00+04:00\",\"office\":"
               "\"GE000500\",\"code\":\"1\",\"text\":\"road closed by a landslide\",\"place\":"
               "\"Rikoti pass\",\"sealsState\":\"intact\"}",
               KV_EVENT_INPUT, NULL);
}

static void test_amendment_bytes(void **state)
{
    (void)state;
    const char *in = "{\"type\":\"amendment\",\"time\":\"2025-03-01T13:40:00+05:00\","
                     "\"office\":\"KZ000100\",\"declaration\": {\n  \"mass\": 19250.500,\n"
                     "  \"big\": 123456789012345678901234567890, \"e\": 1E+3,\n"
                     "  \"s\": \"a \\\"b\\\" \\u0041\", \"a\": [ 1 , {} , [] ],"
                     " \"dup\": 1, \"dup\": 2 } }";
    struct kv_event ev;
    struct kv_report rep;
    kv_report_init(&rep);
    assert_int_equal(kv_event_decode(in, strlen(in), KV_EVENT_INPUT, &ev, &rep), KV_OK);
    /* As sent, tokens untouched (no number rewritten, duplicates left for
     * the declaration codec), whitespace between tokens removed. */
    const char *want = "{\"mass\":19250.500,\"big\":123456789012345678901234567890,\"e\":1E+3,"
                       "\"s\":\"a \\\"b\\\" \\u0041\",\"a\":[1,{},[]],\"dup\":1,\"dup\":2}";
    assert_string_equal(ev.u.amendment.declaration, want);
    assert_int_equal(ev.u.amendment.declaration_len, strlen(want));
    char *out;
    assert_int_equal(kv_event_to_json(&ev, &out, NULL), KV_OK);
    assert_non_null(strstr(out, want));
    free(out);
    kv_event_clear(&ev);
    assert_null(ev.u.amendment.declaration);
    kv_event_clear(NULL);
    kv_report_release(&rep);

    /* The member is found by its unescaped name, as json-c finds it. */
    const char *escaped = "{\"type\":\"amendment\",\"time\":\"2025-03-01T13:40:00Z\","
                          "\"office\":\"KZ000100\",\"\\u0064eclaration\":{ \"a\" : [ ] }}";
    kv_report_init(&rep);
    assert_int_equal(kv_event_decode(escaped, strlen(escaped), KV_EVENT_INPUT, &ev, &rep), KV_OK);
    assert_string_equal(ev.u.amendment.declaration, "{\"a\":[]}");
    kv_event_clear(&ev);
    kv_report_release(&rep);

    /* Nesting: the event object plus 23 levels of declaration is the limit
     * (24 objects or arrays), with a scalar or an empty container inside. */
    for (int extra = 0; extra <= 1; extra++) {
        for (int inner = 0; inner < 3; inner++) {
            char deep[512];
            int levels = KV_EVENT_JSON_DEPTH - 1 + extra, k;
            k = snprintf(deep, sizeof(deep),
                         "{\"type\":\"amendment\",\"time\":\"2025-03-01T13:40:00Z\","
                         "\"office\":\"KZ000100\",\"declaration\":");
            for (int i = 0; i < levels - 1; i++)
                deep[k++] = '{', deep[k++] = '"', deep[k++] = 'x', deep[k++] = '"', deep[k++] = ':';
            /* innermost level: an object with a scalar, an empty array, an empty object */
            k += snprintf(deep + k, sizeof(deep) - (size_t)k, "%s",
                          inner == 0   ? "{\"x\":1}"
                          : inner == 1 ? "[]"
                                       : "{}");
            for (int i = 0; i < levels - 1; i++)
                deep[k++] = '}';
            deep[k++] = '}';
            deep[k] = '\0';
            kv_report_init(&rep);
            int rc = kv_event_decode(deep, (size_t)k, KV_EVENT_INPUT, &ev, &rep);
            if (rc != (extra ? KV_ELIMIT : KV_OK))
                fail_msg("%d levels, inner %d: rc %d", levels + 1, inner, rc);
            if (extra)
                assert_string_equal(rep.items[0].rule, "R-EVT-002");
            kv_event_clear(&ev);
            kv_report_release(&rep);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Decode errors                                                            */
/* ------------------------------------------------------------------------ */

#define HEAD "\"time\":\"2025-03-01T08:00:00Z\",\"office\":\"KZ000100\""

struct bad_case {
    const char *json;
    enum kv_event_form form;
    int rc;
    const char *problems; /* "RULE pointer|..." exactly, in order */
};

static const struct bad_case bad_cases[] = {
    /* not JSON, or not one object */
    {"", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"{\"type\":\"write_off\"," HEAD ",}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"{'type':'write_off'}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"{\"type\":\"write_off\"," HEAD ",\"x\":NaN}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"{\"type\":\"write_off\"," HEAD ",\"x\":Infinity}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"{\"type\":\"write_off\"," HEAD ",\"x\":01}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"{\"type\":\"write_off\"," HEAD "} {}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"{\"type\":\"write_off\"," HEAD "} // note", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"{\"type\":\"write_off\" /* c */," HEAD "}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"{\"type\":\"write_off\"," HEAD, KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"{\"type\":\"wr\xc3\x28te_off\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"{\"type\":\"write_off\"," HEAD ",\"x\":\"\\udc00\"}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-001 "},
    {"{\"type\":\"write_off\"," HEAD ",\"x\":\"a\tb\"}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-001 "},
    {"[{\"type\":\"write_off\"," HEAD "}]", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-003 "},
    {"\"write_off\"", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-003 "},
    {"null", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-003 "},
    {"42", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-003 "},
    {" true ", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-003 "},
    /* members */
    {"{}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-005 /type|R-EVT-005 /time|R-EVT-005 /office"},
    {"{\"type\":\"write_off\"," HEAD ",\"type\":\"write_off\"}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-007 /type"},
    {"{\"type\":\"write_off\"," HEAD ",\"reason\":\"x\"}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-004 /reason"},
    {"{\"type\":\"presented\"," HEAD ",\"side\":\"exit\",\"seals\":[]}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-004 /seals"},
    {"{\"type\":\"write_off\"," HEAD ",\"a_member_name_longer_than_24_bytes\":1,"
     "\"a_member_name_longer_than_24_bytes\":2}",
     KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-007 /a_member_name_longer_than_24_bytes|R-EVT-004 /a_member_name_longer_than_24_bytes"},
    {"{\"type\":\"write_off\"," HEAD ",\"\\u0074ype\":\"write_off\"}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-007 /type"},
    {"{\"type\":\"write_off\"," HEAD ",\"a/b~c\":1}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-004 /a~1b~0c"},
    {"{\"type\":\"departed\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-010 /type"},
    {"{\"type\":\"Release\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-010 /type"},
    {"{\"type\":7," HEAD "}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-006 /type"},
    {"{\"type\":\"write_off\",\"time\":1740816000,\"office\":\"KZ000100\"}", KV_EVENT_INPUT,
     KV_EPARSE, "R-EVT-006 /time"},
    {"{\"type\":\"write_off\",\"time\":\"2025-03-01T08:00:00\",\"office\":\"KZ000100\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-011 /time"},
    {"{\"type\":\"write_off\",\"time\":\"2025-02-29T08:00:00Z\",\"office\":\"KZ000100\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-011 /time"},
    {"{\"type\":\"write_off\",\"time\":\"2025-03-01T08:00:00Z\",\"office\":\"KZ00010\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-012 /office"},
    {"{\"type\":\"write_off\",\"time\":\"2025-03-01T08:00:00Z\",\"office\":\"kz000100\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-012 /office"},
    {"{\"type\":\"write_off\",\"time\":\"2025-03-01T08:00:00Z\",\"office\":\"KZ-00100\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-012 /office"},
    /* node-set members in the input form */
    {"{\"type\":\"lodged\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-017 /type"},
    {"{\"type\":\"write_off\"," HEAD ",\"actor\":{\"role\":\"officer\",\"id\":\"x\"}}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-017 /actor"},
    {"{\"type\":\"arrival\"," HEAD ",\"diversion\":true}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-017 /diversion"},
    /* the actor, stored form */
    {"{\"type\":\"write_off\"," HEAD ",\"actor\":{\"role\":\"king\",\"id\":\"x\",\"x\":1}}",
     KV_EVENT_STORED, KV_EPARSE, "R-EVT-004 /actor/x|R-EVT-014 /actor/role"},
    {"{\"type\":\"write_off\"," HEAD ",\"actor\":{\"role\":\"officer\"}}", KV_EVENT_STORED,
     KV_EPARSE, "R-EVT-005 /actor/id"},
    {"{\"type\":\"write_off\"," HEAD ",\"actor\":{\"role\":\"node\",\"role\":\"node\",\"id\":"
     "\"KZ\"}}",
     KV_EVENT_STORED, KV_EPARSE, "R-EVT-007 /actor/role"},
    {"{\"type\":\"write_off\"," HEAD ",\"actor\":[]}", KV_EVENT_STORED, KV_EPARSE,
     "R-EVT-006 /actor"},
    {"{\"type\":\"arrival\"," HEAD ",\"diversion\":\"yes\"}", KV_EVENT_STORED, KV_EPARSE,
     "R-EVT-006 /diversion"},
    /* control_decision */
    {"{\"type\":\"control_decision\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-005 /control"},
    {"{\"type\":\"control_decision\"," HEAD ",\"control\":\"yes\"}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-006 /control"},
    {"{\"type\":\"control_decision\"," HEAD ",\"control\":1}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-006 /control"},
    {"{\"type\":\"control_decision\"," HEAD ",\"control\":true,\"reason\":\"\"}", KV_EVENT_INPUT,
     KV_EPARSE, "R-EVT-013 /reason"},
    {"{\"type\":\"control_decision\"," HEAD ",\"control\":true,\"reason\":\"   \"}", KV_EVENT_INPUT,
     KV_EPARSE, "R-EVT-013 /reason"},
    {"{\"type\":\"control_decision\"," HEAD ",\"control\":true,\"reason\":\"a\\nb\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-013 /reason"},
    {"{\"type\":\"control_decision\"," HEAD ",\"control\":true,\"reason\":\"a\\u0000b\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-013 /reason"},
    {"{\"type\":\"control_decision\"," HEAD ",\"control\":true,\"reason\":null}", KV_EVENT_INPUT,
     KV_EPARSE, "R-EVT-006 /reason"},
    /* release */
    {"{\"type\":\"release\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-005 /controlResult|R-EVT-005 /seals"},
    {"{\"type\":\"release\"," HEAD ",\"controlResult\":\"B1\",\"seals\":\"S1\"}", KV_EVENT_INPUT,
     KV_EPARSE, "R-EVT-014 /controlResult|R-EVT-006 /seals"},
    {"{\"type\":\"release\"," HEAD ",\"controlResult\":\"A1\",\"seals\":[\"S1\",\"S1\",\" S2\","
     "\"S3 \",\"\",5,\"S 4\"]}",
     KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-015 /seals/1|R-EVT-013 /seals/2|R-EVT-013 /seals/3|R-EVT-013 /seals/4|"
     "R-EVT-006 /seals/5"},
    {"{\"type\":\"release\"," HEAD
     ",\"controlResult\":\"A1\",\"seals\":[\"123456789012345678901\"]}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-013 /seals/0"},
    /* no_release, cancellation, crossings, resolved */
    {"{\"type\":\"no_release\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-005 /reason"},
    {"{\"type\":\"cancellation\"," HEAD ",\"initiatedBy\":\"carrier\"}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-014 /initiatedBy|R-EVT-005 /reason"},
    {"{\"type\":\"presented\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-005 /side"},
    {"{\"type\":\"cleared\"," HEAD ",\"side\":\"Exit\"}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-014 /side"},
    {"{\"type\":\"discrepancies_resolved\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-005 /text"},
    /* amendment */
    {"{\"type\":\"amendment\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-005 /declaration"},
    {"{\"type\":\"amendment\"," HEAD ",\"declaration\":{},\"declaration\":{\"a\":1,\"a\":2}}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-007 /declaration"},
    {"{\"type\":\"amendment\"," HEAD ",\"declaration\":\"{}\"}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-006 /declaration"},
    {"{\"type\":\"amendment\"," HEAD ",\"declaration\":[]}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-006 /declaration"},
    /* unloading_remarks */
    {"{\"type\":\"unloading_remarks\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE, "R-EVT-005 /conform"},
    {"{\"type\":\"unloading_remarks\"," HEAD ",\"conform\":false}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-016 /discrepancies"},
    {"{\"type\":\"unloading_remarks\"," HEAD ",\"conform\":true,\"sealsIntact\":false}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-016 /discrepancies"},
    {"{\"type\":\"unloading_remarks\"," HEAD ",\"conform\":true,\"sealsIntact\":null}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-006 /sealsIntact"},
    /* incident */
    {"{\"type\":\"incident\"," HEAD "}", KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-005 /code|R-EVT-005 /text|R-EVT-005 /place|R-EVT-005 /sealsState"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"7\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"intact\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-014 /code"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":5,\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"intact\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-006 /code"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"2\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"intact\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-016 /sealsState"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"3\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"broken\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-016 /transhipment"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"5\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"replaced\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-016 /newSeals"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"5\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"replaced\",\"newSeals\":[]}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-016 /newSeals"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"5\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"intact\",\"newSeals\":[\"S1\"]}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-016 /newSeals"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"5\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"intact\",\"latitude\":\"41.99381\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-016 /longitude"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"5\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"intact\",\"latitude\":\"91.00000\",\"longitude\":\"43.5988\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-018 /latitude|R-EVT-018 /longitude"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"5\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"intact\",\"latitude\":41.99381,\"longitude\":43.59881}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-006 /latitude|R-EVT-006 /longitude"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"3\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"intact\",\"transhipment\":{\"nationality\":\"ge\",\"trailer\":\"x\"}}",
     KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-004 /transhipment/trailer|R-EVT-005 /transhipment/meansId|"
     "R-EVT-013 /transhipment/nationality"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"3\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"intact\",\"transhipment\":\"GE-AB-123\"}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-006 /transhipment"},
    {"{\"type\":\"incident\"," HEAD ",\"code\":\"5\",\"text\":\"t\",\"place\":\"p\","
     "\"sealsState\":\"intact\",\"transhipment\":{\"meansId\":\"M\",\"meansId\":\"N\"}}",
     KV_EVENT_INPUT, KV_EPARSE, "R-EVT-007 /transhipment/meansId"},
    /* several problems at once, all reported */
    {"{\"type\":\"release\",\"time\":\"yesterday\",\"office\":\"X\",\"controlResult\":\"A9\","
     "\"seals\":[1],\"extra\":true}",
     KV_EVENT_INPUT, KV_EPARSE,
     "R-EVT-004 /extra|R-EVT-011 /time|R-EVT-012 /office|R-EVT-014 /controlResult|"
     "R-EVT-006 /seals/0"},
    /* too deep */
    {"{\"type\":\"write_off\"," HEAD ",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]}",
     KV_EVENT_INPUT, KV_ELIMIT, "R-EVT-002 "},
};

static void test_bad_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct kv_event ev;
        struct kv_report rep;
        char got[1024];
        kv_report_init(&rep);
        int rc = kv_event_decode(c->json, strlen(c->json), c->form, &ev, &rep);
        problems(&rep, got, sizeof(got));
        if (rc != c->rc || strcmp(got, c->problems) != 0) {
            dump(&rep);
            fail_msg("case %zu: %s\n  rc %d (want %d)\n  got  %s\n  want %s", i, c->json, rc, c->rc,
                     got, c->problems);
        }
        /* Every problem has a message. */
        for (size_t k = 0; k < rep.count; k++)
            assert_true(strlen(rep.items[k].message) > 0);
        kv_event_clear(&ev);
        kv_report_release(&rep);
    }
}

/* Exact wording of a few messages users will read. */
static void test_messages(void **state)
{
    (void)state;
    struct {
        const char *json, *message;
    } cases[] = {
        {"{\"type\":\"write_off\"," HEAD ",\"x\":NaN}",
         "line 1, column 75 (byte 74): unexpected \"N\", expected a value"},
        {"{\"type\":\"write_off\",\"time\":\"2025-03-01T08:00:00z\",\"office\":\"KZ000100\"}",
         "\"2025-03-01T08:00:00z\" is not an RFC 3339 time (YYYY-MM-DDThh:mm:ssZ or with an "
         "offset such as +05:00): no time zone: end with Z or an offset such as +05:00"},
        {"{\"type\":\"presented\"," HEAD ",\"side\":\"exit\",\"seals\":[]}",
         "unknown member \"seals\" for an event of type \"presented\""},
        {"{\"type\":\"cleared\"," HEAD ",\"side\":\"left\"}",
         "\"side\" is \"left\"; expected one of \"exit\", \"entry\""},
        {"{\"type\":\"release\"," HEAD ",\"controlResult\":\"A1\"}",
         "missing member \"seals\" (required for \"release\")"},
        {"{\"type\":\"control_decision\"," HEAD ",\"control\":\"yes\"}",
         "\"control\" must be a boolean (true or false), not a string"},
        {"{\"type\":\"write_off\"," HEAD ",\"type\":\"write_off\"}",
         "duplicate member \"type\": each member may appear once"},
        {"{\"type\":\"lodged\"," HEAD "}",
         "\"lodged\" is written by the node when it accepts a declaration"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kv_event ev;
        struct kv_report rep;
        kv_report_init(&rep);
        assert_int_equal(
            kv_event_decode(cases[i].json, strlen(cases[i].json), KV_EVENT_INPUT, &ev, &rep),
            KV_EPARSE);
        assert_int_equal(rep.count, 1);
        assert_string_equal(rep.items[0].message, cases[i].message);
        kv_report_release(&rep);
    }
}

/* ------------------------------------------------------------------------ */
/* Lengths from the data dictionary                                         */
/* ------------------------------------------------------------------------ */

/* `n` copies of the UTF-8 character `ch`. */
static char *rep_char(const char *ch, size_t n)
{
    size_t k = strlen(ch);
    char *s = malloc(n * k + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * k, ch, k);
    s[n * k] = '\0';
    return s;
}

static int decode_with(const char *fmt, const char *value, const char **first_rule)
{
    size_t cap = strlen(fmt) + strlen(value) + 1;
    char *json = malloc(cap);
    struct kv_event ev;
    struct kv_report rep;
    assert_non_null(json);
    snprintf(json, cap, fmt, value);
    kv_report_init(&rep);
    int rc = kv_event_decode(json, strlen(json), KV_EVENT_STORED, &ev, &rep);
    static char rule[16];
    rule[0] = '\0';
    if (rep.count)
        memcpy(rule, rep.items[0].rule, sizeof(rule));
    if (first_rule)
        *first_rule = rule;
    kv_event_clear(&ev);
    kv_report_release(&rep);
    free(json);
    return rc;
}

static void test_lengths(void **state)
{
    (void)state;
    struct {
        const char *fmt;
        size_t max;
    } fields[] = {
        {"{\"type\":\"no_release\"," HEAD ",\"reason\":\"%s\"}", KV_TEXT_CHARS},
        {"{\"type\":\"incident\"," HEAD ",\"code\":\"5\",\"text\":\"t\",\"place\":\"%s\","
         "\"sealsState\":\"intact\"}",
         KV_PLACE_CHARS},
        {"{\"type\":\"release\"," HEAD ",\"controlResult\":\"A1\",\"seals\":[\"%s\"]}",
         KV_SEAL_ID_CHARS},
        {"{\"type\":\"write_off\"," HEAD ",\"actor\":{\"role\":\"officer\",\"id\":\"%s\"}}",
         KV_ACTOR_ID_CHARS},
        {"{\"type\":\"incident\"," HEAD ",\"code\":\"3\",\"text\":\"t\",\"place\":\"p\","
         "\"sealsState\":\"intact\",\"transhipment\":{\"meansId\":\"%s\"}}",
         KV_MEANS_ID_CHARS},
    };
    /* Characters, not bytes: ASCII, 2-, 3- and 4-byte UTF-8 all fit max. */
    static const char *const chars[] = {"a", "\xc5\x9f" /* ş */, "\xe2\x82\xb8" /* ₸ */,
                                        "\xf0\x9f\x9a\x9a" /* 🚚 */};
    for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
        for (size_t c = 0; c < 4; c++) {
            const char *rule;
            char *ok = rep_char(chars[c], fields[f].max);
            char *over = rep_char(chars[c], fields[f].max + 1);
            if (decode_with(fields[f].fmt, ok, &rule) != KV_OK)
                fail_msg("field %zu char %zu: %zu characters refused (%s)", f, c, fields[f].max,
                         rule);
            assert_int_equal(decode_with(fields[f].fmt, over, &rule), KV_EPARSE);
            assert_string_equal(rule, "R-EVT-013");
            free(ok);
            free(over);
        }
    }
    /* Invalid UTF-8 sent as raw bytes is not JSON text: the strict check
     * refuses a broken sequence, an overlong one (which json-c lets through)
     * and an encoded surrogate alike. */
    const char *rule;
    assert_int_equal(decode_with(fields[0].fmt, "\xc3\x28", &rule), KV_EPARSE);
    assert_string_equal(rule, "R-EVT-001");
    assert_int_equal(decode_with(fields[0].fmt, "\xc0\xaf", &rule), KV_EPARSE);
    assert_string_equal(rule, "R-EVT-001");
    assert_int_equal(decode_with(fields[0].fmt, "\xed\xa0\x80", &rule), KV_EPARSE);
    assert_string_equal(rule, "R-EVT-001");
    /* Space separators: inside a seal id fine, at either end refused (NBSP too). */
    assert_int_equal(decode_with(fields[2].fmt, "KZ 123", &rule), KV_OK);
    assert_int_equal(decode_with(fields[2].fmt, "\xc2\xa0KZ123", &rule), KV_EPARSE);
    assert_int_equal(decode_with(fields[2].fmt, "KZ123\xe3\x80\x80", &rule), KV_EPARSE);
}

static void test_seal_count(void **state)
{
    (void)state;
    for (int n = 98; n <= 100; n++) {
        char json[4096];
        int k = snprintf(json, sizeof(json),
                         "{\"type\":\"release\"," HEAD ",\"controlResult\":\"A1\",\"seals\":[");
        for (int i = 0; i < n; i++)
            k += snprintf(json + k, sizeof(json) - (size_t)k, "%s\"KZ%07d\"", i ? "," : "", i);
        k += snprintf(json + k, sizeof(json) - (size_t)k, "]}");
        struct kv_event ev;
        struct kv_report rep;
        kv_report_init(&rep);
        int rc = kv_event_decode(json, (size_t)k, KV_EVENT_INPUT, &ev, &rep);
        if (n <= KV_SEALS_MAX) {
            assert_int_equal(rc, KV_OK);
            assert_int_equal(ev.u.release.seals.n, (size_t)n);
            assert_string_equal(ev.u.release.seals.id[n - 1], n == 99 ? "KZ0000098" : "KZ0000097");
        } else {
            assert_int_equal(rc, KV_EPARSE);
            assert_string_equal(rep.items[0].rule, "R-EVT-015");
            assert_string_equal(rep.items[0].message, "100 seals: at most 99");
        }
        kv_event_clear(&ev);
        kv_report_release(&rep);
    }
}

static void test_gnss(void **state)
{
    (void)state;
    static const char *fmt = "{\"type\":\"incident\"," HEAD ",\"code\":\"5\",\"text\":\"t\","
                             "\"place\":\"p\",\"sealsState\":\"intact\",%s}";
    struct {
        const char *lat, *lon;
        bool ok;
    } cases[] = {
        {"41.99381", "43.59881", true},     {"-41.9938123", "+143.5988123", true},
        {"0.00000", "0.00000", true},       {"89.99999", "179.99999", true},
        {"90.00000", "180.0000000", true},  {"-90.000000", "-180.00000", true},
        {"09.12345", "099.12345", true},    {"90.00001", "43.59881", false},
        {"91.00000", "43.59881", false},    {"41.9938", "43.59881", false},
        {"41.99381234", "43.59881", false}, {"41,99381", "43.59881", false},
        {"41.99381", "180.00001", false},   {"41.99381", "181.00000", false},
        {"41.99381", "199.00000", false},   {"41.99381", "1043.59881", false},
        {"41.99381", "43.5988a", false},    {"41.99381", ".59881", false},
        {"+-41.99381", "43.59881", false},  {"", "43.59881", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char members[128], json[512];
        snprintf(members, sizeof(members), "\"latitude\":\"%s\",\"longitude\":\"%s\"", cases[i].lat,
                 cases[i].lon);
        snprintf(json, sizeof(json), fmt, members);
        struct kv_event ev;
        struct kv_report rep;
        kv_report_init(&rep);
        int rc = kv_event_decode(json, strlen(json), KV_EVENT_INPUT, &ev, &rep);
        if ((rc == KV_OK) != cases[i].ok)
            fail_msg("%s %s: rc %d", cases[i].lat, cases[i].lon, rc);
        if (rc == KV_OK) {
            assert_true(ev.u.incident.has_gnss);
            assert_string_equal(ev.u.incident.latitude, cases[i].lat);
            assert_string_equal(ev.u.incident.longitude, cases[i].lon);
        } else {
            assert_string_equal(rep.items[0].rule, "R-EVT-018");
        }
        kv_report_release(&rep);
    }
}

/* ------------------------------------------------------------------------ */
/* Times, limits, arguments                                                 */
/* ------------------------------------------------------------------------ */

static void test_time_kept(void **state)
{
    (void)state;
    const char *json = "{\"type\":\"presented\",\"time\":\"2025-03-03T09:40:00+04:00\","
                       "\"office\":\"GE000500\",\"side\":\"exit\"}";
    struct kv_event ev;
    struct kv_report rep;
    kv_report_init(&rep);
    assert_int_equal(kv_event_decode(json, strlen(json), KV_EVENT_INPUT, &ev, &rep), KV_OK);
    assert_string_equal(ev.time.text, "2025-03-03T09:40:00+04:00");
    assert_int_equal(ev.time.offset_min, 240);
    assert_int_equal(ev.time.epoch, 1740980400); /* 2025-03-03T05:40:00Z */
    assert_int_equal(ev.type, KV_EVENT_PRESENTED);
    assert_int_equal(ev.u.crossing.side, KV_SIDE_EXIT);
    assert_string_equal(ev.office, "GE000500");
    assert_int_equal(ev.actor.role, KV_ACTOR_NONE);
    kv_report_release(&rep);
}

static void test_limits_and_arguments(void **state)
{
    (void)state;
    struct kv_event ev;
    struct kv_report rep;
    kv_report_init(&rep);
    /* Over the size limit: refused before parsing. */
    size_t big = KV_EVENT_JSON_MAX + 1;
    char *buf = malloc(big);
    assert_non_null(buf);
    memset(buf, ' ', big);
    buf[0] = '{';
    buf[big - 1] = '}';
    assert_int_equal(kv_event_decode(buf, big, KV_EVENT_INPUT, &ev, &rep), KV_ELIMIT);
    assert_string_equal(rep.items[0].rule, "R-EVT-002");
    kv_report_release(&rep);
    /* At the limit it is parsed (and found empty of members). */
    kv_report_init(&rep);
    assert_int_equal(kv_event_decode(buf + 1, big - 1, KV_EVENT_INPUT, &ev, &rep), KV_EPARSE);
    assert_string_equal(rep.items[0].rule, "R-EVT-001"); /* leading spaces, no '{' */
    kv_report_release(&rep);
    buf[1] = '{';
    kv_report_init(&rep);
    assert_int_equal(kv_event_decode(buf + 1, big - 1, KV_EVENT_INPUT, &ev, &rep), KV_EPARSE);
    assert_string_equal(rep.items[0].rule, "R-EVT-005");
    kv_report_release(&rep);
    free(buf);

    /* Objects and arrays, and values: an amendment's declaration may use the
     * declaration codec's limits; one more is refused before json-c runs. */
    static const struct {
        const char *item;
        size_t limit;  /* of what `item` counts */
        size_t around; /* how many the rest of the event holds */
    } counts[] = {{"[]", KV_EVENT_JSON_CONTAINERS, 3}, {"0", KV_EVENT_JSON_VALUES, 6}};
    for (size_t c = 0; c < 2; c++) {
        for (size_t extra = 0; extra <= 1; extra++) {
            size_t n = counts[c].limit - counts[c].around + extra;
            size_t cap = 160 + 3 * n, k;
            char *json = malloc(cap);
            assert_non_null(json);
            k = (size_t)snprintf(json, cap,
                                 "{\"type\":\"amendment\",\"time\":\"2025-03-01T13:40:00Z\","
                                 "\"office\":\"KZ000100\",\"declaration\":{\"x\":[");
            for (size_t i = 0; i < n; i++)
                k += (size_t)snprintf(json + k, cap - k, "%s%s", i ? "," : "", counts[c].item);
            k += (size_t)snprintf(json + k, cap - k, "]}}");
            kv_report_init(&rep);
            int rc = kv_event_decode(json, k, KV_EVENT_INPUT, &ev, &rep);
            if (rc != (extra ? KV_ELIMIT : KV_OK))
                fail_msg("%zu x %s: rc %d", n, counts[c].item, rc);
            if (extra)
                assert_string_equal(rep.items[0].rule, "R-EVT-002");
            kv_event_clear(&ev);
            kv_report_release(&rep);
            free(json);
        }
    }

    /* A NUL byte inside the input. */
    const char nul[] = "{\"type\":\"write_off\"\0}";
    kv_report_init(&rep);
    assert_int_equal(kv_event_decode(nul, sizeof(nul) - 1, KV_EVENT_INPUT, &ev, &rep), KV_EPARSE);
    assert_string_equal(rep.items[0].message,
                        "line 1, column 20 (byte 19): unexpected byte 0x00, expected ',' or '}'");
    kv_report_release(&rep);

    /* The length is honoured: bytes past it are not read. */
    const char *two = "{\"type\":\"write_off\"," HEAD "}GARBAGE";
    kv_report_init(&rep);
    assert_int_equal(kv_event_decode(two, strlen(two) - 7, KV_EVENT_INPUT, &ev, &rep), KV_OK);
    kv_report_release(&rep);

    assert_int_equal(kv_event_decode(NULL, 0, KV_EVENT_INPUT, &ev, &rep), KV_EINVAL);
    assert_int_equal(kv_event_decode("{}", 2, KV_EVENT_INPUT, NULL, &rep), KV_EINVAL);
    assert_int_equal(kv_event_decode("{}", 2, KV_EVENT_INPUT, &ev, NULL), KV_EINVAL);

    /* Problems add up in a caller's report; the result reflects this call only. */
    kv_report_init(&rep);
    kv_report_add(&rep, "R-X-001", "", "earlier");
    const char *okj = "{\"type\":\"write_off\"," HEAD "}";
    assert_int_equal(kv_event_decode(okj, strlen(okj), KV_EVENT_INPUT, &ev, &rep), KV_OK);
    assert_int_equal(rep.count, 1);
    kv_report_release(&rep);
}

static void test_encode_errors(void **state)
{
    (void)state;
    struct kv_event ev;
    char *out = (char *)1;
    memset(&ev, 0, sizeof(ev));
    assert_int_equal(kv_event_to_json(&ev, &out, NULL), KV_EINVAL); /* KV_EVENT_UNKNOWN */
    assert_null(out);
    ev.type = KV_EVENT_AMENDMENT;
    assert_int_equal(kv_event_to_json(&ev, &out, NULL), KV_EINVAL);
    assert_int_equal(kv_event_to_json(NULL, &out, NULL), KV_EINVAL);
    assert_int_equal(kv_event_to_json(&ev, NULL, NULL), KV_EINVAL);

    /* Characters that must be escaped, from an event built in memory. */
    ev.type = KV_EVENT_NO_RELEASE;
    assert_int_equal(kv_time_set(&ev.time, 1740816000, 0), KV_OK);
    memcpy(ev.office, "KZ000100", 9);
    static const char reason[] = "tab\there \x01 \"q\" \\";
    memcpy(ev.u.no_release.reason, reason, sizeof(reason));
    assert_int_equal(kv_event_to_json(&ev, &out, NULL), KV_OK);
    assert_string_equal(out, "{\"type\":\"no_release\",\"time\":\"2025-03-01T08:00:00Z\","
                             "\"office\":\"KZ000100\",\"reason\":\"tab\\there \\u0001 \\\"q\\\" "
                             "\\\\\"}");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_examples),   cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_amendment_bytes), cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_messages),        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_seal_count),      cmocka_unit_test(test_gnss),
        cmocka_unit_test(test_time_kept),       cmocka_unit_test(test_limits_and_arguments),
        cmocka_unit_test(test_encode_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
