/*
 * test_http_per_connection.c — the whole HTTP server suite (test_http.c)
 * again, with a thread per connection (KV_HTTP_PER_CONNECTION) instead of
 * libmicrohttpd's thread pool.
 */
#define KV_TEST_THREADING KV_HTTP_PER_CONNECTION
#include "test_http.c"
