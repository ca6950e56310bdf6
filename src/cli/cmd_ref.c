/* PLACEHOLDER */
#include "cli/cli.h"
int kv_cmd_codes(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 2;
}
int kv_cmd_offices(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 2;
}
