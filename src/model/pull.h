/*
 * pull.h -- download a model from the Hugging Face Hub (or a mirror).
 *
 * tb_model_pull(repo "ORG/NAME", dest) lists the repository's files with
 * GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true, keeps the
 * ones a tastebud model needs (top-level and N_Module/ *.json, *.txt and
 * *.safetensors), and fetches each with GET {endpoint}/{repo}/resolve/
 * {revision}/{path} into dest. A download goes to <file>.part and is resumed
 * with a Range request when the .part exists; the finished file's size must
 * match the listing and, for LFS files, its SHA-256 must match lfs.oid
 * before it is renamed into place. Files already present with the right
 * size (and hash) are skipped, so a second pull is a cheap check.
 */
#ifndef TB_PULL_H
#define TB_PULL_H

#include <stdbool.h>
#include <stdint.h>

#include "tastebud.h"

struct tb_pull_opts {
    const char *endpoint;  /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *revision;  /* NULL: "main" */
    const char *token;     /* NULL: $HF_TOKEN (sent as a Bearer token), if set */
    /* Called while downloading (done == total at the end of a file); may be NULL. */
    void (*progress)(void *ud, const char *file, uint64_t done, uint64_t total);
    void *progress_ud;
    /* Called once per file with what happened ("skip", "get", "resume"). */
    void (*note)(void *ud, const char *file, const char *what, uint64_t size);
};

/* True when repo is "ORG/NAME" made of [A-Za-z0-9._-] (no "..", one '/'). */
bool tb_pull_repo_valid(const char *repo);
/* The cache directory name for a repo: ORG--NAME (caller frees). */
char *tb_pull_dir_name(const char *repo);
/* Download repo into dest_dir (created if needed). 0 or -1 with err. */
int tb_model_pull(const char *repo, const char *dest_dir, const struct tb_pull_opts *opts,
                  tb_err *err);

#endif
