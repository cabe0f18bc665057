/* The extension table behind fb_mime_type. */
#include "core/mime.h"

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"woff2", "font/woff2"},
    {"wasm", "application/wasm"},
    {"txt", "text/plain; charset=utf-8"},
    {"xml", "text/xml; charset=utf-8"},
    {"pdf", "application/pdf"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
};

const char *fb_mime_type(const char *path, size_t len)
{
    size_t dot = len;
    for (size_t i = len; i > 0; i--) {
        if (path[i - 1] == '/')
            break;
        if (path[i - 1] == '.') {
            dot = i - 1;
            break;
        }
    }
    if (dot == len)
        return "application/octet-stream";
    const char *ext = path + dot + 1;
    size_t n = len - dot - 1;
    for (size_t i = 0; i < FB_ARRAY_LEN(types); i++) {
        const char *e = types[i].ext;
        size_t k = strlen(e);
        if (k != n)
            continue;
        size_t j = 0;
        while (j < k && (ext[j] == e[j] || (ext[j] >= 'A' && ext[j] <= 'Z' && ext[j] + 32 == e[j])))
            j++;
        if (j == k)
            return types[i].type;
    }
    return "application/octet-stream";
}

bool fb_mime_is_html(const char *type)
{
    static const char html[] = "text/html";
    size_t i = 0;
    for (; html[i]; i++) {
        char c = type[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != html[i])
            return false;
    }
    return type[i] == '\0' || type[i] == ';' || type[i] == ' ' || type[i] == '\t';
}
