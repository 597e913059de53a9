"""test_permission_matrix.py: who may do what, as ThingsBoard CE answers it. This table is the spec.

Every operation of the agent is tried as each of eight callers, and the reply's status must be the
one in the table. Columns:

    SYS    the system administrator, on tenant A's objects
    TA     tenant A's administrator, on tenant A's objects
    TB     tenant B's administrator, on tenant A's objects (creations land in its own tenant)
    CU     a customer user of A's customer, on A's objects (its own customer, itself)
    CU@B   the same customer user, on tenant B's objects
    DIS    a tenant A administrator who was disabled (its token died with it)
    REV    a tenant A administrator's token after auth.logout
    NONE   no token at all

Besides the status, no reply to TB or CU@B may carry tenant A's data: every name in tenant A holds a
marker, and the data of those replies must not contain it. Operations that change or consume their
target get a fresh one per cell; operations without a token (login, activation, reset) answer the
same whoever asks.
"""

import json

from helpers import (
    DEFAULT_PASSWORD, Env, SYSADMIN_EMAIL, activation_token_of, check, eid, make_customer, make_customer_user,
    make_tenant_admin, run_tests, unique, unique_email)

COLUMNS = ["SYS", "TA", "TB", "CU", "CU@B", "DIS", "REV", "NONE"]
MARKER_A = "tenant-a-secret"

# op: data(world, side, column) -> request data, and the expected status per column.
# "side" is tenant A's objects, except in the CU@B column where it is tenant B's.
MATRIX = [
    # op                          SYS  TA   TB   CU   CU@B DIS  REV  NONE
    ("agent.ping",               "200  200  200  200  200  200  200  200"),
    ("agent.ops",                "200  200  200  200  200  401  401  401"),
    ("agent.stats",              "200  403  403  403  403  401  401  401"),
    ("apiKey.create",            "200  200  200  200  200  401  401  401"),
    ("apiKey.delete",            "404  200  404  404  404  401  401  401"),
    ("apiKey.list",              "200  200  200  200  200  401  401  401"),
    ("audit.list",               "200  200  200  403  403  401  401  401"),
    # with broker_acl none (this matrix's agent) there are no broker accounts: 400 once authenticated;
    # test_broker_acl.py has its dynsec answers (200 for every authenticated caller)
    ("broker.credentials",       "400  400  400  400  400  401  401  401"),
    ("auth.activate",            "200  200  200  200  200  200  200  200"),
    ("auth.changePassword",      "400  400  400  400  400  401  401  401"),
    ("auth.checkActivateToken",  "200  200  200  200  200  200  200  200"),
    ("auth.login",               "200  200  200  200  200  200  200  200"),
    ("auth.logout",              "200  200  200  200  200  401  401  401"),
    ("auth.refresh",             "200  200  200  200  200  200  200  200"),
    ("auth.resetPassword",       "404  404  404  404  404  404  404  404"),
    ("auth.resetPasswordByEmail", "200  200  200  200  200  200  200  200"),
    # the second step of a login is named by its pre-verification token alone (here an unknown one,
    # refused alike whoever asks); test_twofa.py has the real logins
    ("auth.twoFa.providers",     "401  401  401  401  401  401  401  401"),
    ("auth.twoFa.sendCode",      "401  401  401  401  401  401  401  401"),
    ("auth.twoFa.verify",        "401  401  401  401  401  401  401  401"),
    # every user manages its own second factors (a wrong code: 400 once authenticated)
    ("twoFa.accountConfig.delete", "200  200  200  200  200  401  401  401"),
    ("twoFa.accountConfig.generate", "200  200  200  200  200  401  401  401"),
    ("twoFa.accountConfig.get",  "200  200  200  200  200  401  401  401"),
    ("twoFa.accountConfig.verifyAndSave", "400  400  400  400  400  401  401  401"),
    ("twoFa.settings.get",       "200  403  403  403  403  401  401  401"),
    ("twoFa.settings.save",      "200  403  403  403  403  401  401  401"),
    ("customer.create",          "403  200  200  403  403  401  401  401"),
    ("customer.delete",          "403  200  403  403  403  401  401  401"),
    ("customer.findByTitle",     "403  200  404  403  403  401  401  401"),
    ("customer.get",             "403  200  403  200  403  401  401  401"),
    ("customer.getByIds",        "403  200  200  403  403  401  401  401"),
    ("customer.list",            "403  200  200  403  403  401  401  401"),
    ("customer.patch",           "403  200  403  403  403  401  401  401"),
    ("customer.shortInfo",       "403  200  403  200  403  401  401  401"),
    ("customer.title",           "403  200  403  200  403  401  401  401"),
    ("customer.update",          "403  200  403  403  403  401  401  401"),
    ("customer.users",           "403  200  403  403  403  401  401  401"),
    ("event.replay",             "403  200  200  403  403  401  401  401"),
    ("import.cancel",            "403  200  404  403  403  401  401  401"),
    ("import.run",               "403  200  200  403  403  401  401  401"),
    ("import.status",            "403  200  404  403  403  401  401  401"),
    ("tenant.create",            "200  403  403  403  403  401  401  401"),
    ("tenant.delete",            "200  403  403  403  403  401  401  401"),
    ("tenant.get",               "200  403  403  403  403  401  401  401"),
    ("tenant.list",              "200  403  403  403  403  401  401  401"),
    ("tenant.update",            "200  403  403  403  403  401  401  401"),
    ("user.activationLink",      "403  200  403  403  403  401  401  401"),
    ("user.activationLinkInfo",  "403  200  403  403  403  401  401  401"),
    ("user.create",              "403  200  400  403  403  401  401  401"),
    ("user.delete",              "403  200  403  403  403  401  401  401"),
    ("user.get",                 "403  200  403  200  403  401  401  401"),
    ("user.list",                "200  200  403  200  403  401  401  401"),
    # by e-mail, a user the caller may not read answers as a missing one (ThingsBoard: 403), so that
    # an address tells nothing about other tenants; the customer user is refused by authority first
    ("user.sendActivationMail",  "404  200  404  403  403  401  401  401"),
    ("user.setEnabled",          "403  200  403  403  403  401  401  401"),
    # login as: a tenant administrator gets its customer users' pairs, the system administrator the
    # tenant administrators' (the rows ": tenant admin" and ": sysadmin" below)
    ("user.token",               "403  200  403  403  403  401  401  401"),
    ("user.update",              "403  200  403  200  403  401  401  401"),
    ("customer.assets",          "403  200  403  200  403  401  401  401"),
    ("customer.dashboards",      "403  200  403  200  403  401  401  401"),
    ("customer.devices",         "403  200  403  200  403  401  401  401"),
    ("customer.edges",           "403  200  403  200  403  401  401  401"),
    ("batch",                    "200  200  200  200  200  401  401  401"),
    ("dashboard.addCustomers",   "403  200  403  403  403  401  401  401"),
    ("dashboard.assign",         "403  200  403  403  403  401  401  401"),
    ("dashboard.create",         "403  200  200  403  403  401  401  401"),
    ("dashboard.delete",         "403  200  403  403  403  401  401  401"),
    ("dashboard.get",            "403  200  403  200  403  401  401  401"),
    ("dashboard.home",           "200  200  200  200  200  401  401  401"),
    ("dashboard.list",           "403  200  200  403  403  401  401  401"),
    ("dashboard.makePrivate",    "403  200  403  403  403  401  401  401"),
    ("dashboard.makePublic",     "403  200  403  403  403  401  401  401"),
    ("dashboard.removeCustomers", "403  200  403  403  403  401  401  401"),
    ("dashboard.setCustomers",   "403  200  403  403  403  401  401  401"),
    ("dashboard.unassign",       "403  200  403  403  403  401  401  401"),
    ("dashboard.update",         "403  200  403  403  403  401  401  401"),
    ("asset.assign",              "403  200  403  403  403  401  401  401"),
    ("asset.create",              "403  200  200  403  403  401  401  401"),
    ("asset.delete",              "403  200  403  403  403  401  401  401"),
    ("asset.get",                 "403  200  403  200  403  401  401  401"),
    ("asset.list",                "403  200  200  403  403  401  401  401"),
    ("asset.makePublic",          "403  200  403  403  403  401  401  401"),
    ("asset.unassign",            "403  200  403  403  403  401  401  401"),
    ("asset.update",              "403  200  403  403  403  401  401  401"),
    ("device.assign",             "403  200  403  403  403  401  401  401"),
    ("device.create",             "403  200  200  403  403  401  401  401"),
    ("device.delete",             "403  200  403  403  403  401  401  401"),
    ("device.get",                "403  200  403  200  403  401  401  401"),
    ("device.list",               "403  200  200  403  403  401  401  401"),
    ("device.makePublic",         "403  200  403  403  403  401  401  401"),
    ("device.unassign",           "403  200  403  403  403  401  401  401"),
    ("device.update",             "403  200  403  403  403  401  401  401"),
    ("edge.assign",               "403  200  403  403  403  401  401  401"),
    ("edge.create",               "403  200  200  403  403  401  401  401"),
    ("edge.delete",               "403  200  403  403  403  401  401  401"),
    ("edge.get",                  "403  200  403  200  403  401  401  401"),
    ("edge.list",                 "403  200  200  403  403  401  401  401"),
    ("edge.makePublic",           "403  200  403  403  403  401  401  401"),
    ("edge.unassign",             "403  200  403  403  403  401  401  401"),
    ("edge.update",               "403  200  403  403  403  401  401  401"),
    ("device.get: unassigned",   "403  200  403  403  403  401  401  401"),
    ("dashboard.get: unassigned", "403  200  403  403  403  401  401  401"),
    # the same operations on other targets ("op: target")
    ("customer.get: unknown id",  "403  404  404  404  404  401  401  401"),
    ("customer.delete: unknown",  "403  404  404  403  403  401  401  401"),
    ("user.get: tenant admin",    "200  200  403  403  403  401  401  401"),
    ("user.get: sysadmin",        "200  403  403  403  403  401  401  401"),
    ("user.get: unknown id",      "404  404  404  404  404  401  401  401"),
    ("user.update: same-customer peer", "403  200  403  403  403  401  401  401"),
    ("user.delete: unknown id",   "404  404  404  403  403  401  401  401"),
    ("user.setEnabled: tenant admin", "200  200  403  403  403  401  401  401"),
    ("user.token: tenant admin",  "200  403  403  403  403  401  401  401"),
    ("user.token: sysadmin",      "403  403  403  403  403  401  401  401"),
    ("user.token: unknown id",    "404  404  404  403  403  401  401  401"),
    ("customer.users: unknown customer", "403  404  404  403  403  401  401  401"),
]

# user.create by TB on A's customer: ThingsBoard forces the caller's tenant, then its validator
# answers 400 "User can't be assigned to customer from different tenant!" (no data of A is shown).


class Side:
    """One tenant's objects: admin, customer, an activated customer user, a pending customer user."""

    def __init__(self, env, marker):
        c = env.c
        self.env = env
        self.marker = marker
        self.admin = make_tenant_admin(c, env.sys_token, title=unique("Tenant " + marker),
                                       email=unique_email(marker))
        self.tenant_id = self.admin.tenant_id
        self.cust = make_customer(c, self.admin.token, title=unique("Customer " + marker))
        self.cust_id = eid(self.cust["id"])
        self.cu = make_customer_user(c, self.admin.token, self.cust_id, email=unique_email("cu-" + marker))
        self.pending = self.fresh_pending()

    def fresh_pending(self):
        return make_customer_user(self.env.c, self.admin.token, self.cust_id, email=unique_email("pu-" + self.marker),
                                  activate=False)

    def activation_token(self):
        link = self.env.c.ok("user.activationLink", {"id": self.fresh_pending().user_id}, token=self.admin.token)
        return activation_token_of(link["value"])

    def fresh_customer_id(self):
        return eid(make_customer(self.env.c, self.admin.token, title=unique("Doomed " + self.marker))["id"])


class World:
    def __init__(self, env):
        c = env.c
        self.env = env
        self.A = Side(env, MARKER_A)
        self.B = Side(env, "tenant-b")
        disabled = make_tenant_admin(c, env.sys_token, tenant_id=self.A.tenant_id, email=unique_email(MARKER_A))
        c.ok("user.setEnabled", {"id": disabled.user_id, "enabled": False}, token=self.A.admin.token)
        revoked = make_tenant_admin(c, env.sys_token, tenant_id=self.A.tenant_id, email=unique_email(MARKER_A))
        c.ok("auth.logout", token=revoked.token)
        self.tokens = {"SYS": env.sys_token, "TA": self.A.admin.token, "TB": self.B.admin.token,
                       "CU": self.A.cu.token, "CU@B": self.A.cu.token, "DIS": disabled.token,
                       "REV": revoked.token, "NONE": None}
        self.sys_user_id = self._sys_user_id(env)
        self.logins = {"SYS": (SYSADMIN_EMAIL, None), "TA": (self.A.admin.email, DEFAULT_PASSWORD),
                       "TB": (self.B.admin.email, DEFAULT_PASSWORD), "CU": (self.A.cu.email, DEFAULT_PASSWORD),
                       "CU@B": (self.A.cu.email, DEFAULT_PASSWORD)}

    @staticmethod
    def _sys_user_id(env):
        """The system administrator's id, from an audit row of its own login."""
        rows = env.c.ok("audit.list", {"pageSize": 100, "page": 0, "sortProperty": "createdTime", "sortOrder": "ASC"},
                        token=env.sys_token)["data"]
        return next(eid(r["userId"]) for r in rows if r["userName"] == SYSADMIN_EMAIL)

    def side(self, column):
        return self.B if column == "CU@B" else self.A

    def token(self, column, fresh=False):
        if not fresh or column not in self.logins:
            return self.tokens[column]
        if column == "SYS":
            from helpers import SYSADMIN_PASSWORD
            return self.env.c.login(SYSADMIN_EMAIL, SYSADMIN_PASSWORD)
        email, password = self.logins[column]
        return self.env.c.login(email, password)


def without_version(entity):
    return {k: v for k, v in entity.items() if k != "version"}


PAGE = {"pageSize": 100, "page": 0}

# Operations that answer the caller's own account (its e-mail) whoever's objects it acts on.
OWN_DATA = {"twoFa.accountConfig.generate"}

# The request data of each operation; fresh targets for operations that change or consume them.
DATA = {
    "agent.ping": lambda w, s, col: None,
    "agent.ops": lambda w, s, col: None,
    "agent.stats": lambda w, s, col: None,
    "apiKey.create": lambda w, s, col: {"description": "matrix"},
    "apiKey.delete": lambda w, s, col: {"id": w.env.c.ok("apiKey.create", {"description": "victim"},
                                                         token=s.admin.token)["id"]},
    "apiKey.list": lambda w, s, col: None,
    "broker.credentials": lambda w, s, col: None,
    "audit.list": lambda w, s, col: dict(PAGE),
    "auth.activate": lambda w, s, col: {"activateToken": s.activation_token(), "password": DEFAULT_PASSWORD},
    "auth.changePassword": lambda w, s, col: {"currentPassword": "Not-the-password-1",
                                              "newPassword": "Brand-new-pass-1"},
    "auth.checkActivateToken": lambda w, s, col: {"activateToken": activation_token_of(
        w.env.c.ok("user.activationLink", {"id": s.pending.user_id}, token=s.admin.token)["value"])},
    "auth.login": lambda w, s, col: {"email": s.cu.email, "password": DEFAULT_PASSWORD},
    "auth.logout": lambda w, s, col: None,
    "auth.refresh": lambda w, s, col: {"refreshToken": w.env.c.ok(
        "auth.login", {"email": s.cu.email, "password": DEFAULT_PASSWORD})["refreshToken"]},
    "auth.resetPassword": lambda w, s, col: {"resetToken": "no-such-reset-token", "password": "Brand-new-pass-1"},
    # an address of its own per cell: logins and resets of one address spend its budget
    # (auth_rate_per_email), which test_login_floods.py covers; here every caller gets 200 alike
    "auth.resetPasswordByEmail": lambda w, s, col: {"email": unique_email("reset-" + s.marker)},
    "auth.twoFa.providers": lambda w, s, col: {"preVerificationToken": "cmp_no-such-login"},
    "auth.twoFa.sendCode": lambda w, s, col: {"preVerificationToken": "cmp_no-such-login", "providerType": "EMAIL"},
    "auth.twoFa.verify": lambda w, s, col: {"preVerificationToken": "cmp_no-such-login", "providerType": "TOTP",
                                            "verificationCode": "123456"},
    "twoFa.accountConfig.delete": lambda w, s, col: {"providerType": "BACKUP_CODE"},
    "twoFa.accountConfig.generate": lambda w, s, col: {"providerType": "TOTP"},
    "twoFa.accountConfig.get": lambda w, s, col: None,
    "twoFa.settings.get": lambda w, s, col: None,
    "twoFa.settings.save": lambda w, s, col: {"providers": ["TOTP", "EMAIL", "BACKUP_CODE"]},
    "twoFa.accountConfig.verifyAndSave": lambda w, s, col: {
        "providerType": "TOTP", "authUrl": "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "verificationCode": "12345"},
    "customer.create": lambda w, s, col: {"title": unique("Matrix customer")},
    "customer.delete": lambda w, s, col: {"id": s.fresh_customer_id()},
    "customer.findByTitle": lambda w, s, col: {"title": s.cust["title"]},
    "customer.get": lambda w, s, col: {"id": s.cust_id},
    "customer.getByIds": lambda w, s, col: {"ids": [s.cust_id]},
    "customer.list": lambda w, s, col: dict(PAGE),
    "customer.patch": lambda w, s, col: {"id": s.cust_id, "city": "Patched"},
    "customer.shortInfo": lambda w, s, col: {"id": s.cust_id},
    "customer.title": lambda w, s, col: {"id": s.cust_id},
    "customer.update": lambda w, s, col: dict(without_version(s.cust), city="Updated"),
    "customer.users": lambda w, s, col: dict(PAGE, customerId=s.cust_id),
    "event.replay": lambda w, s, col: {"afterSeq": 0, "limit": 100},
    "import.cancel": lambda w, s, col: {"jobId": running_import_job(w, s) if col == "TA" else import_job(w, s)},
    "import.run": lambda w, s, col: {"entityType": "CUSTOMER", "rows": [{"title": unique("Matrix import")}]},
    "import.status": lambda w, s, col: {"jobId": import_job(w, s)},
    "tenant.create": lambda w, s, col: {"title": unique("Matrix tenant")},
    "tenant.delete": lambda w, s, col: {"id": eid(w.env.c.ok("tenant.create", {"title": unique("Doomed tenant")},
                                                             token=w.env.sys_token)["id"])},
    "tenant.get": lambda w, s, col: {"id": s.tenant_id},
    "tenant.list": lambda w, s, col: dict(PAGE),
    "tenant.update": lambda w, s, col: dict(without_version(w.env.c.ok("tenant.get", {"id": s.tenant_id},
                                                                       token=w.env.sys_token)), city="Updated"),
    "user.activationLink": lambda w, s, col: {"id": s.pending.user_id},
    "user.activationLinkInfo": lambda w, s, col: {"id": s.pending.user_id},
    "user.create": lambda w, s, col: {"email": unique_email("new-" + s.marker), "authority": "CUSTOMER_USER",
                                      "customerId": s.cust_id},
    "user.delete": lambda w, s, col: {"id": s.fresh_pending().user_id},
    "user.get": lambda w, s, col: {"id": s.cu.user_id},
    "user.list": lambda w, s, col: dict(PAGE, tenantId=s.tenant_id),
    "user.sendActivationMail": lambda w, s, col: {"email": s.pending.email},
    "user.setEnabled": lambda w, s, col: {"id": s.fresh_pending().user_id, "enabled": False},
    "user.update": lambda w, s, col: dict(without_version(s.cu.user), firstName="Renamed " + s.marker),
    "user.token": lambda w, s, col: {"userId": s.cu.user_id},
}

UNKNOWN = "00000000-0000-4000-8000-00000000abcd"


def import_job(w, s):
    """The id of an import job of the side's administrator (one per side): more rows than run in a request."""
    if not hasattr(s, "import_job_id"):
        rows = [{"title": unique("Matrix job " + s.marker)} for _ in range(51)]
        s.import_job_id = w.env.c.ok("import.run", {"entityType": "CUSTOMER", "rows": rows},
                                     token=s.admin.token)["jobId"]
    return s.import_job_id


def running_import_job(w, s):
    """A fresh import job of the side's administrator, still running when cancelled at once: 5000 rows
    (each failing fast, no title) take the writer some hundreds of milliseconds."""
    return w.env.c.ok("import.run", {"entityType": "CUSTOMER", "rows": [{}] * 5000},
                      token=s.admin.token)["jobId"]


def peer(w, s):
    """Another activated customer user of the side's customer (fresh)."""
    return make_customer_user(w.env.c, s.admin.token, s.cust_id, email=unique_email("peer-" + s.marker)).user


def second_admin(w, s):
    """A second, activated tenant administrator of the side's tenant (fresh)."""
    return make_tenant_admin(w.env.c, w.env.sys_token, tenant_id=s.tenant_id, email=unique_email(s.marker)).user_id


DATA.update({
    "customer.get: unknown id": lambda w, s, col: {"id": UNKNOWN},
    "customer.delete: unknown": lambda w, s, col: {"id": UNKNOWN},
    "user.get: tenant admin": lambda w, s, col: {"id": s.admin.user_id},
    "user.get: sysadmin": lambda w, s, col: {"id": w.sys_user_id},
    "user.get: unknown id": lambda w, s, col: {"id": UNKNOWN},
    "user.update: same-customer peer": lambda w, s, col: dict(without_version(peer(w, s)), firstName="Peer"),
    "user.delete: unknown id": lambda w, s, col: {"id": UNKNOWN},
    "user.setEnabled: tenant admin": lambda w, s, col: {"id": second_admin(w, s), "enabled": False},
    "user.token: tenant admin": lambda w, s, col: {"userId": s.admin.user_id},
    "user.token: sysadmin": lambda w, s, col: {"userId": w.sys_user_id},
    "user.token: unknown id": lambda w, s, col: {"userId": UNKNOWN},
    "customer.users: unknown customer": lambda w, s, col: dict(PAGE, customerId=UNKNOWN),
})

def fresh_entity(w, s, kind, assigned=False):
    """A new device, asset or edge of the side's tenant, assigned to its customer when asked."""
    d = {"name": unique("Matrix %s %s" % (kind, s.marker))}
    if assigned:
        d["customerId"] = s.cust_id
    return eid(w.env.c.ok(kind + ".create", d, token=s.admin.token)["id"])


def fresh_dashboard(w, s, assigned=False):
    d = eid(w.env.c.ok("dashboard.create", {"title": unique("Matrix dashboard " + s.marker)},
                       token=s.admin.token)["id"])
    if assigned:
        w.env.c.ok("dashboard.assign", {"id": d, "customerId": s.cust_id}, token=s.admin.token)
    return d


for _kind in ("device", "asset", "edge"):
    DATA.update({
        _kind + ".assign": lambda w, s, col, k=_kind: {"id": fresh_entity(w, s, k), "customerId": s.cust_id},
        _kind + ".create": lambda w, s, col, k=_kind: {"name": unique("Matrix new " + k)},
        _kind + ".delete": lambda w, s, col, k=_kind: {"id": fresh_entity(w, s, k)},
        _kind + ".get": lambda w, s, col, k=_kind: {"id": fresh_entity(w, s, k, assigned=True)},
        _kind + ".list": lambda w, s, col, k=_kind: dict(PAGE),
        _kind + ".makePublic": lambda w, s, col, k=_kind: {"id": fresh_entity(w, s, k)},
        _kind + ".unassign": lambda w, s, col, k=_kind: {"id": fresh_entity(w, s, k, assigned=True)},
        _kind + ".update": lambda w, s, col, k=_kind: dict(
            without_version(w.env.c.ok(k + ".get", {"id": fresh_entity(w, s, k)}, token=s.admin.token)),
            label="Updated"),
    })
    DATA["customer.%ss" % _kind] = lambda w, s, col: dict(PAGE, customerId=s.cust_id)

DATA.update({
    "customer.dashboards": lambda w, s, col: dict(PAGE, customerId=s.cust_id),
    "batch": lambda w, s, col: {"atomic": False, "commands": [{"op": "customer.list", "data": dict(PAGE)}]},
    "dashboard.addCustomers": lambda w, s, col: {"id": fresh_dashboard(w, s), "customerIds": [s.cust_id]},
    "dashboard.assign": lambda w, s, col: {"id": fresh_dashboard(w, s), "customerId": s.cust_id},
    "dashboard.create": lambda w, s, col: {"title": unique("Matrix new dashboard")},
    "dashboard.delete": lambda w, s, col: {"id": fresh_dashboard(w, s)},
    "dashboard.get": lambda w, s, col: {"id": fresh_dashboard(w, s, assigned=True)},
    "dashboard.home": lambda w, s, col: None,
    "dashboard.list": lambda w, s, col: dict(PAGE),
    "dashboard.makePrivate": lambda w, s, col: {"id": fresh_dashboard(w, s)},
    "dashboard.makePublic": lambda w, s, col: {"id": fresh_dashboard(w, s)},
    "dashboard.removeCustomers": lambda w, s, col: {"id": fresh_dashboard(w, s, assigned=True),
                                                    "customerIds": [s.cust_id]},
    "dashboard.setCustomers": lambda w, s, col: {"id": fresh_dashboard(w, s), "customerIds": [s.cust_id]},
    "dashboard.unassign": lambda w, s, col: {"id": fresh_dashboard(w, s, assigned=True), "customerId": s.cust_id},
    "dashboard.update": lambda w, s, col: {"id": fresh_dashboard(w, s), "title": unique("Renamed " + s.marker)},
    "device.get: unassigned": lambda w, s, col: {"id": fresh_entity(w, s, "device")},
    "dashboard.get: unassigned": lambda w, s, col: {"id": fresh_dashboard(w, s)},
})


FRESH_TOKEN = {"auth.logout"}  # the operation consumes the caller's token


def test_matrix_covers_every_operation(env):
    ops = {o["name"] for o in env.c.ok("agent.ops", token=env.sys_token)["ops"]}
    rows = {name.split(":")[0] for name, _ in MATRIX}
    check(ops == rows, "the matrix and the operation table differ: missing %s, unknown %s"
          % (sorted(ops - rows), sorted(rows - ops)))
    names = {name for name, _ in MATRIX}
    check(names == set(DATA), "every row has its data", sorted(names ^ set(DATA)))


def test_permission_matrix(env):
    c = env.c
    w = World(env)
    mismatches, leaks, lines = [], [], []
    for name, expected_text in MATRIX:
        op = name.split(":")[0]
        expected = [int(x) for x in expected_text.split()]
        got_row = []
        for col, want in zip(COLUMNS, expected):
            data = DATA[name](w, w.side(col), col)
            token = w.token(col, fresh=op in FRESH_TOKEN)
            r = c.request(op, data, token=token)
            got = r.get("status")
            got_row.append(str(got))
            if got != want:
                mismatches.append("%s as %s: %s, expected %s: %s" % (name, col, got, want, r.get("message")))
            # CU@B is tenant A's customer user: what names its own account (the otpauth:// label of
            # its e-mail) is its own data, not tenant A's leaking
            own = json.dumps(r.get("data")).replace(w.A.cu.email, "") if col == "CU@B" and op in OWN_DATA \
                else json.dumps(r.get("data"))
            if col in ("TB", "CU@B", "DIS", "REV", "NONE") and MARKER_A in own:
                leaks.append("%s as %s returned tenant A's data: %s" % (name, col, json.dumps(r.get("data"))[:300]))
        lines.append("    %-34s %s" % (name, "  ".join("%-4s" % g for g in got_row)))
    print("    %-34s %s" % ("", "  ".join("%-4s" % h for h in COLUMNS)))
    print("\n".join(lines))
    check(not mismatches and not leaks, "%d cells differ from ThingsBoard CE, %d leaks:\n%s"
          % (len(mismatches), len(leaks), "\n".join(mismatches + leaks)))


if __name__ == "__main__":
    run_tests(globals(), lambda: Env(smtp=True))
