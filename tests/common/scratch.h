/*
 * scratch.h — scratch folders for the tests: a fresh folder under $TMPDIR
 * (or /tmp) and its removal with the files in it. Shared by the store and
 * the net tests.
 *
 * Header-only (static functions) because each tests/<area>/test_*.c is its
 * own executable.
 */
#ifndef KV_TESTS_COMMON_SCRATCH_H
#define KV_TESTS_COMMON_SCRATCH_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Creates a fresh folder $TMPDIR/<prefix>-XXXXXX (or under /tmp) into dir
 * (size 256); aborts when it cannot. */
static inline void kv_test_tmpdir(char dir[256], const char *prefix)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, 256, "%s/%s-XXXXXX", base && *base ? base : "/tmp", prefix);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
}

/* Removes a folder and the files in it (no subfolders expected). */
static inline void kv_test_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[600];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

#endif
