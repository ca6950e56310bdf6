/* PLACEHOLDER */
#include "cli/cli.h"
int kv_cmd_mrn(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 2;
}
