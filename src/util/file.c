/*
 * file.c -- whole-file reads with a size limit, atomic writes, directories.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int tb_read_file(const char *path, tb_buf *b, size_t max_bytes, tb_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tb_err_set(err, errno == ENOENT ? TB_ENOTFOUND : TB_EIO, "%s: %s", path,
                          strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return tb_err_set(err, TB_EINVAL, "%s: is a directory", path);
    }
    size_t start = b->len;
    for (;;) {
        tb_buf_reserve(b, 65536);
        ssize_t n = read(fd, b->data + b->len, 65536);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return tb_err_set(err, TB_EIO, "%s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
        b->data[b->len] = '\0';
        if (max_bytes && b->len - start > max_bytes) {
            close(fd);
            b->len = start;
            b->data[b->len] = '\0';
            return tb_err_set(err, TB_ENOMEM, "%s: larger than the limit of %zu bytes", path,
                              max_bytes);
        }
    }
    close(fd);
    return 0;
}

int tb_write_file(const char *path, const void *data, size_t n, tb_err *err)
{
    char *tmp = tb_asprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        tb_err_set(err, TB_EIO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    const char *p = data;
    size_t left = n;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            tb_err_set(err, TB_EIO, "%s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        tb_err_set(err, TB_EIO, "%s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int tb_mkdir_p(const char *path, tb_err *err)
{
    char *p = tb_strdup(path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                tb_err_set(err, TB_EIO, "cannot create directory %s: %s", p, strerror(errno));
                free(p);
                return -1;
            }
            p[i] = c;
        }
    }
    free(p);
    if (!tb_is_dir(path))
        return tb_err_set(err, TB_EIO, "%s exists and is not a directory", path);
    return 0;
}

bool tb_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool tb_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *tb_path_join(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (n > 0 && a[n - 1] == '/')
        return tb_asprintf("%s%s", a, b);
    return tb_asprintf("%s/%s", a, b);
}
