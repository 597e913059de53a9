auth.login
{"data":{"email":"$TAMAIL","password":"Fuzz-secret-1"},"correlationId":"c-1"}