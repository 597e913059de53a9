# conf2man.awk: cmagent.conf(5) from config/cmagent.conf.example, so that the manual lists every
# key, its default and its description exactly as the example does.
# usage: awk -v version=X -f conf2man.awk config/cmagent.conf.example > cmagent.conf.5
function esc(s) {
    gsub(/\\/, "\\e", s)
    if (s ~ /^[.']/) s = "\\&" s
    return s
}
function flush_note() {
    if (note != "") { print ".PP"; printf "%s", note; note = "" }
}
BEGIN {
    print ".\\\" Generated from config/cmagent.conf.example by man/conf2man.awk; edit those instead."
    print ".TH CMAGENT.CONF 5 \"\" \"cmagent " version "\" \"File Formats\""
    print ".SH NAME"
    print "cmagent.conf \\- configuration file of cmagent"
    print ".SH SYNOPSIS"
    print ".I /etc/cmagent/cmagent.conf"
    print ".SH DESCRIPTION"
    print "The configuration of"
    print ".BR cmagent (8),"
    print "read from the file given with"
    print ".BR \"\\-c FILE\" ."
    print "One setting a line: a key, blanks, and the value up to the end of the line"
    print "(an empty value is allowed for string keys)."
    print "Lines starting with \\fB#\\fR are comments; blank lines are ignored."
    print "An unknown key or a bad value stops the start with a message naming the line."
    print "A key left out keeps its default;"
    print ".B cmagent \\-\\-defaults"
    print "prints every key with its default."
    print ".PP"
    print "The file may hold secrets (\\fBsysadmin_password\\fR, \\fBpassword\\fR, \\fBsmtp_password\\fR):"
    print "keep it readable by root only; the systemd unit hands it to the service as a credential."
    print ".SH SETTINGS"
    started = 0; text = ""; note = ""
}
/^# ---- .* ----$/ {
    started = 1
    flush_note(); text = ""
    t = $0; sub(/^# ---- /, "", t); sub(/ ----$/, "", t)
    print ".SS " esc(t)
    next
}
!started { next }
/^#[a-z_]/ {
    key = substr($1, 2)
    def = $0; sub(/^#[a-z_0-9]+[ ]?/, "", def)
    print ".TP"
    if (def == "") print "\\fB" key "\\fR (empty)"
    else print "\\fB" key "\\fR " esc(def)
    printf "%s", text
    text = ""; note = ""
    next
}
/^#( |$)/ {
    l = $0; sub(/^# ?/, "", l)
    text = text esc(l) "\n"
    next
}
/^[ \t]*$/ {
    if (text != "") { note = text; text = ""; flush_note() }
    next
}
END {
    if (text != "") { note = text; flush_note() }
    print ".SH FILES"
    print ".TP"
    print ".I /etc/cmagent/cmagent.conf"
    print "the configuration the systemd unit \\fBcmagent.service\\fR starts the agent with"
    print ".TP"
    print ".I /usr/share/doc/cmagent/cmagent.conf.example"
    print "every key with its default, commented out (the source of this page)"
    print ".SH SEE ALSO"
    print ".BR cmagent (8),"
    print ".BR cmctl (1),"
    print ".BR mosquitto.conf (5)"
}
