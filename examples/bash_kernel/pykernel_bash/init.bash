# The kernel's side inside the user's bash; sourced once when bash starts.
#
# How the kernel drives this shell (see pykernel/wrapper/repl/ for the channels):
# - bash is interactive (-i), so an interrupt ends the whole cell, loops and functions included, and
#   the shell lives on. Its own stdout and stderr are /dev/null, so prompts and its chatter between
#   cells go nowhere; fds 61 and 62 are the kernel's stdout and stderr pipes, lent to each cell only.
# - Records go to "$__pk_d/ctl" (printf '%s\0' COUNT FIELD...), answers come back on "$__pk_d/ack",
#   a cell's stdin is the FIFO "$__pk_d/in", and the cell's code is in the file "$__pk_d/cell".
# - A cell runs at top level (in a function, `declare` would make locals) as two lines:
#     \__pk_pre TOKEN E && :; \builtin eval "$__pk_code" <"$__pk_d/in" >&61 2>&62 61>&- 62>&-; \__pk_done $? TOKEN && :
#     \__pk_done $? TOKEN && :
#   The second line reports the end when an interrupt (or `set -e`, see __pk_errexit) cut the first
#   one short; the first report of a token wins. `&& :` keeps the user's `set -e` away from these
#   calls (a function called there never triggers it) and keeps `$?` as the function returns it.
#   A backslash keeps aliases off our names.
# - Names starting with __pk_ are the kernel's. For users: `display`, and `read`, which wraps the
#   builtin to tell the kernel the prompt of a read from the frontend (bash shows -p prompts on
#   terminals only).

__pk_rec() {  # __pk_rec KIND FIELD...: one record to the kernel
    builtin printf '%s\0' "$#" "$@" >"$__pk_d/ctl"
}

__pk_pre() {  # __pk_pre TOKEN CONTAIN: before a cell; returns the last cell's status as $?
    __pk_tok=$1
    __pk_code=" $(<"$__pk_d/cell")"
    if [[ $2 == 1 || $- == *e* ]]; then __pk_contain; fi
    __pk_prompts_on
    __pk_rec started "$1"
    return "$__pk_last"
}

__pk_done() {  # __pk_done STATUS TOKEN: after a cell; returns STATUS
    local o=$- s=$1
    [[ $2 == "${__pk_tok-}" ]] || return "$s"
    __pk_tok=
    if [[ -n ${__pk_estat-} ]]; then s=$__pk_estat; __pk_estat=; fi
    if [[ -n ${__pk_trap-} && $o != *e* ]]; then __pk_release; fi
    __pk_prompts_off
    builtin unset -v __pk_code
    __pk_last=$s
    __pk_rec done "$2" "$s" "$o"
    return "$s"
}

# `set -e` in an interactive shell ends the shell at the first failure. While it is on, an ERR trap
# (inherited by functions through `set -E`) interrupts the shell instead, which ends the cell only.
# A user's own ERR trap is left alone: then bash does exit, and the kernel starts a new one.
__pk_contain() {
    [[ -z ${__pk_trap-} && -z $(builtin trap -p ERR) ]] || return 0
    __pk_trap=1
    if [[ $- != *E* ]]; then __pk_trap=2; builtin set -E; fi
    builtin trap '__pk_errexit' ERR
}

__pk_release() {
    builtin trap - ERR
    if [[ $__pk_trap == 2 ]]; then builtin set +E; fi
    __pk_trap=
}

__pk_errexit() {
    local s=$?
    [[ $- == *e* && $BASHPID == "$$" ]] || return "$s"
    __pk_estat=$s
    builtin kill -INT "$$" && :  # (a list: bash acts on the signal before it returns)
}

# Prompts are never seen (the shell's stderr is /dev/null), but expanding them and running
# PROMPT_COMMAND costs time between cells: they are set aside there and put back for each cell.
__pk_prompts_off() {
    if [[ -v PS1 ]]; then __pk_ps1=$PS1; builtin unset -v PS1; else builtin unset -v __pk_ps1; fi
    if [[ -v PS0 ]]; then __pk_ps0=$PS0; builtin unset -v PS0; else builtin unset -v __pk_ps0; fi
    if [[ -v PROMPT_COMMAND ]]; then
        __pk_pc=("${PROMPT_COMMAND[@]}")
        builtin unset -v PROMPT_COMMAND
    else
        builtin unset -v __pk_pc
    fi
}

__pk_prompts_on() {
    if [[ -v __pk_ps1 ]]; then PS1=$__pk_ps1; fi
    if [[ -v __pk_ps0 ]]; then PS0=$__pk_ps0; fi
    if [[ -v __pk_pc ]]; then
        if (( ${#__pk_pc[@]} == 1 )); then PROMPT_COMMAND=${__pk_pc[0]}; else PROMPT_COMMAND=("${__pk_pc[@]}"); fi
    fi
}

__pk_ready() {  # __pk_ready TOKEN: the end of start-up
    builtin unset -v HISTFILE  # never write the user's ~/.bash_history from here
    builtin set +o history +o histexpand
    __pk_last=0 __pk_tok= __pk_estat= __pk_trap=
    __pk_prompts_off
    __pk_rec done "$1" 0 "$BASH_VERSION"
}

__pk_query() {  # __pk_query TOKEN KIND WORD: facts for completion and inspection, in $__pk_d/q
    builtin local -
    builtin set +eu
    case $2 in
        commands) builtin compgen -c -- "$3" ;;
        files) builtin compgen -d -- "$3"; builtin printf '\0\n'; builtin compgen -f -- "$3" ;;
        variables) builtin compgen -v -- "$3" ;;
        users) builtin compgen -u -- "$3" ;;
        type) builtin type -t -- "$3" ;;
        describe) builtin type -a -- "$3" ;;
        help) builtin help -- "$3" ;;
        variable) builtin declare -p -- "$3" ;;
        cwd) builtin printf '%s' "$PWD" ;;
    esac >|"$__pk_d/q" 2>&1
    __pk_rec done "$1" "$?"
}

read() {  # the read builtin; tells the kernel the prompt when it reads the kernel's stdin
    if [[ /dev/stdin -ef ${__pk_d-}/in || $* == *-*u* ]]; then __pk_read_hint "$@"; fi
    builtin read "$@"
}

__pk_read_hint() {
    builtin local -
    builtin set +eu
    local OPTIND=1 OPTARG o p= s=0 fd=0
    while builtin getopts ':a:d:ei:n:N:p:rst:u:' o; do
        case $o in
            p) p=$OPTARG ;;
            s) s=1 ;;
            u) fd=$OPTARG ;;
            t) [[ $OPTARG == 0 ]] && return 0 ;;
        esac
    done
    if [[ /dev/fd/$fd -ef $__pk_d/in ]]; then __pk_rec read "$p" "$s"; fi
    return 0
}

display() {  # display [--mime TYPE] [--id ID [--update]] [FILE...]: show files or stdin here
    builtin local -
    builtin set +eu
    local mime= id= update=0 f tmp
    while (( $# )); do
        case $1 in
            -m|--mime) [[ $# -ge 2 ]] || { __pk_display_usage; return 2; }; mime=$2; shift 2 ;;
            --mime=*) mime=${1#*=}; shift ;;
            -i|--id) [[ $# -ge 2 ]] || { __pk_display_usage; return 2; }; id=$2; shift 2 ;;
            --id=*) id=${1#*=}; shift ;;
            -u|--update) update=1; shift ;;
            -h|--help) __pk_display_usage; return 0 ;;
            --) shift; break ;;
            -) break ;;
            -*) builtin printf 'display: unknown option %s\n' "$1" >&2; __pk_display_usage; return 2 ;;
            *) break ;;
        esac
    done
    if (( update )) && [[ -z $id ]]; then
        builtin printf 'display: --update needs --id ID\n' >&2
        return 2
    fi
    if (( $# == 0 )) || [[ $1 == - ]]; then
        tmp=$__pk_d/display.$BASHPID.$RANDOM$RANDOM
        command cat >|"$tmp" || return 1
        __pk_display "$mime" "$id" "$update" "$tmp" 1
        return
    fi
    for f; do
        [[ $f == /* ]] || f=$PWD/$f
        __pk_display "$mime" "$id" "$update" "$f" 0 || return
    done
}

__pk_display() {  # one record; waits for the kernel's answer, so output stays in order
    local nonce=$BASHPID.$RANDOM$RANDOM line
    __pk_rec display "$nonce" "$@" || return 1
    while IFS= builtin read -r -t 10 line <"$__pk_d/ack"; do
        [[ $line == "$nonce "* ]] || continue
        line=${line#"$nonce "}
        [[ $line == ok ]] && return 0
        builtin printf 'display: %s\n' "$line" >&2
        return 1
    done
    builtin printf 'display: no answer from the kernel\n' >&2
    return 1
}

__pk_display_usage() {
    builtin printf '%s\n' \
        'usage: display [--mime TYPE] [--id ID [--update]] [FILE...]' \
        '  Show files in the notebook: PNG, JPEG, GIF, SVG, HTML, Markdown, JSON, PDF, text.' \
        '  With no FILE (or -), show what comes on stdin: cat plot.svg | display' \
        '  --mime TYPE  the MIME type, when the name or content does not tell it' \
        '  --id ID      name the output; --update replaces what was shown under that name'
}
