#!/usr/bin/env bash
# docs/examples.sh: runs every example of docs/protocol.md against a live agent and checks each reply.
#
#   SYSADMIN_PASSWORD='<password>' [HOST=127.0.0.1] [PORT=1883] [SYSADMIN_EMAIL=sysadmin@cmagent.local] \
#       [PREFIX=cm/v1] [VERBOSE=1] [RUN=suffix] [WRITE_DOC=1] docs/examples.sh
#
# It needs mosquitto_rr, mosquitto_sub and mosquitto_pub (Debian: mosquitto-clients) and python3.
# It creates the tenant "Acme" with the users admin-<RUN>@acme.example and user-<RUN>@company-a.example
# (RUN: a suffix of its own for every run, so that it can run again at once, also after the README's
# walkthrough made admin@acme.example) and deletes that tenant again at the end, also when a step
# fails. The examples from "Devices, assets, edges and dashboards" on are run from the document
# itself by docs/check_examples.py, which compares every reply with the one shown there
# (WRITE_DOC=1 writes this run's replies into the document instead).
# Exit status: 0 when every reply was as expected, 1 at the first unexpected reply, 2 on bad usage.
set -u

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-1883}
PREFIX=${PREFIX:-cm/v1}
SYSADMIN_EMAIL=${SYSADMIN_EMAIL:-sysadmin@cmagent.local}
SYSADMIN_PASSWORD=${SYSADMIN_PASSWORD:-}
VERBOSE=${VERBOSE:-0}
RUN=${RUN:--$(date +%s)-$$}
WRITE_DOC=${WRITE_DOC:-0}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ -z "$SYSADMIN_PASSWORD" ]; then
    echo "examples.sh: set SYSADMIN_PASSWORD (and SYSADMIN_EMAIL unless it is sysadmin@cmagent.local)" >&2
    exit 2
fi
for tool in mosquitto_rr mosquitto_sub mosquitto_pub python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "examples.sh: $tool is not installed" >&2; exit 2; }
done

# The reply topic of this run, and the options every mosquitto_rr call shares (as in the document).
REPLY_TOPIC="$PREFIX/reply/examples-$$"
R="-V 5 -h $HOST -p $PORT -W 10 -e $REPLY_TOPIC"

# field PATH: prints the member PATH ("data.id.id", "data.data.0.title") of the JSON on stdin.
field() {
    python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1"
}

TMP=$(mktemp -d)
EVENTS_PID=""
TENANT_ID=""
STEP=0
OUT=""

cleanup() {
    if [ -n "$TENANT_ID" ] && [ -n "${SYS_TOKEN:-}" ]; then
        mosquitto_rr $R -t "$PREFIX/req/tenant.delete" \
            -m '{"token":"'"$SYS_TOKEN"'","data":{"id":"'"$TENANT_ID"'"}}' >/dev/null 2>&1 || true
    fi
    if [ -n "$EVENTS_PID" ]; then
        kill "$EVENTS_PID" 2>/dev/null || true
        wait "$EVENTS_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
    echo "FAIL (step $STEP): $*" >&2
    echo "  last reply: $OUT" >&2
    exit 1
}

section() { [ "$VERBOSE" = 1 ] && printf '\n### %s\n' "$*"; return 0; }

# call OP PAYLOAD STATUS [mosquitto_rr options...]: sends the request, leaves the reply in OUT and
# fails unless the reply's status is STATUS and it has the members of its kind; the expect lines
# after it check its content.
call() {
    local op=$1 payload=$2 want=$3
    shift 3
    STEP=$((STEP + 1))
    OUT=$(mosquitto_rr $R "$@" -t "$PREFIX/req/$op" -m "$payload" 2>&1)
    if [ "$VERBOSE" = 1 ]; then
        printf '> %s %s\n< %s\n' "$op" "$payload" "$OUT"
    fi
    local got
    got=$(printf '%s' "$OUT" | field status 2>/dev/null) || fail "$op: the reply is not JSON"
    [ "$got" = "$want" ] || fail "$op: status $got, expected $want"
    # every reply has its shape: data on success, errorCode and message on an error
    if [ "$want" = 200 ]; then
        printf '%s' "$OUT" | field data >/dev/null 2>&1 || fail "$op: a 200 without data"
    else
        printf '%s' "$OUT" | field errorCode >/dev/null 2>&1 && printf '%s' "$OUT" | field message >/dev/null 2>&1 ||
            fail "$op: an error without errorCode and message"
    fi
}

# expect TEXT: fails unless the last reply contains TEXT.
expect() {
    case "$OUT" in
        *"$1"*) ;;
        *) fail "the reply lacks: $1" ;;
    esac
}

ADMIN_EMAIL="admin${RUN}@acme.example"
USER_EMAIL="user${RUN}@company-a.example"

# ------------------------------------------------------------------------------------------------
section "agent.ping"
call agent.ping '{}' 200
expect '"version":'

section "walkthrough: log in as the system administrator"
call auth.login '{"data":{"email":"'"$SYSADMIN_EMAIL"'","password":"'"$SYSADMIN_PASSWORD"'"}}' 200
SYS_TOKEN=$(printf '%s' "$OUT" | field data.token)
SYS_REFRESH=$(printf '%s' "$OUT" | field data.refreshToken)
case "$SYS_TOKEN" in cma_*) ;; *) fail "the access token does not start with cma_" ;; esac

section "walkthrough: tenant.create"
call tenant.create '{"token":"'"$SYS_TOKEN"'","data":{"title":"Acme","country":"US","city":"New York","email":"office@acme.example","limits":{"maxCustomers":100,"maxUsers":1000}}}' 200
TENANT_ID=$(printf '%s' "$OUT" | field data.id.id)
expect '"limits":{"maxCustomers":100,"maxUsers":1000,'

# Every event of the tenant from now on, for the checks at the end.
mosquitto_sub -V 5 -h "$HOST" -p "$PORT" -q 1 -v -t "$PREFIX/event/$TENANT_ID/#" >"$TMP/events" 2>/dev/null &
EVENTS_PID=$!
sleep 0.5

section "walkthrough: user.create (tenant administrator)"
call user.create '{"token":"'"$SYS_TOKEN"'","data":{"email":"'"$ADMIN_EMAIL"'","authority":"TENANT_ADMIN","tenantId":"'"$TENANT_ID"'","firstName":"Ada","lastName":"Admin"}}' 200
ADMIN_ID=$(printf '%s' "$OUT" | field data.id.id)
expect '"authority":"TENANT_ADMIN"'

section "walkthrough: user.activationLink"
call user.activationLink '{"token":"'"$SYS_TOKEN"'","data":{"id":"'"$ADMIN_ID"'"}}' 200
ACTIVATE_TOKEN=$(printf '%s' "$OUT" | field data.value | sed -E 's/.*activateToken=//')
expect '/api/noauth/activate?activateToken='
expect '"ttlMs":'
LINK_VALUE=$(printf '%s' "$OUT" | field data.value)
call user.activationLinkInfo '{"token":"'"$SYS_TOKEN"'","data":{"id":"'"$ADMIN_ID"'"}}' 200
expect "\"value\":\"$LINK_VALUE\",\"ttlMs\":"

section "auth.checkActivateToken"
call auth.checkActivateToken '{"data":{"activateToken":"'"$ACTIVATE_TOKEN"'"}}' 200
expect '"data":{}'
call auth.checkActivateToken '{"data":{"activateToken":"no-such-token"}}' 409
expect '"message":"Unable to find user credentials by activateToken [no-such-token]"'

section "walkthrough: auth.activate"
call auth.activate '{"data":{"activateToken":"'"$ACTIVATE_TOKEN"'","password":"short"}}' 400
expect '"message":"Password must be 6 or more characters in length."'
call auth.activate '{"data":{"activateToken":"'"$ACTIVATE_TOKEN"'","password":"acme-secret-1"}}' 200
expect '"refreshToken":"cmr_'
call auth.activate '{"data":{"activateToken":"'"$ACTIVATE_TOKEN"'","password":"acme-secret-1"}}' 400
expect "Unable to find user credentials by activateToken"

section "walkthrough: log in as the tenant administrator"
call auth.login '{"data":{"email":"'"$ADMIN_EMAIL"'","password":"acme-secret-1"}}' 200
TOKEN=$(printf '%s' "$OUT" | field data.token)
REFRESH=$(printf '%s' "$OUT" | field data.refreshToken)
call auth.login '{"data":{"email":"'"$ADMIN_EMAIL"'","password":"wrong-password"}}' 401
expect '"errorCode":10,"message":"Invalid username or password"'

section "walkthrough: customer.create"
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"Company A","country":"US","state":"NY","city":"New York","address":"42 Broadway Suite 12-400","zip":"10004","phone":"+1(415)777-7777","email":"example@company.com","additionalInfo":{"description":"Regional customer"}}}' 200
CUSTOMER_ID=$(printf '%s' "$OUT" | field data.id.id)
expect '"title":"Company A"'
expect '"version":1'

section "field sizes"
LONG=$(head -c 1025 /dev/zero | tr '\0' x)
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"Company L","address":"'"$LONG"'"}}' 400
expect '"errorCode":31,"message":"Validation error: address length must be equal or less than 1024"'
BIG=$(head -c 16400 /dev/zero | tr '\0' x)
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"Company L","additionalInfo":{"note":"'"$BIG"'"}}}' 400
expect '"message":"Validation error: additionalInfo of 16411 bytes exceeds max_json_field_size of 16384 bytes"'
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"Company A"}}' 400
expect '"message":"Customer with such title already exists!"'
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"Public"}}' 400
expect "\"message\":\"'Public' title for customer is system reserved!\""
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"Company C","email":"not-an-email"}}' 400
expect "\"message\":\"Invalid email address format 'not-an-email'!\""
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"<b>Company</b>","city":"{{x}}"}}' 400
expect '"message":"Validation error: city is malformed, title is malformed"'
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"Company\u0000 N"}}' 400
expect '"message":"Customer title should not contain 0x00 symbol!"'
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"Company N","email":"n\u0000@company.com"}}' 400
expect '"message":"Validation error: email should not contain 0x00 symbol"'

section "walkthrough: customer.list"
call customer.list '{"token":"'"$TOKEN"'","data":{"pageSize":10,"page":0,"sortProperty":"title","sortOrder":"ASC"}}' 200
expect '"totalPages":1,"totalElements":1,"hasNext":false'
call customer.list '{"token":"'"$TOKEN"'","data":{"pageSize":10,"city":"new y","email":"example@","sortProperty":"email"}}' 200
expect '"city":"New York"'
expect '"totalPages":1,"totalElements":1,"hasNext":false'
call customer.list '{"token":"'"$TOKEN"'","data":{"pageSize":10,"city":"Boston"}}' 200
expect '"totalElements":0'

section "walkthrough: customer.patch"
call customer.patch '{"token":"'"$TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'","city":"Boston","state":"MA"}}' 200
expect '"city":"Boston"'
expect '"address":"42 Broadway Suite 12-400"'
expect '"version":2'

section "walkthrough: customer.delete"
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"Short-lived"}}' 200
SHORT_ID=$(printf '%s' "$OUT" | field data.id.id)
call customer.delete '{"token":"'"$TOKEN"'","data":{"id":"'"$SHORT_ID"'"}}' 200
expect '"data":{}'
call customer.get '{"token":"'"$TOKEN"'","data":{"id":"'"$SHORT_ID"'"}}' 404
expect '"errorCode":32,"message":"Customer with id ['"$SHORT_ID"'] is not found"'

section "walkthrough: user.create (customer user), activate, log in"
call user.create '{"token":"'"$TOKEN"'","data":{"email":"'"$USER_EMAIL"'","authority":"CUSTOMER_USER","customerId":"'"$CUSTOMER_ID"'","firstName":"Carl","lastName":"Customer"}}' 200
USER_ID=$(printf '%s' "$OUT" | field data.id.id)
expect '"customerId":{"entityType":"CUSTOMER","id":"'"$CUSTOMER_ID"'"}'
call user.activationLink '{"token":"'"$TOKEN"'","data":{"id":"'"$USER_ID"'"}}' 200
USER_ACTIVATE=$(printf '%s' "$OUT" | field data.value | sed -E 's/.*activateToken=//')
call auth.activate '{"data":{"activateToken":"'"$USER_ACTIVATE"'","password":"carl-secret-1"}}' 200
expect '"refreshToken":"cmr_'
call auth.login '{"data":{"email":"'"$USER_EMAIL"'","password":"carl-secret-1"}}' 200
USER_TOKEN=$(printf '%s' "$OUT" | field data.token)

# ------------------------------------------------------------------------------------------------
section "envelope: correlationId and id are echoed"
call agent.ping '{"correlationId":"ping-1","id":"req-0001"}' 200
expect '"correlationId":"ping-1","id":"req-0001"'

section "envelope: MQTT 5 Correlation Data"
call agent.ping '{}' 200 -D PUBLISH correlation-data 42

section "envelope: MQTT 3.1.1 with replyTo"
LEGACY_TOPIC="$PREFIX/reply/legacy-$$"
mosquitto_sub -V 311 -h "$HOST" -p "$PORT" -q 1 -C 1 -W 10 -t "$LEGACY_TOPIC" >"$TMP/legacy" 2>&1 &
LEGACY_PID=$!
sleep 0.5
STEP=$((STEP + 1))
mosquitto_pub -V 311 -h "$HOST" -p "$PORT" -q 1 -t "$PREFIX/req/agent.ping" \
    -m '{"replyTo":"'"$LEGACY_TOPIC"'","correlationId":"legacy-1"}' || fail "mosquitto_pub failed"
wait "$LEGACY_PID"
OUT=$(cat "$TMP/legacy")
[ "$VERBOSE" = 1 ] && printf '< %s\n' "$OUT"
expect '"status":200'
expect '"correlationId":"legacy-1"'

section "errors"
call customer.get '{"data":{"id":"'"$CUSTOMER_ID"'"}}' 401
expect '"errorCode":10,"message":"Authentication token is missing"'
call customer.get '{"token":"cma_not-a-token","data":{"id":"'"$CUSTOMER_ID"'"}}' 401
expect '"message":"Invalid or revoked token"'
call customer.get '{"token":"'"$SYS_TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'"}}' 403
expect '"errorCode":20,"message":"You don'"'"'t have permission to perform this operation!"'
call customer.get '{"token":"'"$TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'","title":"x"}}' 400
expect "\"message\":\"Unknown key 'title' in data\""
call customer.get '{"token":"'"$TOKEN"'","data":{"id":"not-a-uuid"}}' 400
expect '"message":"Invalid UUID string: not-a-uuid"'
call customer.fetch '{"token":"'"$TOKEN"'"}' 400
expect "\"message\":\"Unknown operation 'customer.fetch'\""
call customer.list '{"token":"'"$TOKEN"'","data":{"pageSize":10' 400
expect '"message":"Malformed JSON: the payload is not a valid JSON document"'
call customer.list '{"token":"'"$TOKEN"'","data":{"pageSize":10,"textSearch":"'"$(printf 'x%.0s' $(seq 300))"'"}}' 400
expect '"message":"textSearch length must be equal or less than 255"'
call customer.get '{"token":"'"$TOKEN"'","data":{"id":"ééééééééééééééééééééééééééééééééééééééééé"}}' 400
expect '"message":"Invalid UUID string: éééééééééééééééééééééééééééééééé"'

# ------------------------------------------------------------------------------------------------
section "agent.ops"
call agent.ops '{"token":"'"$TOKEN"'"}' 200
expect '{"name":"customer.create","authorities":["TENANT_ADMIN"],"summary":"Create a customer","idempotent":true,"read":false}'
expect '{"name":"agent.ping","authorities":["ANONYMOUS"],"summary":"Liveness: version and uptime","idempotent":false,"read":true}'

section "auth.refresh"
call auth.refresh '{"data":{"refreshToken":"'"$REFRESH"'"}}' 200
NEW_TOKEN=$(printf '%s' "$OUT" | field data.token)
call auth.refresh '{"data":{"refreshToken":"'"$REFRESH"'"}}' 401
expect '"message":"Invalid or revoked token"'
call agent.ops '{"token":"'"$TOKEN"'"}' 401
expect '"message":"Invalid or revoked token"'
TOKEN=$NEW_TOKEN
call agent.ops '{"token":"'"$TOKEN"'"}' 200

section "auth.logout"
call auth.login '{"data":{"email":"'"$ADMIN_EMAIL"'","password":"acme-secret-1"}}' 200
SPARE=$(printf '%s' "$OUT" | field data.token)
call auth.logout '{"token":"'"$SPARE"'"}' 200
expect '"data":{}'
call customer.list '{"token":"'"$SPARE"'","data":{"pageSize":10}}' 401
expect '"message":"Invalid or revoked token"'

section "auth.changePassword"
call auth.changePassword '{"token":"'"$USER_TOKEN"'","data":{"currentPassword":"wrong-one","newPassword":"carl-secret-2"}}' 400
expect "\"message\":\"Current password doesn't match!\""
call auth.changePassword '{"token":"'"$USER_TOKEN"'","data":{"currentPassword":"carl-secret-1","newPassword":"carl-secret-2"}}' 200
OLD_USER_TOKEN=$USER_TOKEN
USER_TOKEN=$(printf '%s' "$OUT" | field data.token)
call customer.get '{"token":"'"$OLD_USER_TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'"}}' 401
expect '"message":"Invalid or revoked token"'
call auth.login '{"data":{"email":"'"$USER_EMAIL"'","password":"carl-secret-2"}}' 200

section "apiKey.create"
call apiKey.create '{"token":"'"$TOKEN"'","data":{"description":"nightly sync","expiresIn":2592000000}}' 200
KEY=$(printf '%s' "$OUT" | field data.key)
KEY_ID=$(printf '%s' "$OUT" | field data.id)
case "$KEY" in cmk_*) ;; *) fail "the API key does not start with cmk_" ;; esac
call customer.list '{"token":"'"$KEY"'","data":{"pageSize":10}}' 200
expect '"totalElements":1'

section "apiKey.list"
call apiKey.list '{"token":"'"$TOKEN"'"}' 200
expect '"id":"'"$KEY_ID"'","description":"nightly sync"'

section "broker.credentials"
# these examples run against an open broker (broker_acl none): there are no broker accounts
call broker.credentials '{"token":"'"$TOKEN"'"}' 400
expect '"message":"The agent runs with broker_acl none: the broker has no accounts to issue"'

section "apiKey.delete"
call apiKey.delete '{"token":"'"$TOKEN"'","data":{"id":"'"$KEY_ID"'"}}' 200
expect '"data":{}'
call customer.list '{"token":"'"$KEY"'","data":{"pageSize":10}}' 401
expect '"message":"Invalid or revoked token"'
call apiKey.delete '{"token":"'"$TOKEN"'","data":{"id":"'"$KEY_ID"'"}}' 404
expect '"message":"API key with id ['"$KEY_ID"'] is not found"'

# ------------------------------------------------------------------------------------------------
section "tenant.get"
call tenant.get '{"token":"'"$SYS_TOKEN"'","data":{"id":"'"$TENANT_ID"'"}}' 200
expect '"title":"Acme"'
call tenant.get '{"token":"'"$TOKEN"'","data":{"id":"'"$TENANT_ID"'"}}' 403
expect '"errorCode":20'

section "tenant.update"
call tenant.update '{"token":"'"$SYS_TOKEN"'","data":{"id":"'"$TENANT_ID"'","version":1,"title":"Acme Corporation","country":"US","city":"Boston","email":"office@acme.example","limits":{"maxCustomers":100,"maxUsers":1000}}}' 200
expect '"title":"Acme Corporation"'
expect '"version":2'
call tenant.update '{"token":"'"$SYS_TOKEN"'","data":{"id":"'"$TENANT_ID"'","version":1,"title":"Acme"}}' 409
expect '"errorCode":35,"message":"Tenant was already changed by someone else"'
call tenant.update '{"token":"'"$SYS_TOKEN"'","data":{"id":"'"$TENANT_ID"'","title":" "}}' 400
expect '"message":"Tenant title should be specified!"'

section "tenant.list"
call tenant.list '{"token":"'"$SYS_TOKEN"'","data":{"pageSize":5,"page":0,"textSearch":"acme corp","sortProperty":"createdTime","sortOrder":"DESC"}}' 200
expect '"title":"Acme Corporation"'

# ------------------------------------------------------------------------------------------------
section "customer.get"
call customer.get '{"token":"'"$TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'"}}' 200
expect '"city":"Boston"'
call customer.get '{"token":"'"$USER_TOKEN"'","data":{"id":{"entityType":"CUSTOMER","id":"'"$CUSTOMER_ID"'"}}}' 200

section "customer.shortInfo"
call customer.shortInfo '{"token":"'"$USER_TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'"}}' 200
expect '"data":{"title":"Company A","isPublic":false}'

section "customer.title"
call customer.title '{"token":"'"$TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'"}}' 200
expect '"data":{"title":"Company A"}'

section "customer.update"
call customer.update '{"token":"'"$TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'","version":2,"title":"Company A","country":"US","state":"MA","city":"Boston","email":"boston@company.com"}}' 200
expect '"address":null'
expect '"version":3'
call customer.update '{"token":"'"$TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'","version":2,"title":"Company A"}}' 409
expect '"errorCode":35,"message":"Customer was already changed by someone else"'
call customer.update '{"token":"'"$USER_TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'","title":"Mine now"}}' 403
expect '"errorCode":20'
call customer.update '{"token":"'"$TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'","version":3,"title":"Company A","country":"US","state":"MA","city":"Boston","email":"boston@company.com","ifEqual":"skip"}}' 200
expect '"version":3'

section "customer.create with nameConflictPolicy"
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"Company A","nameConflictPolicy":"UNIQUIFY","uniquifyStrategy":"INCREMENTAL"}}' 200
expect '"title":"Company A_1"'
UNIQ_ID=$(printf '%s' "$OUT" | field data.id.id)
call customer.create '{"token":"'"$TOKEN"'","data":{"title":"Company A","nameConflictPolicy":"UNIQUIFY","uniquifySeparator":"-"}}' 200
RANDOM_ID=$(printf '%s' "$OUT" | field data.id.id)

section "customer.findByTitle"
call customer.findByTitle '{"token":"'"$TOKEN"'","data":{"title":"Company A_1"}}' 200
expect '"id":{"entityType":"CUSTOMER","id":"'"$UNIQ_ID"'"}'
call customer.findByTitle '{"token":"'"$TOKEN"'","data":{"title":"company a_1"}}' 404
expect '"message":"Customer with title [company a_1] is not found"'

section "customer.getByIds"
call customer.getByIds '{"token":"'"$TOKEN"'","data":{"ids":["'"$CUSTOMER_ID"'","'"$UNIQ_ID"'","00000000-0000-0000-0000-000000000000"]}}' 200
COUNT=$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
[ "$COUNT" = 2 ] || fail "customer.getByIds: $COUNT customers, expected 2"

section "customer.list with textSearch"
call customer.list '{"token":"'"$TOKEN"'","data":{"pageSize":2,"page":0,"textSearch":"company a","sortProperty":"title","sortOrder":"DESC"}}' 200
expect '"totalPages":2,"totalElements":3,"hasNext":true'
PAGE_TOKEN=$(printf '%s' "$OUT" | field data.nextPageToken)

section "customer.list with a cursor (pageToken)"
call customer.list '{"token":"'"$TOKEN"'","data":{"pageSize":2,"pageToken":"'"$PAGE_TOKEN"'","textSearch":"company a","sortProperty":"title","sortOrder":"DESC"}}' 200
expect '"hasNext":false}'
[ "$(printf '%s' "$OUT" | field data.data.0.title)" = "Company A" ] || fail "the cursor page does not hold Company A"
call customer.list '{"token":"'"$TOKEN"'","data":{"pageSize":2,"pageToken":"'"$PAGE_TOKEN"'","textSearch":"company a"}}' 400
expect '"message":"pageToken was issued for sortProperty '"'"'title'"'"' DESC; repeat them with it"'

section "device.create with nameConflictPolicy"
call device.create '{"token":"'"$TOKEN"'","data":{"name":"Thermostat 9'"$RUN"'"}}' 200
call device.create '{"token":"'"$TOKEN"'","data":{"name":"Thermostat 9'"$RUN"'"}}' 400
expect '"message":"Device with such name already exists!"'
call device.create '{"token":"'"$TOKEN"'","data":{"name":"Thermostat 9'"$RUN"'","nameConflictPolicy":"UNIQUIFY","uniquifyStrategy":"INCREMENTAL"}}' 200
expect '"name":"Thermostat 9'"$RUN"'_1"'
call device.create '{"token":"'"$TOKEN"'","data":{"name":"Thermostat 9'"$RUN"'","nameConflictPolicy":"UNIQUIFY","uniquifySeparator":"-"}}' 200
expect '"name":"Thermostat 9'"$RUN"'-'

section "customer.devices with a cursor (pageToken)"
for n in 1 2 3; do
    call device.create '{"token":"'"$TOKEN"'","data":{"name":"Sensor '"$n$RUN"'","customerId":"'"$CUSTOMER_ID"'"}}' 200
done
call customer.devices '{"token":"'"$TOKEN"'","data":{"customerId":"'"$CUSTOMER_ID"'","pageSize":2,"page":0,"sortProperty":"createdTime"}}' 200
expect '"totalPages":2,"totalElements":3,"hasNext":true'
DEVICE_PAGE_TOKEN=$(printf '%s' "$OUT" | field data.nextPageToken)
call customer.devices '{"token":"'"$TOKEN"'","data":{"customerId":"'"$CUSTOMER_ID"'","pageSize":2,"pageToken":"'"$DEVICE_PAGE_TOKEN"'","sortProperty":"createdTime"}}' 200
expect '"hasNext":false}'
[ "$(printf '%s' "$OUT" | field data.data.0.name)" = "Sensor 3$RUN" ] || fail "the cursor page does not hold Sensor 3"
call customer.devices '{"token":"'"$TOKEN"'","data":{"customerId":"'"$CUSTOMER_ID"'","pageSize":2,"pageToken":"'"$DEVICE_PAGE_TOKEN"'","sortProperty":"name"}}' 400
expect '"message":"pageToken works with sortProperty createdTime or id"'

call customer.list '{"token":"'"$TOKEN"'","data":{"pageSize":10,"sortProperty":"title","sortOrder":"UP"}}' 400
expect "\"message\":\"Unsupported sort order 'UP'! Only 'ASC' or 'DESC' types are allowed.\""
call customer.list '{"token":"'"$TOKEN"'","data":{"pageSize":0}}' 400
expect "\"message\":\"Incorrect page link page size '0'. Page size must be greater than zero.\""

section "customer.users"
call customer.users '{"token":"'"$TOKEN"'","data":{"customerId":"'"$CUSTOMER_ID"'","pageSize":10,"page":0,"sortProperty":"email"}}' 200
expect '"email":"'"$USER_EMAIL"'"'
expect '"totalElements":1'

section "customer.delete with ids"
call customer.delete '{"token":"'"$TOKEN"'","data":{"ids":["'"$UNIQ_ID"'","'"$RANDOM_ID"'","00000000-0000-0000-0000-000000000000"]}}' 200
expect '{"id":"'"$UNIQ_ID"'","status":200,"data":{}}'
expect '{"id":"00000000-0000-0000-0000-000000000000","status":404,"errorCode":32,"message":"Customer with id [00000000-0000-0000-0000-000000000000] is not found"}'

# ------------------------------------------------------------------------------------------------
section "user.get"
call user.get '{"token":"'"$TOKEN"'","data":{"id":"'"$USER_ID"'"}}' 200
expect '"userCredentialsEnabled":true,"userActivated":true,"lastLoginTs":'
call user.get '{"token":"'"$SYS_TOKEN"'","data":{"id":"'"$USER_ID"'"}}' 403
expect '"errorCode":20'

section "user.update"
call user.update '{"token":"'"$USER_TOKEN"'","data":{"id":"'"$USER_ID"'","version":1,"email":"'"$USER_EMAIL"'","authority":"CUSTOMER_USER","tenantId":"'"$TENANT_ID"'","customerId":"'"$CUSTOMER_ID"'","firstName":"Carl","lastName":"Customer","phone":"+1 555 0100","additionalInfo":{"description":"Boston office"}}}' 200
expect '"phone":"+1 555 0100"'
expect '"version":2'
call user.update '{"token":"'"$TOKEN"'","data":{"id":"'"$USER_ID"'","email":"'"$USER_EMAIL"'","authority":"TENANT_ADMIN"}}' 400
expect "\"message\":\"Can't update user authority!\""

section "user.list"
call user.list '{"token":"'"$TOKEN"'","data":{"pageSize":10,"page":0,"sortProperty":"email","sortOrder":"ASC"}}' 200
expect '"totalElements":2'
call user.list '{"token":"'"$SYS_TOKEN"'","data":{"tenantId":"'"$TENANT_ID"'","pageSize":10}}' 200
expect '"totalElements":1'
call user.list '{"token":"'"$SYS_TOKEN"'","data":{"pageSize":10}}' 400
expect "\"message\":\"Parameter 'tenantId' can't be empty!\""
call user.list '{"token":"'"$TOKEN"'","data":{"pageSize":10,"textSearch":"carl"}}' 200
expect '"firstName":"Carl"'
expect '"totalElements":1'
call user.list '{"token":"'"$USER_TOKEN"'","data":{"pageSize":10}}' 200
expect '"totalElements":1'

section "user.setEnabled"
call user.setEnabled '{"token":"'"$TOKEN"'","data":{"id":"'"$USER_ID"'","enabled":false}}' 200
expect '"data":{}'
call customer.get '{"token":"'"$USER_TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'"}}' 401
expect '"message":"Invalid or revoked token"'
call auth.login '{"data":{"email":"'"$USER_EMAIL"'","password":"carl-secret-2"}}' 401
expect '"message":"User account is not active"'
call user.setEnabled '{"token":"'"$TOKEN"'","data":{"id":"'"$USER_ID"'","enabled":true}}' 200
call auth.login '{"data":{"email":"'"$USER_EMAIL"'","password":"carl-secret-2"}}' 200
USER_TOKEN=$(printf '%s' "$OUT" | field data.token)

section "the examples of the later sections, from the document (docs/check_examples.py)"
STEP=$((STEP + 1))
export R TOKEN CUSTOMER_ID USER_ID USER_TOKEN RUN
if [ "$WRITE_DOC" = 1 ]; then
    python3 "$HERE/check_examples.py" --write "$HERE/protocol.md" || fail "check_examples.py --write failed"
else
    OUT=$(python3 "$HERE/check_examples.py" "$HERE/protocol.md" 2>&1) || fail "the replies differ from the document:
$OUT"
    [ "$VERBOSE" = 1 ] && printf '%s\n' "$OUT"
fi

section "logins: the e-mail budget"
NOBODY="nobody-$$@acme.example"
for i in $(seq 1 20); do
    call auth.login '{"data":{"email":"'"$NOBODY"'","password":"guess-'"$i"'"}}' 401
done
# the bucket refills (one every 3 s): on a slow machine the 21st may still pass, never the 60th
UPPER=$(printf '%s' "$NOBODY" | tr '[:lower:]' '[:upper:]')
for i in $(seq 21 60); do
    STEP=$((STEP + 1))
    OUT=$(mosquitto_rr $R -t "$PREFIX/req/auth.login" -m '{"data":{"email":"'"$UPPER"'","password":"guess-'"$i"'"}}' 2>&1)
    case "$OUT" in *'"status":429'*) break ;; *'"status":401'*) ;; *) fail "auth.login: neither 401 nor 429" ;; esac
done
call auth.login '{"data":{"email":"'"$UPPER"'","password":"guess-61"}}' 429
expect '"errorCode":33,"message":"Too many authentication requests for this e-mail: at most 20 a minute (auth_rate_per_email)"'

section "user.delete"
call user.delete '{"token":"'"$TOKEN"'","data":{"id":"'"$ADMIN_ID"'"}}' 400
expect '"message":"At least one tenant administrator must remain!"'
call user.delete '{"token":"'"$TOKEN"'","data":{"id":"'"$USER_ID"'"}}' 200
call user.get '{"token":"'"$TOKEN"'","data":{"id":"'"$USER_ID"'"}}' 404
expect '"message":"User with id ['"$USER_ID"'] is not found"'
call customer.get '{"token":"'"$USER_TOKEN"'","data":{"id":"'"$CUSTOMER_ID"'"}}' 401
expect '"message":"Invalid or revoked token"'

section "user.create with sendActivationMail"
call user.create '{"token":"'"$TOKEN"'","data":{"email":"mailed'"$RUN"'@company-a.example","authority":"CUSTOMER_USER","customerId":"'"$CUSTOMER_ID"'","sendActivationMail":true}}' 500
expect '"errorCode":2,"message":"Couldn'"'"'t send user activation email"'

section "mail and reset operations (no SMTP server here)"
call user.sendActivationMail '{"token":"'"$TOKEN"'","data":{"email":"nobody'"$RUN"'@company-a.example"}}' 404
expect '"message":"User with the given email is not found"'
call auth.resetPasswordByEmail '{"data":{"email":"'"$ADMIN_EMAIL"'"}}' 200
expect '"data":{}'
call auth.resetPasswordByEmail '{"data":{"email":"nobody'"$RUN"'@company-a.example"}}' 200
call auth.resetPassword '{"data":{"resetToken":"no-such-token","password":"New-secret-1"}}' 404
expect '"message":"Invalid reset token!"'

section "audit.list"
call audit.list '{"token":"'"$TOKEN"'","data":{"pageSize":20,"page":0,"entityType":"CUSTOMER"}}' 200
expect '"actionStatus":"SUCCESS"'
call audit.list '{"token":"'"$USER_TOKEN"'","data":{"pageSize":20,"page":0}}' 401
expect '"message":"Invalid or revoked token"'

# ------------------------------------------------------------------------------------------------
section "request ids: a repeat is answered with the first reply"
call customer.create '{"token":"'"$TOKEN"'","id":"create-company-i'"$RUN"'","data":{"title":"Company I"}}' 200
FIRST_ID=$(printf '%s' "$OUT" | field data.id.id)
call customer.create '{"token":"'"$TOKEN"'","id":"create-company-i'"$RUN"'","data":{"title":"Company I"}}' 200
expect '"id":"create-company-i'"$RUN"'"'
[ "$(printf '%s' "$OUT" | field data.id.id)" = "$FIRST_ID" ] || fail "the repeat created another customer"
call customer.delete '{"token":"'"$TOKEN"'","id":"create-company-i'"$RUN"'","data":{"id":"'"$FIRST_ID"'"}}' 400
expect '"message":"Request id '"'"'create-company-i'"$RUN"''"'"' was already used for customer.create"'

section "agent.stats"
call agent.stats '{"token":"'"$SYS_TOKEN"'"}' 200
expect '"batchSizes":[{"upTo":1,"transactions":'
expect '"brokerConnected":true'
expect '"op":"customer.create","requests":'
call agent.stats '{"token":"'"$TOKEN"'"}' 403
expect '"errorCode":20'

# ------------------------------------------------------------------------------------------------
section "event.replay"
call event.replay '{"token":"'"$TOKEN"'","data":{"afterSeq":0,"limit":3}}' 200
expect '"type":"ENTITY_CREATED","tenantId":"'"$TENANT_ID"'"'
call event.replay '{"token":"'"$TOKEN"'","data":{"afterSeq":0,"limit":1000}}' 200
printf '%s' "$OUT" >"$TMP/replay"
call event.replay '{"token":"'"$TOKEN"'","data":{"limit":5000}}' 400
expect '"message":"limit must be between 1 and 1000"'

section "events received on the event topics"
sleep 1
STEP=$((STEP + 1))
python3 - "$TMP/events" "$TMP/replay" "$PREFIX" "$TENANT_ID" <<'PY' || fail "the published events do not match event.replay"
import json, sys
events_file, replay_file, prefix, tenant = sys.argv[1:5]
published = []
for line in open(events_file):
    topic, _, body = line.rstrip("\n").partition(" ")
    ev = json.loads(body)
    parts = topic.split("/")
    want = prefix.split("/") + ["event", tenant, ev["originator"]["entityType"], ev["type"]]
    assert parts == want, (topic, want)
    published.append(ev)
replayed = json.load(open(replay_file))["data"]["events"]
seqs = [e["seq"] for e in replayed]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
by_seq = {e["seq"]: e for e in replayed}
assert published, "no event was published"
for ev in published:
    assert by_seq.get(ev["seq"]) == ev, ev["seq"]
types = [(e["originator"]["entityType"], e["type"]) for e in published]
for t in [("USER", "ENTITY_CREATED"), ("USER", "USER_ACTIVATED"), ("CUSTOMER", "ENTITY_CREATED"),
          ("CUSTOMER", "ENTITY_UPDATED"), ("CUSTOMER", "ENTITY_DELETED"), ("TENANT", "ENTITY_UPDATED"),
          ("USER", "USER_DISABLED"), ("USER", "USER_ENABLED"), ("USER", "ENTITY_DELETED")]:
    assert t in types, t
PY
[ "$VERBOSE" = 1 ] && head -n 3 "$TMP/events"

# ------------------------------------------------------------------------------------------------
section "envelope: strings must be UTF-8"
call customer.create "$(printf '{"token":"%s","data":{"title":"\xff\xfe"}}' "$TOKEN")" 400
expect '"message":"'"'"'data.title'"'"' is not valid UTF-8: a byte that cannot start a character"'

section "reply destinations: refused ones get no reply and are counted"
call agent.stats '{"token":"'"$SYS_TOKEN"'"}' 200
REFUSED_BEFORE=$(printf '%s' "$OUT" | field data.refusedReplies)
STEP=$((STEP + 1))
mosquitto_pub -V 5 -h "$HOST" -p "$PORT" -q 1 -t "$PREFIX/req/agent.ping" -D PUBLISH response-topic "$PREFIX/reply/#" \
    -m '{}' || fail "mosquitto_pub failed"
mosquitto_pub -V 311 -h "$HOST" -p "$PORT" -q 1 -t "$PREFIX/req/agent.ping" \
    -m '{"replyTo":"'"$PREFIX"'/event/x/CUSTOMER/ENTITY_CREATED"}' || fail "mosquitto_pub failed"
for _ in $(seq 50); do
    call agent.stats '{"token":"'"$SYS_TOKEN"'"}' 200
    [ "$(printf '%s' "$OUT" | field data.refusedReplies)" -ge $((REFUSED_BEFORE + 2)) ] && break
    sleep 0.1
done
[ "$(printf '%s' "$OUT" | field data.refusedReplies)" -eq $((REFUSED_BEFORE + 2)) ] ||
    fail "refusedReplies went from $REFUSED_BEFORE to $(printf '%s' "$OUT" | field data.refusedReplies), not by 2"

section "limits"
call device.list '{"token":"'"$TOKEN"'","data":{"pageSize":5000}}' 400
expect '"message":"Incorrect page link page size '"'"'5000'"'"'. Page size must be at most 1000 (max_page_size)."'
call customer.list '{"token":"'"$TOKEN"'","data":{"pageSize":10,"page":20000}}' 400
expect '"message":"Page 20000 of size 10 starts deeper than max_page_offset (100000 rows): continue with pageToken where the listing offers it, or narrow it with textSearch"'
call batch '{"token":"'"$TOKEN"'","data":{"commands":[{"op":"device.list","data":{"pageSize":1000}},{"op":"device.list","data":{"pageSize":1000}},{"op":"customer.list","data":{"pageSize":1}}]}}' 400
expect '"message":"The batch may touch up to 2001 rows (the sum of its commands'"'"' pageSize, limit and ids), more than the limit of 2000 (max_batch_rows)"'
BLOB=$(python3 -c 'print("x" * 16000)')
for i in $(seq 150); do
    call device.create '{"token":"'"$TOKEN"'","data":{"name":"Blob '"$i"'","type":"blob","additionalInfo":{"data":"'"$BLOB"'"}}}' 200
done
call device.list '{"token":"'"$TOKEN"'","data":{"pageSize":150,"type":"blob"}}' 413
expect '"message":"The request would read more than max_reply (2097152 bytes) of rows: ask for fewer (a smaller pageSize or limit, fewer ids or commands)"'

# ------------------------------------------------------------------------------------------------
section "tenant.delete"
call tenant.delete '{"token":"'"$SYS_TOKEN"'","data":{"id":"'"$TENANT_ID"'"}}' 200
expect '"data":{}'
call auth.login '{"data":{"email":"'"$ADMIN_EMAIL"'","password":"acme-secret-1"}}' 401
expect '"message":"Invalid username or password"'
call tenant.get '{"token":"'"$SYS_TOKEN"'","data":{"id":"'"$TENANT_ID"'"}}' 404
expect '"message":"Tenant with id ['"$TENANT_ID"'] is not found"'
TENANT_ID=""

section "auth.refresh and auth.logout of the system administrator"
call auth.refresh '{"data":{"refreshToken":"'"$SYS_REFRESH"'"}}' 200
SYS_TOKEN=$(printf '%s' "$OUT" | field data.token)
call auth.logout '{"token":"'"$SYS_TOKEN"'"}' 200

echo "examples.sh: all $STEP steps passed against $HOST:$PORT"
