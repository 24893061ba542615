/*
 * test_pull.c -- `model pull` against a local stand-in for the Hub.
 *
 * tests/hub_server.py serves tests/fixtures/bert-tiny as repository
 * acme/tiny on 127.0.0.1 (never the internet), with modes that cut a
 * download in half, ignore Range, or corrupt the weights. Also SHA-256
 * against the FIPS 180-4 example vectors.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/bert.h"
#include "model/model.h"
#include "model/pull.h"
#include "model/sha256.h"
#include "util/util.h"

Test(sha256, fips_vectors)
{
    char hex[65];
    tb_sha256_hex("", 0, hex);
    cr_expect_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    tb_sha256_hex("abc", 3, hex);
    cr_expect_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    tb_sha256_hex(two, strlen(two), hex);
    cr_expect_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a', fed in uneven pieces */
    static char a[1000000];
    memset(a, 'a', sizeof a);
    tb_sha256 s;
    tb_sha256_init(&s);
    for (size_t off = 0, step = 1; off < sizeof a; off += step, step = step * 3 % 1000 + 1)
        tb_sha256_update(&s, a + off, TB_MIN(step, sizeof a - off));
    uint8_t d[32];
    tb_sha256_final(&s, d);
    tb_hex(d, 32, hex);
    cr_expect_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(pull, repo_names)
{
    cr_expect(tb_pull_repo_valid("sentence-transformers/all-MiniLM-L6-v2"));
    cr_expect(tb_pull_repo_valid("BAAI/bge-small-en-v1.5"));
    cr_expect(!tb_pull_repo_valid("noslash"));
    cr_expect(!tb_pull_repo_valid("a/b/c"));
    cr_expect(!tb_pull_repo_valid("../etc"));
    cr_expect(!tb_pull_repo_valid("a/.."));
    cr_expect(!tb_pull_repo_valid("a/b c"));
    cr_expect(!tb_pull_repo_valid("/a"));
    cr_expect(!tb_pull_repo_valid(""));
    char *d = tb_pull_dir_name("BAAI/bge-small-en-v1.5");
    cr_expect_str_eq(d, "BAAI--bge-small-en-v1.5");
    free(d);
}

/* ---------------------------------------------------------------- server */

typedef struct hub {
    pid_t pid;
    char dir[64];      /* scratch: root/, port, log, out/ */
    char endpoint[64];
} hub;

static bool have_python(void)
{
    return system("python3 -c 'import http.server' >/dev/null 2>&1") == 0;
}

static void hub_start(hub *h, const char *mode)
{
    if (!have_python())
        cr_skip_test("python3 not available for the local hub server");
    snprintf(h->dir, sizeof h->dir, "/tmp/tb-pull-XXXXXX");
    cr_assert(mkdtemp(h->dir));
    char cwd[1024];
    cr_assert(getcwd(cwd, sizeof cwd));
    char *org = tb_asprintf("%s/root/acme", h->dir);
    cr_assert_eq(tb_mkdir_p(org, NULL), 0);
    char *link = tb_asprintf("%s/tiny", org);
    char *target = tb_asprintf("%s/tests/fixtures/bert-tiny", cwd);
    cr_assert_eq(symlink(target, link), 0);
    free(org);
    free(link);
    free(target);
    char *root = tb_asprintf("%s/root", h->dir);
    char *port = tb_asprintf("%s/port", h->dir);
    char *log = tb_asprintf("%s/log", h->dir);
    h->pid = fork();
    cr_assert(h->pid >= 0);
    if (h->pid == 0) {
        execlp("python3", "python3", "tests/hub_server.py", root, port, log, "--mode", mode,
               (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && !tb_path_exists(port); i++)
        usleep(50000);
    tb_buf b = {0};
    cr_assert_eq(tb_read_file(port, &b, 100, NULL), 0, "hub server did not start");
    snprintf(h->endpoint, sizeof h->endpoint, "http://127.0.0.1:%s", b.data);
    tb_buf_free(&b);
    free(root);
    free(port);
    free(log);
}

static void hub_stop(hub *h)
{
    kill(h->pid, SIGTERM);
    waitpid(h->pid, NULL, 0);
    char *cmd = tb_asprintf("rm -rf '%s'", h->dir);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
}

static char *hub_log(hub *h)
{
    char *p = tb_asprintf("%s/log", h->dir);
    tb_buf b = {0};
    tb_read_file(p, &b, 0, NULL);
    free(p);
    return b.data ? tb_buf_steal(&b) : tb_strdup("");
}

static int notes_skip, notes_get, notes_resume;
static void count_note(void *ud, const char *file, const char *what, uint64_t size)
{
    (void)ud;
    (void)file;
    (void)size;
    if (!strcmp(what, "skip"))
        notes_skip++;
    else if (!strcmp(what, "get"))
        notes_get++;
    else if (!strcmp(what, "resume"))
        notes_resume++;
}

static void same_file(const char *a, const char *b)
{
    tb_buf x = {0}, y = {0};
    cr_assert_eq(tb_read_file(a, &x, 0, NULL), 0, "%s", a);
    cr_assert_eq(tb_read_file(b, &y, 0, NULL), 0, "%s", b);
    cr_expect(x.len == y.len && memcmp(x.data, y.data, x.len) == 0, "%s differs from %s", a, b);
    tb_buf_free(&x);
    tb_buf_free(&y);
}

static int pull(hub *h, char **dest, tb_err *err)
{
    *dest = tb_asprintf("%s/out/models/acme--tiny", h->dir);
    struct tb_pull_opts o = {.endpoint = h->endpoint, .note = count_note};
    notes_skip = notes_get = notes_resume = 0;
    return tb_model_pull("acme/tiny", *dest, &o, err);
}

Test(pull, downloads_verifies_and_skips)
{
    hub h;
    hub_start(&h, "normal");
    char *dest;
    tb_err err = {0};
    cr_assert_eq(pull(&h, &dest, &err), 0, "%s", err.msg);
    cr_expect(notes_get >= 6, "%d files fetched", notes_get);
    static const char *const files[] = {"config.json", "model.safetensors", "tokenizer.json",
                                        "modules.json", "1_Pooling/config.json"};
    for (size_t i = 0; i < TB_ARRAY_LEN(files); i++) {
        char *a = tb_asprintf("tests/fixtures/bert-tiny/%s", files[i]);
        char *b = tb_asprintf("%s/%s", dest, files[i]);
        same_file(a, b);
        free(a);
        free(b);
    }
    cr_expect(tb_bert_probe(dest));
    tb_model *m = tb_bert_open(dest, NULL, &err);
    cr_expect(m, "%s", err.msg);
    if (m)
        m->ops->close(m);
    /* again: nothing to fetch */
    char *before = hub_log(&h);
    free(dest);
    cr_assert_eq(pull(&h, &dest, &err), 0, "%s", err.msg);
    cr_expect_eq(notes_get + notes_resume, 0);
    cr_expect(notes_skip >= 6);
    char *after = hub_log(&h);
    cr_expect(!strstr(after + strlen(before), "/resolve/"), "re-downloaded: %s",
              after + strlen(before));
    free(before);
    free(after);
    free(dest);
    hub_stop(&h);
}

Test(pull, resumes_after_a_cut)
{
    hub h;
    hub_start(&h, "cut");
    char *dest;
    tb_err err = {0};
    cr_assert_eq(pull(&h, &dest, &err), -1, "a cut download succeeded");
    cr_expect(strstr(err.msg, "model.safetensors"), "%s", err.msg);
    char *part = tb_asprintf("%s/model.safetensors.part", dest);
    struct stat st;
    cr_assert_eq(stat(part, &st), 0, "no .part left to resume");
    long half = (long)st.st_size;
    cr_expect(half > 0);
    free(dest);
    cr_assert_eq(pull(&h, &dest, &err), 0, "%s", err.msg);
    cr_expect_eq(notes_resume, 1);
    char *log = hub_log(&h);
    char *want = tb_asprintf("range=bytes=%ld-", half);
    cr_expect(strstr(log, want), "no Range request %s in:\n%s", want, log);
    char *got = tb_asprintf("%s/model.safetensors", dest);
    same_file("tests/fixtures/bert-tiny/model.safetensors", got);
    cr_expect(!tb_path_exists(part));
    free(got);
    free(want);
    free(log);
    free(part);
    free(dest);
    hub_stop(&h);
}

Test(pull, server_ignoring_range_restarts)
{
    hub h;
    hub_start(&h, "norange");
    char *dest = tb_asprintf("%s/out/models/acme--tiny", h.dir);
    cr_assert_eq(tb_mkdir_p(dest, NULL), 0);
    char *part = tb_asprintf("%s/model.safetensors.part", dest);
    cr_assert_eq(tb_write_file(part, "garbage-garbage", 15, NULL), 0);
    free(dest);
    tb_err err = {0};
    cr_assert_eq(pull(&h, &dest, &err), 0, "%s", err.msg);
    char *got = tb_asprintf("%s/model.safetensors", dest);
    same_file("tests/fixtures/bert-tiny/model.safetensors", got);
    free(got);
    free(part);
    free(dest);
    hub_stop(&h);
}

Test(pull, checksum_mismatch_refused)
{
    hub h;
    hub_start(&h, "corrupt");
    char *dest;
    tb_err err = {0};
    cr_assert_eq(pull(&h, &dest, &err), -1);
    cr_expect(strstr(err.msg, "sha256 mismatch"), "%s", err.msg);
    char *got = tb_asprintf("%s/model.safetensors", dest);
    char *part = tb_asprintf("%s.part", got);
    cr_expect(!tb_path_exists(got));
    cr_expect(!tb_path_exists(part));
    free(got);
    free(part);
    free(dest);
    hub_stop(&h);
}

Test(pull, missing_repo)
{
    hub h;
    hub_start(&h, "normal");
    struct tb_pull_opts o = {.endpoint = h.endpoint};
    char *dest = tb_asprintf("%s/out/x", h.dir);
    tb_err err = {0};
    cr_assert_eq(tb_model_pull("acme/nothere", dest, &o, &err), -1);
    cr_expect_eq(err.code, TB_ENOTFOUND);
    cr_expect(strstr(err.msg, "HTTP 404"), "%s", err.msg);
    cr_assert_eq(tb_model_pull("../evil", dest, &o, &err), -1);
    cr_expect(strstr(err.msg, "ORG/NAME"), "%s", err.msg);
    free(dest);
    hub_stop(&h);
}
