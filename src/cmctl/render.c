/* render.c: replies for people: a listing (ThingsBoard's PageData, or a reply holding one array) as
 * a table, one entity as aligned "key value" lines, an event as one line. Entity ids show as their
 * uuid, times in milliseconds as UTC, long cells are cut between UTF-8 characters. */
#include "cmctl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CELL_MAX 40  /* characters of one table cell */
#define COLS_MAX 12

static bool is_time_key(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    return (n > 4 && strcmp(k + n - 4, "Time") == 0) || (n > 2 && strcmp(k + n - 2, "Ts") == 0) ||
           (n > 2 && strcmp(k + n - 2, "At") == 0) || (k && strcmp(k, "ts") == 0);
}

static char *number_text(const char *key, double d)
{
    char buf[64];
    if (is_time_key(key) && d > 1e11 && d < 1e14) {
        time_t t = (time_t)(d / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
    } else if (d == floor(d) && fabs(d) < 1e15)
        snprintf(buf, sizeof buf, "%.0f", d);
    else
        snprintf(buf, sizeof buf, "%g", d);
    return strdup(buf);
}

static const char *entity_id(const cJSON *v)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(v, "id");
    if (cJSON_IsObject(v) && cJSON_IsString(id) && cJSON_GetObjectItemCaseSensitive(v, "entityType"))
        return id->valuestring;
    return NULL;
}

static char *cell(const char *key, const cJSON *v)
{
    const char *id;
    if (v == NULL || cJSON_IsNull(v))
        return strdup("-");
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    if (cJSON_IsNumber(v))
        return number_text(key, v->valuedouble);
    if (cJSON_IsBool(v))
        return strdup(cJSON_IsTrue(v) ? "true" : "false");
    if ((id = entity_id(v)) != NULL)
        return strdup(id);
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0 && entity_id(v->child) != NULL) {
        size_t len = 1;
        char *s = calloc(1, 1);
        for (const cJSON *e = v->child; e; e = e->next) {
            char *t = cell(key, e);
            len += strlen(t) + 1;
            s = realloc(s, len);
            if (s[0])
                strcat(s, ",");
            strcat(s, t);
            free(t);
        }
        return s;
    }
    char *j = cJSON_PrintUnformatted(v);
    char *s = strdup(j);
    cJSON_free(j);
    return s;
}

char *value_text(const cJSON *v)
{
    return cell(v ? v->string : NULL, v);
}

/* Characters (code points) of a UTF-8 string. */
static size_t width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Cuts s to at most max characters, ending in "..." when cut; never inside a character. */
static void clip(char *s, size_t max)
{
    size_t n = 0;
    for (char *p = s; *p; p++) {
        if (((unsigned char)*p & 0xC0) != 0x80 && n++ == max - 3) {
            if (width(p) > 3) {
                strcpy(p, "...");
                return;
            }
        }
    }
}

static void upper(char *dst, const char *src, size_t len)
{
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++)
        dst[i] = (src[i] >= 'a' && src[i] <= 'z') ? (char)(src[i] - 32) : src[i];
    dst[i] = '\0';
}

static int pick_columns(const cJSON *rows, const char *columns, char cols[COLS_MAX][64])
{
    int n = 0;
    if (columns != NULL) {
        const char *p = columns;
        while (*p && n < COLS_MAX) {
            size_t l = strcspn(p, ",");
            snprintf(cols[n++], 64, "%.*s", (int)l, p);
            p += l + (p[l] == ',');
        }
        return n;
    }
    const cJSON *first = cJSON_GetArrayItem(rows, 0);
    if (cJSON_GetObjectItemCaseSensitive(first, "id"))
        snprintf(cols[n++], 64, "id");
    for (const cJSON *m = first ? first->child : NULL; m && n < 7; m = m->next) {
        if (strcmp(m->string, "id") == 0 || strcmp(m->string, "tenantId") == 0 || (cJSON_IsObject(m) && !entity_id(m)))
            continue;
        if (cJSON_IsArray(m) || strcmp(m->string, "additionalInfo") == 0 || strcmp(m->string, "version") == 0)
            continue;
        snprintf(cols[n++], 64, "%s", m->string);
    }
    return n;
}

void render_table(const cJSON *rows, const char *columns)
{
    char cols[COLS_MAX][64], head[64];
    int ncol, nrow = cJSON_GetArraySize(rows);
    size_t w[COLS_MAX];
    char **cells;
    if (nrow == 0) {
        printf("(none)\n");
        return;
    }
    if (!cJSON_IsObject(cJSON_GetArrayItem(rows, 0))) {
        for (const cJSON *e = rows->child; e; e = e->next) {
            char *t = cell(NULL, e);
            printf("%s\n", t);
            free(t);
        }
        return;
    }
    ncol = pick_columns(rows, columns, cols);
    cells = calloc((size_t)(nrow * ncol), sizeof *cells);
    for (int c = 0; c < ncol; c++)
        w[c] = strlen(cols[c]);
    int r = 0;
    for (const cJSON *row = rows->child; row; row = row->next, r++)
        for (int c = 0; c < ncol; c++) {
            char *t = cell(cols[c], cJSON_GetObjectItemCaseSensitive(row, cols[c]));
            for (char *p = t; *p; p++)
                if (*p == '\n' || *p == '\t' || *p == '\r')
                    *p = ' ';
            clip(t, CELL_MAX);
            cells[r * ncol + c] = t;
            if (width(t) > w[c])
                w[c] = width(t);
        }
    for (int c = 0; c < ncol; c++) {
        upper(head, cols[c], sizeof head);
        if (c + 1 < ncol)
            printf("%-*s  ", (int)w[c], head);
        else
            printf("%s\n", head);
    }
    for (r = 0; r < nrow; r++)
        for (int c = 0; c < ncol; c++) {
            char *t = cells[r * ncol + c];
            /* pad by characters, not bytes */
            printf("%s", t);
            if (c + 1 < ncol)
                printf("%*s", (int)(w[c] - width(t) + 2), "");
            else
                printf("\n");
            free(t);
        }
    free(cells);
}

void render_object(const cJSON *obj)
{
    size_t w = 0;
    for (const cJSON *m = obj->child; m; m = m->next)
        if (strlen(m->string) > w)
            w = strlen(m->string);
    for (const cJSON *m = obj->child; m; m = m->next) {
        char *t = cell(m->string, m);
        printf("%-*s  %s\n", (int)w, m->string, t);
        free(t);
    }
}

/* The one array member of an object such as {"ops":[...]} or {"events":[...]}, or NULL. */
static const cJSON *only_array(const cJSON *d)
{
    const cJSON *found = NULL;
    for (const cJSON *m = d->child; m; m = m->next) {
        if (cJSON_IsArray(m)) {
            if (found)
                return NULL;
            found = m;
        } else if (strcmp(m->string, "hasNext") != 0 && strcmp(m->string, "totalPages") != 0 &&
                   strcmp(m->string, "totalElements") != 0 && strcmp(m->string, "nextPageToken") != 0 &&
                   strcmp(m->string, "committed") != 0)
            return NULL;
    }
    return found;
}

static void page_footer(const cJSON *d, int shown)
{
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(d, "totalElements");
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(d, "nextPageToken");
    if (cJSON_IsNumber(total) && total->valueint > shown)
        printf("(%d of %d; more with --page or --page-size)\n", shown, total->valueint);
    else if (cJSON_IsString(next) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "hasNext")))
        printf("(more: --page-token %s)\n", next->valuestring);
}

void render_reply(const cJSON *reply, const char *columns)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(reply, "data"), *rows;
    if (cJSON_IsArray(d)) {
        render_table(d, columns);
    } else if (cJSON_IsObject(d) && d->child == NULL) {
        printf("OK\n");
    } else if (cJSON_IsObject(d) && (rows = only_array(d)) != NULL) {
        const cJSON *committed = cJSON_GetObjectItemCaseSensitive(d, "committed");
        const cJSON *created = cJSON_GetObjectItemCaseSensitive(d, "created");
        const cJSON *failed = cJSON_GetObjectItemCaseSensitive(d, "failed");
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(d, "status");
        if (cJSON_IsString(status))
            printf("status     %s\n", status->valuestring);
        if (cJSON_IsBool(committed))
            printf("committed  %s\n", cJSON_IsTrue(committed) ? "true" : "false");
        if (cJSON_IsNumber(created) && cJSON_IsNumber(failed)) /* an import */
            printf("created    %.0f\nfailed     %.0f\n", created->valuedouble, failed->valuedouble);
        render_table(rows, columns);
        page_footer(d, cJSON_GetArraySize(rows));
    } else if (cJSON_IsObject(d)) {
        render_object(d);
    } else if (d != NULL) {
        char *t = cell(NULL, d);
        printf("%s\n", t);
        free(t);
    }
}

void render_event(const cJSON *ev)
{
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(ev, "seq");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(ev, "ts");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
    const cJSON *orig = cJSON_GetObjectItemCaseSensitive(ev, "originator");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(ev, "metadata");
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(orig, "entityType");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "entityName");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(meta, "userName");
    char *when = number_text("ts", cJSON_IsNumber(ts) ? ts->valuedouble : 0);
    printf("%-6.0f %s  %-24s %-10s %-36s %s%s%s\n", cJSON_IsNumber(seq) ? seq->valuedouble : -1.0, when,
           cJSON_IsString(type) ? type->valuestring : "?", cJSON_IsString(et) ? et->valuestring : "?",
           entity_id(orig) ? entity_id(orig) : "-", cJSON_IsString(name) ? name->valuestring : "",
           cJSON_IsString(user) ? "  by " : "", cJSON_IsString(user) ? user->valuestring : "");
    free(when);
    fflush(stdout);
}
