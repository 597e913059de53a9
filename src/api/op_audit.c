/* op_audit.c: audit.list, the audit log of the caller's tenant (thingsboard-customers.md §7.3). */
#include "ops.h"

#include "cmagent/audit.h"
#include "render.h"

#include <stdlib.h>
#include <string.h>

int op_audit_list(struct call *c)
{
    static const char *const keys[] = { "entityType", "entityId", "customerId", "userId", "actingUserId", "startTime",
                                        "endTime", "pageSize", "page", "textSearch", "sortProperty", "sortOrder",
                                        NULL };
    struct audit_filter f = { 0 };
    char *entity_type = NULL;
    char entity_id[UUID_STR_LEN] = "", customer_id[UUID_STR_LEN] = "", user_id[UUID_STR_LEN] = "";
    char acting_id[UUID_STR_LEN] = "";
    struct page_request p = { 0 };
    struct page_info info;
    struct audit_row *rows = NULL;
    size_t n = 0;
    int rc;

    if (args_allow(c, keys) || arg_string(c, "entityType", false, &entity_type) ||
        arg_id(c, "entityId", false, entity_id) || arg_id(c, "customerId", false, customer_id) ||
        arg_id(c, "userId", false, user_id) || arg_id(c, "actingUserId", false, acting_id) ||
        arg_int(c, "startTime", false, &f.start_time, NULL) ||
        arg_int(c, "endTime", false, &f.end_time, NULL) || arg_paging(c, &p)) {
        free(entity_type);
        return call_failed(c);
    }
    if (entity_id[0] != '\0' && entity_type == NULL) {
        free(entity_type);
        page_request_release(&p);
        return error_set(&c->ctx->err, ERR_BAD_REQUEST, "entityId needs entityType");
    }
    f.entity_type = entity_type;
    f.entity_id = entity_id[0] ? entity_id : NULL;
    f.customer_id = customer_id[0] ? customer_id : NULL;
    f.user_id = user_id[0] ? user_id : NULL;
    f.acting_user_id = acting_id[0] ? acting_id : NULL;
    rc = audit_list(c->ctx, &f, &p, &rows, &n, &info);
    if (rc == ERR_OK) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(a, render_audit_row(&rows[i]));
        c->result = json_page(a, &info);
    }
    audit_rows_free(rows, n);
    page_request_release(&p);
    free(entity_type);
    return rc;
}
