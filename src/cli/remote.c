/*
 * remote.c — the client subcommands' shared plumbing (see remote.h).
 */
#include "cli/remote.h"

#include "core/err.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_FILE_MAX 1024

const char kv_remote_opts_help[] =
    "connection (every client command):\n"
    "  --node URL         the node's base URL, e.g. http://127.0.0.1:8080 (else $KERVAN_NODE)\n"
    "  --token T          bearer token from `kervan token add` (else $KERVAN_TOKEN)\n"
    "  --token-file F     read the token from the first line of F (keeps it out of `ps`)\n";

int kv_remote_opt_value(const char *prog, int argc, char **argv, int *i, const char *name,
                        const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", prog, name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int kv_remote_opt(const char *prog, int argc, char **argv, int *i, struct kv_remote_opts *o)
{
    int r = kv_remote_opt_value(prog, argc, argv, i, "--node", &o->node);
    if (r == 0)
        r = kv_remote_opt_value(prog, argc, argv, i, "--token-file", &o->token_file);
    if (r == 0)
        r = kv_remote_opt_value(prog, argc, argv, i, "--token", &o->token);
    return r;
}

/* Reads the first line of path into buf (size bufsz). Returns 0 or -1 (printed). */
static int read_token_file(const char *prog, const char *path, char *buf, size_t bufsz)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: --token-file %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    bool ok = fgets(buf, (int)bufsz, f) != NULL;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "%s: --token-file %s: empty\n", prog, path);
        return -1;
    }
    size_t n = strcspn(buf, "\r\n");
    if (buf[n] == '\0' && n + 1 >= bufsz) {
        fprintf(stderr, "%s: --token-file %s: the first line is too long for a token\n", prog,
                path);
        return -1;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
    if (n == 0) {
        fprintf(stderr, "%s: --token-file %s: empty\n", prog, path);
        return -1;
    }
    return 0;
}

int kv_remote_connect(const char *prog, const struct kv_remote_opts *o, struct kv_client **out)
{
    char token[TOKEN_FILE_MAX];
    struct kv_client_options co = {.node = o->node, .token = o->token};
    if (o->token_file) {
        if (o->token) {
            fprintf(stderr, "%s: give --token or --token-file, not both\n", prog);
            return 2;
        }
        if (read_token_file(prog, o->token_file, token, sizeof(token)) != 0)
            return 2;
        co.token = token;
    }
    char err[KV_CLIENT_ERR_MAX];
    int rc = kv_client_new(&co, out, err, sizeof(err));
    explicit_bzero(token, sizeof(token));
    if (rc != KV_OK) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return 2;
    }
    return 0;
}

int kv_remote_call(const char *prog, struct kv_client *c, const char *method, const char *path,
                   const char *body, size_t len, struct kv_client_resp *resp)
{
    int rc = kv_client_request(c, method, path, body, len, resp);
    if (rc != KV_OK) {
        fprintf(stderr, "%s: ", prog);
        kv_remote_print_clean(stderr, kv_client_error(c));
        fputc('\n', stderr);
        return 2;
    }
    return 0;
}

json_object *kv_remote_json(const struct kv_client_resp *resp)
{
    if (!resp->body || resp->len == 0 || resp->len > (size_t)INT32_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return NULL;
    json_object *o = json_tokener_parse_ex(tok, resp->body, (int)resp->len);
    bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
              json_object_is_type(o, json_type_object);
    json_tokener_free(tok);
    if (!ok) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

void kv_remote_print_clean(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

const char *kv_remote_str(json_object *o, const char *key, const char *dflt)
{
    json_object *v;
    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return dflt;
}

/* What a status means, in a few words, and the exit status it gives. */
static const char *status_words(long status, int *exit_status)
{
    *exit_status = 1;
    switch (status) {
    case 400:
        return "bad request";
    case 401:
        *exit_status = 2;
        return "not authenticated: give a valid token with --token, --token-file or KERVAN_TOKEN";
    case 403:
        return "forbidden: this token's role may not do this";
    case 404:
        return "not found";
    case 405:
        return "method not allowed";
    case 409:
        return "conflict";
    case 413:
        return "too large";
    case 415:
        return "unsupported content type";
    case 422:
        return "rejected";
    case 431:
        return "request headers too large";
    case 503:
        *exit_status = 2;
        return "node unavailable (stopping?)";
    default:
        break;
    }
    if (status >= 500) {
        *exit_status = 2;
        return "node error";
    }
    if (status < 400)
        *exit_status = 2;
    return status < 400 ? "unexpected answer" : "refused";
}

int kv_remote_fail(const char *prog, const struct kv_client_resp *resp, const char *subject)
{
    int xs;
    const char *words = status_words(resp->status, &xs);
    json_object *o = kv_remote_json(resp);
    json_object *err = NULL, *problems = NULL;
    if (o && json_object_object_get_ex(o, "error", &err) &&
        json_object_is_type(err, json_type_object))
        json_object_object_get_ex(err, "problems", &problems);
    else
        err = NULL;
    const char *msg = kv_remote_str(err, "message", NULL);

    /* One problem that only repeats the message (a 409, a 403): it goes on
     * the one line, with its rule, instead of a second line. A 422 always
     * lists its problems, as `kervan validate` does. */
    json_object *only = NULL;
    if (resp->status != 422 && problems && json_object_is_type(problems, json_type_array) &&
        json_object_array_length(problems) == 1) {
        only = json_object_array_get_idx(problems, 0);
        if (!msg || strcmp(kv_remote_str(only, "message", ""), msg) != 0)
            only = NULL;
    }
    fprintf(stderr, "%s: %s (%ld)", prog, words, resp->status);
    if (only) {
        fputs(": ", stderr);
        kv_remote_print_clean(stderr, kv_remote_str(only, "rule", "?"));
    }
    if (msg && *msg) {
        fputs(": ", stderr);
        kv_remote_print_clean(stderr, msg);
    } else if (resp->body && resp->len && !o) {
        /* not our error body (e.g. libmicrohttpd's own HTML): its first line */
        char line[160];
        size_t n = strcspn(resp->body, "\r\n");
        if (n >= sizeof(line))
            n = sizeof(line) - 1;
        memcpy(line, resp->body, n);
        line[n] = '\0';
        fputs(": ", stderr);
        kv_remote_print_clean(stderr, line);
    }
    if (resp->status == 404 && subject) {
        fputs(" (", stderr);
        kv_remote_print_clean(stderr, subject);
        fputs(" does not exist, or this token may not see it)", stderr);
    }
    fputc('\n', stderr);

    if (!only && problems && json_object_is_type(problems, json_type_array)) {
        size_t n = json_object_array_length(problems);
        for (size_t k = 0; k < n; k++) {
            json_object *p = json_object_array_get_idx(problems, k);
            const char *ptr = kv_remote_str(p, "pointer", "");
            kv_remote_print_clean(stdout, *ptr ? ptr : "/");
            fputs(": ", stdout);
            kv_remote_print_clean(stdout, kv_remote_str(p, "rule", "?"));
            fputs(": ", stdout);
            kv_remote_print_clean(stdout, kv_remote_str(p, "message", ""));
            fputc('\n', stdout);
        }
        json_object *more;
        if (json_object_object_get_ex(err, "problems_total", &more) &&
            json_object_get_int64(more) > (int64_t)n)
            printf("(%lld more problems not shown)\n",
                   (long long)(json_object_get_int64(more) - (int64_t)n));
    }
    fflush(stdout);
    json_object_put(o);
    return xs;
}

int kv_remote_escape(char *dst, size_t dstsz, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(dst);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        size_t need = plain ? 1 : 3;
        if (n + need >= dstsz) {
            dst[n] = '\0';
            return -1;
        }
        if (plain) {
            dst[n++] = (char)*p;
        } else {
            dst[n++] = '%';
            dst[n++] = hex[*p >> 4];
            dst[n++] = hex[*p & 15];
        }
    }
    dst[n] = '\0';
    return 0;
}

void kv_remote_print_json(json_object *o)
{
    const char *s = json_object_to_json_string_ext(
        o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
    fputs(s ? s : "null", stdout);
    fputc('\n', stdout);
}
