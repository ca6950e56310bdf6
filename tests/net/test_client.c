/*
 * test_client.c — the CLI's libcurl client (src/net/client.c) against an
 * in-process server on 127.0.0.1 port 0: GET/POST JSON, the bearer token
 * from options or the environment, status and Location passed through,
 * one reused connection, and the error sentences for a node that is not
 * there or too slow.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "net/client.h"
#include "net/http.h"
#include "net/log.h"
#include "net/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct kv_http *srv;
static struct kv_metrics *metrics;
static char base[64];

static int h_echo(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    (void)ctx;
    size_t len;
    const char *body = kv_http_req_body(req, &len);
    const char *tok = kv_http_req_bearer(req), *accept = kv_http_req_header(req, "Accept");
    char *out = kv_http_req_printf(req,
                                   "{\"method\":\"%s\",\"token\":\"%s\",\"json\":%s,"
                                   "\"accept\":\"%s\",\"len\":%zu,\"body\":%s}",
                                   kv_http_req_method(req), tok ? tok : "",
                                   kv_http_req_is_json(req) ? "true" : "false",
                                   accept ? accept : "", len, len ? body : "null");
    if (strcmp(kv_http_req_method(req), "POST") == 0)
        kv_http_resp_header(resp, "Location", "/v1/movements/24TR00000000000012");
    return kv_http_resp_json(resp, strcmp(kv_http_req_method(req), "POST") == 0 ? 201 : 200, out,
                             strlen(out));
}

static int h_slow(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    struct timespec t = {0, 800 * 1000000L};
    nanosleep(&t, NULL);
    return kv_http_resp_json(resp, 200, "{}", 2);
}

static int setup(void **state)
{
    (void)state;
    struct kv_http_config cfg;
    kv_http_config_init(&cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.threads = 2;
    if (kv_metrics_new(&metrics) != KV_OK)
        return -1;
    cfg.metrics = metrics;
    if (kv_http_new(&cfg, &srv) != KV_OK)
        return -1;
    kv_http_route(srv, "GET", "/echo", h_echo, NULL);
    kv_http_route(srv, "POST", "/echo", h_echo, NULL);
    kv_http_route(srv, "GET", "/slow", h_slow, NULL);
    char err[256];
    if (kv_http_start(srv, err, sizeof(err)) != KV_OK)
        return -1;
    snprintf(base, sizeof(base), "http://%s", kv_http_address(srv));
    unsetenv("KERVAN_NODE");
    unsetenv("KERVAN_TOKEN");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kv_http_free(srv);
    kv_metrics_free(metrics);
    return 0;
}

static void test_get_post(void **state)
{
    (void)state;
    struct kv_client *c;
    char err[KV_CLIENT_ERR_MAX];
    struct kv_client_options o = {.node = base, .token = "t0k3n"};
    assert_int_equal(kv_client_new(&o, &c, err, sizeof(err)), KV_OK);
    assert_string_equal(kv_client_node(c), base);
    struct kv_client_resp r;
    assert_int_equal(kv_client_get(c, "/echo", &r), KV_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_string_equal(r.body, "{\"method\":\"GET\",\"token\":\"t0k3n\",\"json\":false,"
                                "\"accept\":\"application/json\",\"len\":0,\"body\":null}");
    assert_string_equal(r.location, "");
    kv_client_resp_release(&r);

    const char doc[] = "{\"lrn\":\"ABC-1\"}";
    assert_int_equal(kv_client_post_json(c, "/echo", doc, sizeof(doc) - 1, &r), KV_OK);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.location, "/v1/movements/24TR00000000000012");
    assert_non_null(strstr(r.body, "\"json\":true,"));
    assert_non_null(strstr(r.body, "\"len\":15,\"body\":{\"lrn\":\"ABC-1\"}}"));
    kv_client_resp_release(&r);

    /* an HTTP error is an answer, not a failure */
    assert_int_equal(kv_client_get(c, "/nope", &r), KV_OK);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "\"code\":\"not_found\""));
    kv_client_resp_release(&r);
    assert_int_equal(kv_client_request(c, "DELETE", "/echo", NULL, 0, &r), KV_OK);
    assert_int_equal(r.status, 405);
    kv_client_resp_release(&r);
    assert_int_equal(kv_client_request(c, "HEAD", "/echo", NULL, 0, &r), KV_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_string_equal(r.body, "");
    kv_client_resp_release(&r);

    assert_int_equal(kv_client_get(c, "echo", &r), KV_EINVAL);
    assert_int_equal(kv_client_get(c, "/a b", &r), KV_EINVAL);

    /* one connection for all of the above: the handle is reused */
    char *text;
    size_t len;
    assert_int_equal(kv_metrics_render(metrics, &text, &len), KV_OK);
    assert_non_null(strstr(text, "kervan_http_connections 1\n"));
    free(text);
    kv_client_free(c);
    kv_client_free(NULL);
}

static void test_environment(void **state)
{
    (void)state;
    struct kv_client *c = NULL;
    char err[KV_CLIENT_ERR_MAX];
    assert_int_equal(kv_client_new(NULL, &c, err, sizeof(err)), KV_EINVAL);
    assert_null(c);
    assert_string_equal(err, "no node given: use --node URL or set KERVAN_NODE");

    struct kv_client_options o = {.node = "ftp://127.0.0.1/"};
    assert_int_equal(kv_client_new(&o, &c, err, sizeof(err)), KV_EINVAL);
    assert_string_equal(err, "node URL 'ftp://127.0.0.1/' must start with http:// or https://");

    char slash[80];
    snprintf(slash, sizeof(slash), "%s/", base); /* a trailing slash is fine */
    setenv("KERVAN_NODE", slash, 1);
    setenv("KERVAN_TOKEN", "from-env", 1);
    assert_int_equal(kv_client_new(NULL, &c, err, sizeof(err)), KV_OK);
    assert_string_equal(kv_client_node(c), base);
    struct kv_client_resp r;
    assert_int_equal(kv_client_get(c, "/echo", &r), KV_OK);
    assert_non_null(strstr(r.body, "\"token\":\"from-env\""));
    kv_client_resp_release(&r);
    kv_client_free(c);

    struct kv_client_options o2 = {.token = "from-flag"}; /* flags win over the environment */
    assert_int_equal(kv_client_new(&o2, &c, err, sizeof(err)), KV_OK);
    assert_int_equal(kv_client_get(c, "/echo", &r), KV_OK);
    assert_non_null(strstr(r.body, "\"token\":\"from-flag\""));
    kv_client_resp_release(&r);
    kv_client_free(c);
    unsetenv("KERVAN_NODE");
    unsetenv("KERVAN_TOKEN");
}

static void test_unreachable_and_slow(void **state)
{
    (void)state;
    /* a port with nobody on it: bind, read it back, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    char url[64], want[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
    snprintf(want, sizeof(want), "cannot reach node at %s: Connection refused", url);

    struct kv_client *c;
    char err[KV_CLIENT_ERR_MAX];
    struct kv_client_options o = {.node = url};
    assert_int_equal(kv_client_new(&o, &c, err, sizeof(err)), KV_OK);
    struct kv_client_resp r;
    assert_int_equal(kv_client_get(c, "/healthz", &r), KV_EIO);
    assert_string_equal(kv_client_error(c), want);
    assert_null(r.body);
    kv_client_free(c);

    struct kv_client_options slow = {.node = base, .timeout_ms = 200};
    assert_int_equal(kv_client_new(&slow, &c, err, sizeof(err)), KV_OK);
    assert_int_equal(kv_client_get(c, "/slow", &r), KV_EIO);
    snprintf(want, sizeof(want), "node at %s did not answer in time: ", base);
    assert_int_equal(strncmp(kv_client_error(c), want, strlen(want)), 0);
    /* the same client goes on working after a failure */
    assert_int_equal(kv_client_get(c, "/echo", &r), KV_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(kv_client_error(c), "");
    kv_client_resp_release(&r);
    kv_client_free(c);
}

int main(void)
{
    kv_log_init(2, KV_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_post, setup, teardown),
        cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_and_slow, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kv_client_global_cleanup();
    return rc;
}
