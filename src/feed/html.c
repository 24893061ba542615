/*
 * html.c -- HTML fragments to plain text, for embedding.
 *
 * An item's description is HTML (often broken HTML). The embedder wants the
 * words only. Building a DOM per item with libxml2's HTML parser was more
 * than half the cost of parsing a feed, so this is a single forward pass
 * over the bytes that writes straight into the output buffer, with no
 * allocation per tag:
 *
 *   - tags are dropped; a tag that is not inline (<b>, <a>, <span>...)
 *     separates words, so "<p>one</p><p>two</p>" reads "one two" but
 *     "<b>w</b>ord" stays "word". Unknown tags count as block tags;
 *   - comments, CDATA sections, <!DOCTYPE>/<?pi?> produce nothing;
 *   - the content of script/style (raw text, up to the matching end tag)
 *     and of head/template/noscript/iframe/object/svg/math is skipped;
 *   - character references are decoded: numeric ones validated (NUL,
 *     surrogates and values past U+10FFFF become U+FFFD; 0x80-0x9F are read
 *     as windows-1252, as browsers do), named ones from the HTML 4 set plus
 *     &apos; (a ';' is required for named references, as libxml2 does);
 *   - whitespace, including no-break spaces, collapses to single spaces and
 *     the result is trimmed;
 *   - the output is valid UTF-8: an invalid byte becomes U+FFFD.
 *
 * A '<' that starts no tag ("a < b") is text. A tag left open at the end of
 * the input, or an unterminated comment, swallows the rest, as in libxml2.
 * The reducer agrees with libxml2's HTML parser plus a text walk on nearly
 * every description of the real-feed corpus (tests/test_feed_parse.c
 * measures it).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feed/parse.h"

/* ------------------------------------------------------------ output */

/* The output side: whitespace collapses into one pending space that is
 * written before the next visible character, never at the start. */
typedef struct red {
    tb_buf *out;
    size_t start; /* out->len when we began: no leading space before it */
    bool space;
} red;

static inline void put(red *r, const void *p, size_t n)
{
    tb_buf *b = r->out;
    if (b->cap - b->len <= n + 1)
        tb_buf_reserve(b, n + 1);
    if (r->space) {
        if (b->len > r->start)
            b->data[b->len++] = ' ';
        r->space = false;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Encode code point u (valid, not a surrogate) as UTF-8 into e. */
static size_t utf8_put(unsigned u, char *e)
{
    if (u < 0x80) {
        e[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        e[0] = (char)(0xC0 | (u >> 6));
        e[1] = (char)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        e[0] = (char)(0xE0 | (u >> 12));
        e[1] = (char)(0x80 | ((u >> 6) & 0x3F));
        e[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    e[0] = (char)(0xF0 | (u >> 18));
    e[1] = (char)(0x80 | ((u >> 12) & 0x3F));
    e[2] = (char)(0x80 | ((u >> 6) & 0x3F));
    e[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}

static bool is_space_cp(unsigned u)
{
    return u == ' ' || u == '\t' || u == '\n' || u == '\r' || u == '\f' || u == '\v' ||
           u == 0xA0;
}

static void put_cp(red *r, unsigned u)
{
    if (is_space_cp(u)) {
        r->space = true;
        return;
    }
    char e[4];
    put(r, e, utf8_put(u, e));
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 when the
 * bytes are not one (overlong, surrogate, past U+10FFFF, truncated). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end, unsigned *cp)
{
    unsigned c = p[0], min;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        min = 0x80;
        c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        min = 0x800;
        c &= 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

/* ------------------------------------------------------------ entities */

/* The HTML 4.01 named character references (HTMLlat1, HTMLsymbol and
 * HTMLspecial) and XHTML's &apos;. */
typedef struct ent {
    const char *name;
    unsigned cp;
} ent;

static const ent entities[] = {
    /* HTMLspecial */
    {"quot", 34}, {"amp", 38}, {"apos", 39}, {"lt", 60}, {"gt", 62}, {"OElig", 338},
    {"oelig", 339}, {"Scaron", 352}, {"scaron", 353}, {"Yuml", 376}, {"circ", 710},
    {"tilde", 732}, {"ensp", 8194}, {"emsp", 8195}, {"thinsp", 8201}, {"zwnj", 8204},
    {"zwj", 8205}, {"lrm", 8206}, {"rlm", 8207}, {"ndash", 8211}, {"mdash", 8212},
    {"lsquo", 8216}, {"rsquo", 8217}, {"sbquo", 8218}, {"ldquo", 8220}, {"rdquo", 8221},
    {"bdquo", 8222}, {"dagger", 8224}, {"Dagger", 8225}, {"permil", 8240}, {"lsaquo", 8249},
    {"rsaquo", 8250}, {"euro", 8364},
    /* HTMLlat1: U+00A0..U+00FF in order */
    {"nbsp", 160}, {"iexcl", 161}, {"cent", 162}, {"pound", 163}, {"curren", 164},
    {"yen", 165}, {"brvbar", 166}, {"sect", 167}, {"uml", 168}, {"copy", 169}, {"ordf", 170},
    {"laquo", 171}, {"not", 172}, {"shy", 173}, {"reg", 174}, {"macr", 175}, {"deg", 176},
    {"plusmn", 177}, {"sup2", 178}, {"sup3", 179}, {"acute", 180}, {"micro", 181},
    {"para", 182}, {"middot", 183}, {"cedil", 184}, {"sup1", 185}, {"ordm", 186},
    {"raquo", 187}, {"frac14", 188}, {"frac12", 189}, {"frac34", 190}, {"iquest", 191},
    {"Agrave", 192}, {"Aacute", 193}, {"Acirc", 194}, {"Atilde", 195}, {"Auml", 196},
    {"Aring", 197}, {"AElig", 198}, {"Ccedil", 199}, {"Egrave", 200}, {"Eacute", 201},
    {"Ecirc", 202}, {"Euml", 203}, {"Igrave", 204}, {"Iacute", 205}, {"Icirc", 206},
    {"Iuml", 207}, {"ETH", 208}, {"Ntilde", 209}, {"Ograve", 210}, {"Oacute", 211},
    {"Ocirc", 212}, {"Otilde", 213}, {"Ouml", 214}, {"times", 215}, {"Oslash", 216},
    {"Ugrave", 217}, {"Uacute", 218}, {"Ucirc", 219}, {"Uuml", 220}, {"Yacute", 221},
    {"THORN", 222}, {"szlig", 223}, {"agrave", 224}, {"aacute", 225}, {"acirc", 226},
    {"atilde", 227}, {"auml", 228}, {"aring", 229}, {"aelig", 230}, {"ccedil", 231},
    {"egrave", 232}, {"eacute", 233}, {"ecirc", 234}, {"euml", 235}, {"igrave", 236},
    {"iacute", 237}, {"icirc", 238}, {"iuml", 239}, {"eth", 240}, {"ntilde", 241},
    {"ograve", 242}, {"oacute", 243}, {"ocirc", 244}, {"otilde", 245}, {"ouml", 246},
    {"divide", 247}, {"oslash", 248}, {"ugrave", 249}, {"uacute", 250}, {"ucirc", 251},
    {"uuml", 252}, {"yacute", 253}, {"thorn", 254}, {"yuml", 255},
    /* HTMLsymbol */
    {"fnof", 402}, {"Alpha", 913}, {"Beta", 914}, {"Gamma", 915}, {"Delta", 916},
    {"Epsilon", 917}, {"Zeta", 918}, {"Eta", 919}, {"Theta", 920}, {"Iota", 921},
    {"Kappa", 922}, {"Lambda", 923}, {"Mu", 924}, {"Nu", 925}, {"Xi", 926}, {"Omicron", 927},
    {"Pi", 928}, {"Rho", 929}, {"Sigma", 931}, {"Tau", 932}, {"Upsilon", 933}, {"Phi", 934},
    {"Chi", 935}, {"Psi", 936}, {"Omega", 937}, {"alpha", 945}, {"beta", 946},
    {"gamma", 947}, {"delta", 948}, {"epsilon", 949}, {"zeta", 950}, {"eta", 951},
    {"theta", 952}, {"iota", 953}, {"kappa", 954}, {"lambda", 955}, {"mu", 956}, {"nu", 957},
    {"xi", 958}, {"omicron", 959}, {"pi", 960}, {"rho", 961}, {"sigmaf", 962},
    {"sigma", 963}, {"tau", 964}, {"upsilon", 965}, {"phi", 966}, {"chi", 967}, {"psi", 968},
    {"omega", 969}, {"thetasym", 977}, {"upsih", 978}, {"piv", 982}, {"bull", 8226},
    {"hellip", 8230}, {"prime", 8242}, {"Prime", 8243}, {"oline", 8254}, {"frasl", 8260},
    {"weierp", 8472}, {"image", 8465}, {"real", 8476}, {"trade", 8482}, {"alefsym", 8501},
    {"larr", 8592}, {"uarr", 8593}, {"rarr", 8594}, {"darr", 8595}, {"harr", 8596},
    {"crarr", 8629}, {"lArr", 8656}, {"uArr", 8657}, {"rArr", 8658}, {"dArr", 8659},
    {"hArr", 8660}, {"forall", 8704}, {"part", 8706}, {"exist", 8707}, {"empty", 8709},
    {"nabla", 8711}, {"isin", 8712}, {"notin", 8713}, {"ni", 8715}, {"prod", 8719},
    {"sum", 8721}, {"minus", 8722}, {"lowast", 8727}, {"radic", 8730}, {"prop", 8733},
    {"infin", 8734}, {"ang", 8736}, {"and", 8743}, {"or", 8744}, {"cap", 8745},
    {"cup", 8746}, {"int", 8747}, {"there4", 8756}, {"sim", 8764}, {"cong", 8773},
    {"asymp", 8776}, {"ne", 8800}, {"equiv", 8801}, {"le", 8804}, {"ge", 8805},
    {"sub", 8834}, {"sup", 8835}, {"nsub", 8836}, {"sube", 8838}, {"supe", 8839},
    {"oplus", 8853}, {"otimes", 8855}, {"perp", 8869}, {"sdot", 8901}, {"lceil", 8968},
    {"rceil", 8969}, {"lfloor", 8970}, {"rfloor", 8971}, {"lang", 9001}, {"rang", 9002},
    {"loz", 9674}, {"spades", 9824}, {"clubs", 9827}, {"hearts", 9829}, {"diams", 9830},
};

#define ENT_MAX 8 /* longest name: "thetasym", "alefsym" */

/* entities sorted by name (strcmp order), built once: the table above is
 * kept in the order of the spec so that it can be checked against it. */
static const ent *ent_sorted[TB_ARRAY_LEN(entities)];
static pthread_once_t ent_once = PTHREAD_ONCE_INIT;

static int ent_cmp(const void *a, const void *b)
{
    return strcmp((*(const ent *const *)a)->name, (*(const ent *const *)b)->name);
}

static void ent_init(void)
{
    for (size_t i = 0; i < TB_ARRAY_LEN(entities); i++)
        ent_sorted[i] = &entities[i];
    qsort(ent_sorted, TB_ARRAY_LEN(entities), sizeof ent_sorted[0], ent_cmp);
}

/* Code point of the named reference name[0..n), or 0 when unknown. */
static unsigned ent_lookup(const char *name, size_t n)
{
    if (n == 0 || n > ENT_MAX)
        return 0;
    pthread_once(&ent_once, ent_init);
    char key[ENT_MAX + 1];
    memcpy(key, name, n);
    key[n] = '\0';
    size_t lo = 0, hi = TB_ARRAY_LEN(entities);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(key, ent_sorted[mid]->name);
        if (c == 0)
            return ent_sorted[mid]->cp;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/* windows-1252's 0x80..0x9F, which HTML reads numeric references in that
 * range as (unassigned bytes stay C1 controls). */
static const uint16_t c1_as_1252[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int hex_val(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode the character reference at p (p[0] == '&'). Returns the end of
 * the reference and sets *cp, or returns p when it is no reference (the
 * '&' is then literal text). */
static const unsigned char *char_ref(const unsigned char *p, const unsigned char *end,
                                     unsigned *cp)
{
    const unsigned char *q = p + 1;
    if (q < end && *q == '#') {
        q++;
        bool hex = q < end && (*q == 'x' || *q == 'X');
        if (hex)
            q++;
        const unsigned char *d = q;
        unsigned long v = 0;
        for (; q < end; q++) {
            int k = hex ? hex_val(*q) : (is_digit(*q) ? *q - '0' : -1);
            if (k < 0)
                break;
            v = v * (hex ? 16 : 10) + (unsigned)k;
            if (v > 0x10FFFF)
                v = 0x110000; /* stays out of range however many digits follow */
        }
        if (q == d)
            return p;
        if (q < end && *q == ';') /* optional, as in libxml2 and browsers */
            q++;
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            v = 0xFFFD;
        else if (v >= 0x80 && v <= 0x9F)
            v = c1_as_1252[v - 0x80];
        *cp = (unsigned)v;
        return q;
    }
    const unsigned char *s = q;
    while (q < end && q - s <= ENT_MAX && (is_alpha(*q) || is_digit(*q)))
        q++;
    if (q >= end || *q != ';')
        return p;
    unsigned v = ent_lookup((const char *)s, (size_t)(q - s));
    if (!v)
        return p;
    *cp = v;
    return q + 1;
}

/* ------------------------------------------------------------ tags */

/* Byte classes of the main loop: 0 copies through; the rest stop it. */
enum { C_TEXT, C_SPACE, C_LT, C_AMP, C_HIGH, C_NUL };

static const unsigned char cls[256] = {
    [0] = C_NUL,
    ['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\v'] = C_SPACE, ['\f'] = C_SPACE,
    ['\r'] = C_SPACE, [' '] = C_SPACE, ['<'] = C_LT, ['&'] = C_AMP,
#define H4(x) [x] = C_HIGH, [x + 1] = C_HIGH, [x + 2] = C_HIGH, [x + 3] = C_HIGH
#define H16(x) H4(x), H4(x + 4), H4(x + 8), H4(x + 12)
    H16(0x80), H16(0x90), H16(0xA0), H16(0xB0), H16(0xC0), H16(0xD0), H16(0xE0), H16(0xF0),
#undef H16
#undef H4
};

static bool is_ws(unsigned char c) { return cls[c] == C_SPACE; }

static bool is_name_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == ':' || c == '_' || c == '.';
}

/* What a tag does to the text. */
enum { T_BLOCK, T_INLINE, T_SKIP, T_RAW };

/* Classify a lower-cased tag name. Inline tags do not separate words; the
 * content of T_SKIP tags (markup that is not reading matter) and T_RAW
 * tags (script and style, raw text in HTML) is skipped; everything else,
 * unknown tags included, separates words. A switch on the first letter
 * keeps the common block tags (p, div, br, li, img) to one comparison. */
static int tag_kind(const char *n)
{
#define K(s, k)                                                                              \
    if (strcmp(n, s) == 0)                                                                   \
    return k
    switch (n[0]) {
    case 'a': K("a", T_INLINE); K("abbr", T_INLINE); break;
    case 'b': K("b", T_INLINE); K("big", T_INLINE); K("bdi", T_INLINE); K("bdo", T_INLINE); break;
    case 'c': K("code", T_INLINE); K("cite", T_INLINE); break;
    case 'd': K("del", T_INLINE); break;
    case 'e': K("em", T_INLINE); break;
    case 'f': K("font", T_INLINE); break;
    case 'h': K("head", T_SKIP); break;
    case 'i': K("i", T_INLINE); K("ins", T_INLINE); K("iframe", T_SKIP); break;
    case 'k': K("kbd", T_INLINE); break;
    case 'm': K("mark", T_INLINE); K("math", T_SKIP); break;
    case 'n': K("noscript", T_SKIP); break;
    case 'o': K("object", T_SKIP); break;
    case 'q': K("q", T_INLINE); break;
    case 's':
        K("strong", T_INLINE); K("span", T_INLINE); K("small", T_INLINE); K("sub", T_INLINE);
        K("sup", T_INLINE); K("s", T_INLINE); K("strike", T_INLINE); K("script", T_RAW);
        K("style", T_RAW); K("svg", T_SKIP);
        break;
    case 't': K("tt", T_INLINE); K("time", T_INLINE); K("template", T_SKIP); break;
    case 'u': K("u", T_INLINE); break;
    case 'v': K("var", T_INLINE); break;
    default: break;
    }
#undef K
    return T_BLOCK;
}

static const unsigned char *find(const unsigned char *p, const unsigned char *end,
                                 const char *needle, size_t n)
{
    const unsigned char *f = (const unsigned char *)tb_pf_find((const char *)p,
                                                               (const char *)end, needle, n);
    return f ? f : end;
}

/* Skip past the end tag </name> (case-insensitive, nested same-name tags
 * counted unless raw), or to the end of the input when there is none. */
static const unsigned char *skip_content(const unsigned char *p, const unsigned char *end,
                                         const char *name, bool raw)
{
    size_t nl = strlen(name);
    int depth = 1;
    while (p < end) {
        const unsigned char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt)
            return end;
        const unsigned char *q = lt + 1;
        bool close = q < end && *q == '/';
        if (close)
            q++;
        p = lt + 1;
        if ((size_t)(end - q) < nl || strncasecmp((const char *)q, name, nl) != 0)
            continue;
        q += nl;
        if (q < end && is_name_char(*q))
            continue;
        if (!close) {
            if (!raw)
                depth++;
            continue;
        }
        if (--depth == 0) {
            const unsigned char *gt = memchr(q, '>', (size_t)(end - q));
            return gt ? gt + 1 : end;
        }
    }
    return end;
}

/* Decode an attribute value into *dst (malloc'd). */
static char *attr_value(const unsigned char *v, const unsigned char *e)
{
    tb_buf b = {0};
    tb_buf_reserve(&b, (size_t)(e - v));
    while (v < e) {
        unsigned cp;
        const unsigned char *n;
        if (*v == '&' && (n = char_ref(v, e, &cp)) != v) {
            char u[4];
            tb_buf_append(&b, u, utf8_put(cp, u));
            v = n;
        } else {
            tb_buf_putc(&b, (char)*v++);
        }
    }
    return tb_buf_steal(&b);
}

/* Handle the markup at p (p[0] == '<'); returns where text resumes. */
static const unsigned char *markup(red *r, const unsigned char *p, const unsigned char *end,
                                   char **first_img)
{
    const unsigned char *q = p + 1;
    if (q >= end) {
        put(r, "<", 1);
        return end;
    }
    if (*q == '!') {
        if (end - q >= 3 && q[1] == '-' && q[2] == '-') {
            const unsigned char *c = find(q + 3, end, "-->", 3);
            return c == end ? end : c + 3;
        }
        if (end - q >= 8 && memcmp(q, "![CDATA[", 8) == 0) {
            const unsigned char *c = find(q + 8, end, "]]>", 3);
            return c == end ? end : c + 3;
        }
        const unsigned char *gt = memchr(q, '>', (size_t)(end - q));
        return gt ? gt + 1 : end;
    }
    if (*q == '?') {
        const unsigned char *gt = memchr(q, '>', (size_t)(end - q));
        return gt ? gt + 1 : end;
    }
    bool close = *q == '/';
    if (close)
        q++;
    if (q >= end || !is_alpha(*q)) {
        if (close) { /* "</ >", "</3": nothing a reader sees */
            const unsigned char *gt = memchr(q, '>', (size_t)(end - q));
            return gt ? gt + 1 : end;
        }
        put(r, "<", 1); /* "a < b": a literal '<' */
        return q;
    }
    /* the name, lower-cased, without a namespace prefix ("xhtml:p") */
    char name[16];
    size_t nl = 0;
    bool long_name = false;
    for (; q < end && is_name_char(*q); q++) {
        if (*q == ':') {
            nl = 0;
            long_name = false;
            continue;
        }
        if (nl + 1 < sizeof name)
            name[nl++] = (char)(*q | (is_alpha(*q) ? 0x20 : 0));
        else
            long_name = true;
    }
    name[nl] = '\0';
    if (long_name)
        name[0] = '\0'; /* no known tag is that long: a block tag */
    bool want_img = !close && first_img && !*first_img && strcmp(name, "img") == 0;
    /* attributes, to the '>' that is not inside a quoted value */
    bool self_closed = false;
    while (q < end && *q != '>') {
        if (is_ws(*q) || *q == '/') {
            self_closed = *q == '/';
            q++;
            continue;
        }
        const unsigned char *an = q;
        while (q < end && !is_ws(*q) && *q != '=' && *q != '>' && *q != '/')
            q++;
        size_t anl = (size_t)(q - an);
        if (q == an) /* a stray '=' */
            q++;
        self_closed = false;
        const unsigned char *s = q;
        while (s < end && is_ws(*s))
            s++;
        if (s >= end || *s != '=')
            continue;
        s++;
        while (s < end && is_ws(*s))
            s++;
        const unsigned char *v = s, *ve;
        if (s < end && (*s == '"' || *s == '\'')) {
            const unsigned char *cq = memchr(s + 1, *s, (size_t)(end - s - 1));
            if (!cq) { /* unterminated: the tag ends at the next '>' */
                const unsigned char *gt = memchr(s, '>', (size_t)(end - s));
                q = gt ? gt : end;
                break;
            }
            v = s + 1;
            ve = cq;
            q = cq + 1;
        } else {
            while (s < end && !is_ws(*s) && *s != '>')
                s++;
            ve = s;
            q = s;
        }
        if (want_img && anl == 3 && strncasecmp((const char *)an, "src", 3) == 0 && ve > v) {
            *first_img = attr_value(v, ve);
            want_img = false;
        }
    }
    q = q < end ? q + 1 : end;
    int kind = tag_kind(name);
    if (!close && !self_closed && (kind == T_SKIP || kind == T_RAW))
        q = skip_content(q, end, name, kind == T_RAW);
    if (kind != T_INLINE)
        r->space = true;
    return q;
}

/* ------------------------------------------------------------ entry */

void tb_html_to_text(const char *html, size_t len, tb_buf *out, char **first_img)
{
    red r = {out, out->len, false};
    /* the text is rarely longer than the markup: one reservation mostly */
    tb_buf_reserve(out, html ? len : 0);
    if (!html || !len)
        return;
    const unsigned char *p = (const unsigned char *)html, *end = p + len;
    while (p < end) {
        /* a run of text: ASCII and valid multi-byte characters but U+00A0 */
        const unsigned char *s = p;
        unsigned cp;
        for (;;) {
            while (p < end && cls[*p] == C_TEXT)
                p++;
            if (p < end && cls[*p] == C_HIGH) {
                size_t n = utf8_seq(p, end, &cp);
                if (n && cp != 0xA0) {
                    p += n;
                    continue;
                }
            }
            break;
        }
        if (p > s)
            put(&r, s, (size_t)(p - s));
        if (p >= end)
            break;
        switch (cls[*p]) {
        case C_SPACE:
            r.space = true;
            p++;
            break;
        case C_LT:
            p = markup(&r, p, end, first_img);
            break;
        case C_AMP: {
            const unsigned char *n = char_ref(p, end, &cp);
            if (n == p) {
                put(&r, "&", 1);
                p++;
            } else {
                put_cp(&r, cp);
                p = n;
            }
            break;
        }
        case C_HIGH: /* U+00A0 or an invalid byte */
            if (utf8_seq(p, end, &cp) == 2 && cp == 0xA0) {
                r.space = true;
                p += 2;
            } else {
                put(&r, "\xEF\xBF\xBD", 3);
                p++;
            }
            break;
        default: /* NUL */
            put(&r, "\xEF\xBF\xBD", 3);
            p++;
            break;
        }
    }
}

void tb_text_collapse(const char *s, size_t len, tb_buf *out)
{
    red r = {out, out->len, false};
    tb_buf_reserve(out, len);
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        const unsigned char *q = p;
        while (q < end && !is_ws(*q) && !(*q == 0xC2 && q + 1 < end && q[1] == 0xA0))
            q++;
        if (q > p)
            put(&r, p, (size_t)(q - p));
        if (q < end) {
            r.space = true;
            q += *q == 0xC2 ? 2 : 1;
        }
        p = q;
    }
}
