/* json_alloc.h: cJSON allocates through the agent's allocation policy (alloc.h). */
#ifndef CMAGENT_API_JSON_ALLOC_H
#define CMAGENT_API_JSON_ALLOC_H

/* Installs xmalloc and free as cJSON's hooks (api_init calls it; idempotent). */
void json_alloc_init(void);

#endif
