user.delete
{"token":"$SYS","data":{"id":"$SYSUSER"}}