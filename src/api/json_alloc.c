/* json_alloc.c: cJSON's allocation hooks. Without them cJSON returns NULL on out-of-memory, and a
 * NULL from cJSON_CreateObject or cJSON_PrintUnformatted deep in a renderer would be one more error
 * path nobody tests; with them it aborts with a message as every other allocation does (alloc.h). */
#include "json_alloc.h"

#include "cmagent/alloc.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

void json_alloc_init(void)
{
    cJSON_Hooks hooks = { .malloc_fn = xmalloc, .free_fn = free };
    cJSON_InitHooks(&hooks);
}
