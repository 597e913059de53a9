# bash completion for cmctl: commands, groups, verbs, options and operation names, all asked from
# cmctl itself (cmctl __complete WORDS...), so that they follow the installed version.
_cmctl()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=""
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    case "$prev" in
        --cafile|--certfile|--keyfile|--config)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0 ;;
        --broker|--prefix|--profile|-p|--token|--timeout|--request-id|--broker-username|--broker-password)
            COMPREPLY=()
            return 0 ;;
    esac
    local cmd=${COMP_WORDS[0]}
    local words
    words=$("$cmd" __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null) || return 0
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    return 0
}
complete -F _cmctl cmctl
